"""Warrants (SPEC §5.6): vesting on dates, lease-back paid and share prices; splits; exercise.

The state is always that after every earlier line of the log, whatever the dates on those
lines. Share counts are integers rounded down; prices and the strike in force are exact
fractions, since a split divides them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from engine.calendar import add_days, add_days_or_none
from engine.documents.model import AllOf, AnyOf, LeaseBackTotalAtLeast, OnOrAfter, VwapAtLeast
from engine.events.model import Exercise, SharePrice, StockSplit
from engine.numbers import EXACT, decimal_text, round_fraction

from engine.rejection_codes import Code
from engine.replay.rejected import Rejected, past_the_calendar
from engine.replay.terms import AgreementTerms


class AgreementLedger(Protocol):
    """What warrants need of their agreement's replay: its terms, the lease-back issued so
    far, and the one way to write an entry into its chain."""

    terms: AgreementTerms
    issued: Decimal

    def money(self, amount: Decimal) -> str: ...

    def issue(self, **fields) -> object: ...


APPROXIMATION_PLACES = 6


def fraction_text(value: Fraction) -> str:
    """An exact fraction as text: a plain decimal when it terminates, else `p/q ≈ d`.

    The approximation is only for the reader of an audit; the exact `p/q` is what was used.
    """
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        approximation = round_fraction(value, APPROXIMATION_PLACES, "half_even")
        return f"{value.numerator}/{value.denominator} ≈ {approximation:f}"
    return decimal_text(EXACT.divide(Decimal(value.numerator), Decimal(value.denominator)))


@dataclass(slots=True)
class TrancheState:
    vested: bool
    remaining: int


@dataclass(frozen=True, slots=True)
class Observation:
    """A share price as recorded, with the split factor in force when it was applied."""

    date: date
    price: Decimal
    volume: Decimal
    factor: Fraction


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a condition holds as of a date, and the numbers that decided it.

    `windows` names, per `vwap_at_least` leaf (by its path under the tranche's `vests`), the
    observations that leaf averaged, so an audit can find the window used.
    """

    holds: bool
    because: str
    windows: tuple[tuple[str, str], ...] = ()


def _relation(holds: bool) -> str:
    return "≥" if holds else "<"


def _observations(count: int) -> str:
    return f"{count} observation" if count == 1 else f"{count} observations"


def _combined(word: str, holds: bool, verdicts: list[Verdict]) -> Verdict:
    outcome = "holds" if holds else "does not hold"
    because = f"{word} of [" + "; ".join(v.because for v in verdicts) + f"] {outcome}"
    return Verdict(holds, because, tuple(window for v in verdicts for window in v.windows))


class WarrantBook:
    """One agreement's tranches, observations and split factor."""

    def __init__(self, replay: AgreementLedger) -> None:
        self.replay = replay
        warrants = replay.terms.first.warrants
        self.strike = Fraction(warrants.strike)
        self.expires = warrants.expires
        self.tranches = {tranche.id: TrancheState(False, tranche.shares) for tranche in warrants.tranches}
        self.observations: list[Observation] = []
        self.observation_dates: list[date] = []
        self.factor = Fraction(1)

    def state(self) -> tuple:
        """What a line may change, to put back with `restore` (observations only grow)."""
        tranches = [(state, state.vested, state.remaining) for state in self.tranches.values()]
        return tranches, len(self.observations), self.factor

    def restore(self, state: tuple) -> None:
        """Put back what `state` kept, in place."""
        tranches, observed, self.factor = state
        for tranche, vested, remaining in tranches:
            tranche.vested, tranche.remaining = vested, remaining
        del self.observations[observed:]
        del self.observation_dates[observed:]

    @property
    def strike_in_force(self) -> Fraction:
        return self.strike / self.factor

    # ---- conditions ----------------------------------------------------------------------

    def evaluate(self, condition, on: date, path: str = "vests") -> Verdict:
        """Evaluate a vesting condition as of `on` against the current state."""
        if isinstance(condition, OnOrAfter):
            holds = on >= condition.on_or_after
            day = condition.on_or_after
            return Verdict(holds, f"on_or_after {day}: {on} {_relation(holds)} {day}")
        if isinstance(condition, LeaseBackTotalAtLeast):
            issued = self.replay.issued
            required = condition.lease_back_total_at_least
            holds = issued >= required
            return Verdict(
                holds,
                f"lease_back_total_at_least {decimal_text(required)}: lease-back issued so far "
                f"{self.replay.money(issued)} {_relation(holds)} {decimal_text(required)}",
            )
        if isinstance(condition, VwapAtLeast):
            return self._vwap_verdict(condition, on, path)
        if isinstance(condition, AllOf):
            verdicts = [self.evaluate(part, on, f"{path}.all[{i}]") for i, part in enumerate(condition.all)]
            return _combined("all", all(v.holds for v in verdicts), verdicts)
        if isinstance(condition, AnyOf):
            verdicts = [self.evaluate(part, on, f"{path}.any[{i}]") for i, part in enumerate(condition.any)]
            return _combined("any", any(v.holds for v in verdicts), verdicts)
        raise TypeError(f"unknown condition {condition!r}")

    def _vwap_verdict(self, condition: VwapAtLeast, on: date, path: str) -> Verdict:
        end = bisect.bisect_right(self.observation_dates, on)
        window = self.observations[max(0, end - condition.days) : end]
        required = decimal_text(condition.vwap_at_least)
        name = f"vwap_at_least {required} over {_observations(condition.days)}"
        if len(window) < condition.days:
            found = f"only {_observations(len(window))} dated on or before {on}, {condition.days} needed"
            return Verdict(False, f"{name}: {found}", ((path, found),))
        threshold = Fraction(condition.vwap_at_least) / self.factor
        value = Fraction(0)
        volume = Fraction(0)
        for observation in window:
            # Split after the observation: price ÷ r, volume × r, so price × volume is unchanged.
            ratio = self.factor / observation.factor
            value += Fraction(observation.price) * Fraction(observation.volume)
            volume += Fraction(observation.volume) * ratio
        vwap = value / volume
        holds = vwap >= threshold
        if self.factor == 1:
            threshold_text = required
        else:
            threshold_text = f"{required} ÷ split factor {fraction_text(self.factor)} = {fraction_text(threshold)}"
        used = f"{window[0].date}..{window[-1].date} ({_observations(len(window))}, split-adjusted)"
        because = f"{name}: VWAP of {used} = {fraction_text(vwap)} {_relation(holds)} {threshold_text}"
        return Verdict(holds, because, ((path, used),))

    def _inputs_of(self, verdict: Verdict, on: date) -> dict[str, str]:
        """What decided a vesting: the condition, the date and each VWAP window used."""
        inputs = {"condition": verdict.because, "evaluated_on": on.isoformat()}
        for path, window in verdict.windows:
            inputs["vwap_window" if path == "vests" else f"vwap_window {path}"] = window
        return inputs

    # ---- vesting -------------------------------------------------------------------------

    def due_to_vest(self, on: date, version) -> list[tuple[int, object, Verdict]]:
        """Tranches that vest as of `on`, in the deciding version's document order (no state change)."""
        if on >= self.expires:
            return []
        vesting = []
        for index, tranche in enumerate(version.document.warrants.tranches):
            if self.tranches[tranche.id].vested:
                continue
            verdict = self.evaluate(tranche.vests, on)
            if verdict.holds:
                vesting.append((index, tranche, verdict))
        return vesting

    def vest(self, on: date, version, causes: list[str], vesting=None) -> None:
        """Vest every tranche whose condition holds as of `on`, writing `warrant_vested` entries."""
        for index, tranche, verdict in self.due_to_vest(on, version) if vesting is None else vesting:
            state = self.tranches[tranche.id]
            state.vested = True
            if state.remaining == 0:
                continue  # reverse splits left nothing to vest: no entry
            self._issue(
                "warrant_vested", f"warrants/{tranche.id}/vested", tranche.id, version, on, None, state.remaining,
                f"warrants.tranches[{index}].vests", "the tranche's remaining shares vest once its condition holds",
                {**self._inputs_of(verdict, on), "tranche": tranche.id, "tranche_shares": str(tranche.shares),
                 "remaining_shares": str(state.remaining), "split_factor": fraction_text(self.factor)},
                causes,
            )

    # ---- events ----------------------------------------------------------------------------

    def apply(self, event) -> None:
        if isinstance(event, SharePrice):
            self.share_price(event)
        elif isinstance(event, StockSplit):
            self.split(event)
        elif isinstance(event, Exercise):
            self.exercise(event)
        else:
            raise TypeError(f"not a warrant event: {event!r}")

    def share_price(self, event: SharePrice) -> None:

        if self.observation_dates and event.date <= self.observation_dates[-1]:
            raise Rejected(
                f"share prices must have strictly increasing dates: {event.date} is not after {self.observation_dates[-1]}",
                code=Code.ORDER,
            )
        self.observations.append(Observation(event.date, event.price, event.volume, self.factor))
        self.observation_dates.append(event.date)
        self.vest(event.date, self.replay.terms.version_for_date(event.date), [event.id])

    def split(self, event: StockSplit) -> None:
        version = self.replay.terms.version_for_date(event.date)
        ratio = Fraction(event.numerator, event.denominator)
        factors = {"split_factor_before": fraction_text(self.factor),
                   "split_factor_after": fraction_text(self.factor * ratio),
                   "strike_in_force_after": fraction_text(self.strike / (self.factor * ratio))}
        for index, tranche in enumerate(version.document.warrants.tranches):
            state = self.tranches[tranche.id]
            before = state.remaining
            state.remaining = before * event.numerator // event.denominator
            if state.vested and state.remaining != before:
                self._issue(
                    "split_adjustment", f"warrants/{tranche.id}/split/{event.id}", tranche.id, version, event.date,
                    None, state.remaining - before, f"warrants.tranches[{index}].shares",
                    "floor(remaining × numerator / denominator) − remaining",
                    {"tranche": tranche.id, "remaining_before": str(before), "remaining_after": str(state.remaining),
                     "numerator": str(event.numerator), "denominator": str(event.denominator), **factors},
                    [event.id],
                )
        self.factor *= ratio

    def exercise(self, event: Exercise) -> None:
        """Vest as of the date, check the exercise, then settle it; a rejection undoes nothing because nothing was done."""

        version = self.replay.terms.version_for_date(event.date)
        if event.date >= self.expires:
            raise Rejected(
                f"exercise dated {event.date} is on or after the warrants' expiry {self.expires}, "
                "the first day on which no exercise is possible", code=Code.WARRANT,
            )
        vesting = self.due_to_vest(event.date, version)
        state = self.tranches.get(event.tranche)
        if state is None:
            raise Rejected(f"unknown tranche {event.tranche!r} (tranches: {', '.join(self.tranches)})",
                           code=Code.UNKNOWN_REFERENCE)
        vesting_now = {tranche.id for _, tranche, _ in vesting}
        if not state.vested and event.tranche not in vesting_now:
            index, tranche = self._tranche_in(version, event.tranche)
            verdict = self.evaluate(tranche.vests, event.date)
            raise Rejected(
                f"tranche {event.tranche} has not vested as of {event.date}: its condition "
                f"(warrants.tranches[{index}].vests, version {version.number}) does not hold: {verdict.because}",
                code=Code.WARRANT,
            )
        if event.shares > state.remaining:
            raise Rejected(
                f"exercise of {event.shares} shares exceeds the {state.remaining} shares remaining "
                f"(unexercised) in tranche {event.tranche}", code=Code.WARRANT,
            )
        strike = self.strike_in_force
        if event.method == "net":
            value = Fraction(event.fair_market_value)
            if value <= strike:
                raise Rejected(
                    f"net exercise needs a fair market value above the strike in force {fraction_text(strike)} "
                    f"(strike {fraction_text(self.strike)} ÷ split factor {fraction_text(self.factor)}); "
                    f"got {decimal_text(event.fair_market_value)}", code=Code.WARRANT,
                )
            net = event.shares * (value - strike) / value
            if net < 1:
                raise Rejected(
                    f"net exercise of {event.shares} shares at fair market value "
                    f"{decimal_text(event.fair_market_value)} gives {fraction_text(net)} shares "
                    f"(shares × (value − strike in force {fraction_text(strike)}) / value), "
                    "so the net share count floor(…) is 0", code=Code.WARRANT,
                )
        days = version.document.settlement.payment_terms_days
        if add_days_or_none(event.date, days) is None and self._cash_due(event, strike, net if event.method == "net" else None):
            raise past_the_calendar(f"exercise dated {event.date} would write a cash entry due {days} days later")
        self.vest(event.date, version, [event.id], vesting)
        if event.method == "cash":
            self._settle_cash(event, version, strike, state.remaining)
        else:
            self._settle_net(event, version, strike, net, state.remaining)
        state.remaining -= event.shares

    def _cash_due(self, event: Exercise, strike: Fraction, net: Fraction | None) -> bool:
        """Whether the exercise writes a cash entry (which has a due date): an exercise price,
        or cash in lieu of a fraction of a share, that does not round to 0."""
        places, mode = self.replay.terms.places, self.replay.terms.mode
        if net is None:
            return not round_fraction(event.shares * strike, places, mode).is_zero()
        fraction = net - net.numerator // net.denominator
        return bool(fraction) and not round_fraction(fraction * Fraction(event.fair_market_value), places, mode).is_zero()

    @staticmethod
    def _tranche_in(version, tranche_id: str):
        """(index, tranche) of a tranche in a version's document order."""
        for index, tranche in enumerate(version.document.warrants.tranches):
            if tranche.id == tranche_id:
                return index, tranche
        raise KeyError(tranche_id)  # tranche ids are the same in every version (SPEC §3)

    def _settle_cash(self, event: Exercise, version, strike: Fraction, remaining: int) -> None:
        replay = self.replay
        price = round_fraction(event.shares * strike, replay.terms.places, replay.terms.mode)
        index, _ = self._tranche_in(version, event.tranche)
        inputs = {"tranche": event.tranche, "shares": str(event.shares), "remaining_before": str(remaining),
                  "strike": fraction_text(self.strike), "split_factor": fraction_text(self.factor),
                  "strike_in_force": fraction_text(strike)}
        if not price.is_zero():  # only then is a due date needed: it may lie past the calendar otherwise
            due = add_days(event.date, version.document.settlement.payment_terms_days)
            self._issue(
                "exercise_price", f"warrants/{event.tranche}/exercise/{event.id}/price", event.tranche, version,
                event.date, due, price, "warrants.strike", "round(shares × strike / split factor)", inputs,
                [event.id], debtor=replay.terms.guarantor, creditor=replay.terms.provider,
            )
        self._issue(
            "share_delivery", f"warrants/{event.tranche}/exercise/{event.id}/shares", event.tranche, version,
            event.date, event.date, event.shares, f"warrants.tranches[{index}]", "the shares exercised for cash",
            inputs, [event.id],
        )

    def _settle_net(self, event: Exercise, version, strike: Fraction, net: Fraction, remaining: int) -> None:
        replay = self.replay
        whole = net.numerator // net.denominator
        value = Fraction(event.fair_market_value)
        inputs = {"tranche": event.tranche, "shares": str(event.shares), "remaining_before": str(remaining),
                  "fair_market_value": decimal_text(event.fair_market_value), "strike": fraction_text(self.strike),
                  "split_factor": fraction_text(self.factor), "strike_in_force": fraction_text(strike),
                  "net_shares": fraction_text(net), "whole_shares": str(whole),
                  "fraction_of_a_share": fraction_text(net - whole)}
        self._issue(
            "share_delivery", f"warrants/{event.tranche}/exercise/{event.id}/shares", event.tranche, version,
            event.date, event.date, whole, "warrants.strike",
            "floor(net shares), net shares = shares × (fair market value − strike in force) / fair market value",
            inputs, [event.id],
        )
        if net == whole:
            return
        cash = round_fraction((net - whole) * value, replay.terms.places, replay.terms.mode)
        if cash.is_zero():
            return
        due = add_days(event.date, version.document.settlement.payment_terms_days)
        self._issue(
            "cash_in_lieu", f"warrants/{event.tranche}/exercise/{event.id}/cash_in_lieu", event.tranche, version,
            event.date, due, cash, "warrants.strike",
            "round((net shares − floor(net shares)) × fair market value)", inputs, [event.id],
        )

    def _issue(self, kind, path, tranche, version, on, due, amount, rule, formula, inputs, causes,
               *, debtor=None, creditor=None) -> None:
        replay = self.replay
        replay.issue(
            kind=kind, entry_id=f"{replay.terms.id}/{path}", version=version, period=None, on=on, due=due,
            debtor=debtor or replay.terms.provider, creditor=creditor or replay.terms.guarantor, amount=amount,
            basis={"rule": rule, "formula": formula, "inputs": inputs}, events=list(causes),
            extra={"tranche": tranche},
        )
