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
from typing import TYPE_CHECKING

from engine.calendar import add_days
from engine.documents.model import AllOf, AnyOf, LeaseBackTotalAtLeast, OnOrAfter, VwapAtLeast
from engine.events.model import Exercise, SharePrice, StockSplit
from engine.numbers import EXACT, decimal_text, round_fraction

if TYPE_CHECKING:
    from engine.agreement_replay import AgreementReplay


def fraction_text(value: Fraction) -> str:
    """An exact fraction as text: a plain decimal when it terminates, else `p/q`."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
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
    """Whether a condition holds as of a date, and the numbers that decided it."""

    holds: bool
    because: str


class WarrantBook:
    """One agreement's tranches, observations and split factor."""

    def __init__(self, replay: AgreementReplay) -> None:
        self.replay = replay
        warrants = replay.terms.first.warrants
        self.strike = Fraction(warrants.strike)
        self.expires = warrants.expires
        self.tranches = {tranche.id: TrancheState(False, tranche.shares) for tranche in warrants.tranches}
        self.observations: list[Observation] = []
        self.observation_dates: list[date] = []
        self.factor = Fraction(1)

    @property
    def strike_in_force(self) -> Fraction:
        return self.strike / self.factor

    # ---- conditions ----------------------------------------------------------------------

    def evaluate(self, condition, on: date) -> Verdict:
        """Evaluate a vesting condition as of `on` against the current state."""
        if isinstance(condition, OnOrAfter):
            holds = on >= condition.on_or_after
            return Verdict(holds, f"{on} {'≥' if holds else '<'} {condition.on_or_after}")
        if isinstance(condition, LeaseBackTotalAtLeast):
            issued = self.replay.issued
            holds = issued >= condition.lease_back_total_at_least
            return Verdict(
                holds,
                f"lease-back issued {self.replay._money(issued)} {'≥' if holds else '<'} "
                f"{decimal_text(condition.lease_back_total_at_least)}",
            )
        if isinstance(condition, VwapAtLeast):
            return self._vwap_verdict(condition, on)
        if isinstance(condition, AllOf):
            verdicts = [self.evaluate(part, on) for part in condition.all]
            return Verdict(all(v.holds for v in verdicts), "all of (" + "; ".join(v.because for v in verdicts) + ")")
        if isinstance(condition, AnyOf):
            verdicts = [self.evaluate(part, on) for part in condition.any]
            return Verdict(any(v.holds for v in verdicts), "any of (" + "; ".join(v.because for v in verdicts) + ")")
        raise TypeError(f"unknown condition {condition!r}")

    def _vwap_verdict(self, condition: VwapAtLeast, on: date) -> Verdict:
        end = bisect.bisect_right(self.observation_dates, on)
        window = self.observations[max(0, end - condition.days) : end]
        threshold = Fraction(condition.vwap_at_least) / self.factor
        if len(window) < condition.days:
            return Verdict(
                False, f"{len(window)} of the {condition.days} share-price observations needed on or before {on}"
            )
        value = Fraction(0)
        volume = Fraction(0)
        for observation in window:
            # Split after the observation: price ÷ r, volume × r, so price × volume is unchanged.
            ratio = self.factor / observation.factor
            value += Fraction(observation.price) * Fraction(observation.volume)
            volume += Fraction(observation.volume) * ratio
        vwap = value / volume
        holds = vwap >= threshold
        return Verdict(
            holds,
            f"VWAP of {condition.days} observations {window[0].date}..{window[-1].date} = {fraction_text(vwap)} "
            f"{'≥' if holds else '<'} {decimal_text(condition.vwap_at_least)} / split factor {fraction_text(self.factor)}",
        )

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
                f"warrants.tranches[{index}].vests", "remaining shares of the tranche vest",
                {"condition": verdict.because, "remaining_shares": str(state.remaining),
                 "split_factor": fraction_text(self.factor)},
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
        from engine.agreement_replay import Rejected

        if self.observation_dates and event.date <= self.observation_dates[-1]:
            raise Rejected(
                f"share prices must have strictly increasing dates: {event.date} is not after {self.observation_dates[-1]}"
            )
        self.observations.append(Observation(event.date, event.price, event.volume, self.factor))
        self.observation_dates.append(event.date)
        self.vest(event.date, self.replay.terms.version_for_date(event.date), [event.id])

    def split(self, event: StockSplit) -> None:
        version = self.replay.terms.version_for_date(event.date)
        ratio = Fraction(event.numerator, event.denominator)
        for index, tranche in enumerate(version.document.warrants.tranches):
            state = self.tranches[tranche.id]
            before = state.remaining
            state.remaining = before * event.numerator // event.denominator
            if state.vested and state.remaining != before:
                self._issue(
                    "split_adjustment", f"warrants/{tranche.id}/split/{event.id}", tranche.id, version, event.date,
                    None, state.remaining - before, f"warrants.tranches[{index}].shares",
                    "floor(remaining × numerator / denominator) − remaining",
                    {"remaining_before": str(before), "remaining_after": str(state.remaining),
                     "numerator": str(event.numerator), "denominator": str(event.denominator)},
                    [event.id],
                )
        self.factor *= ratio

    def exercise(self, event: Exercise) -> None:
        """Vest as of the date, check the exercise, then settle it; a rejection undoes nothing because nothing was done."""
        from engine.agreement_replay import Rejected

        version = self.replay.terms.version_for_date(event.date)
        if event.date >= self.expires:
            raise Rejected(f"exercise dated {event.date} is on or after the warrants' expiry {self.expires}")
        vesting = self.due_to_vest(event.date, version)
        state = self.tranches.get(event.tranche)
        if state is None:
            raise Rejected(f"unknown tranche {event.tranche!r} (tranches: {', '.join(self.tranches)})")
        vesting_now = {tranche.id for _, tranche, _ in vesting}
        if not state.vested and event.tranche not in vesting_now:
            raise Rejected(f"tranche {event.tranche} has not vested as of {event.date}")
        if event.shares > state.remaining:
            raise Rejected(f"exercise of {event.shares} shares exceeds tranche {event.tranche}'s remaining {state.remaining}")
        strike = self.strike_in_force
        if event.method == "net":
            value = Fraction(event.fair_market_value)
            if value <= strike:
                raise Rejected(
                    f"net exercise needs a fair market value above the strike in force {fraction_text(strike)}; "
                    f"got {decimal_text(event.fair_market_value)}"
                )
            net = event.shares * (value - strike) / value
            if net < 1:
                raise Rejected(f"net exercise of {event.shares} shares at {decimal_text(event.fair_market_value)} delivers 0 shares")
        self.vest(event.date, version, [event.id], vesting)
        if event.method == "cash":
            self._settle_cash(event, version, strike)
        else:
            self._settle_net(event, version, strike, net)
        state.remaining -= event.shares

    def _settle_cash(self, event: Exercise, version, strike: Fraction) -> None:
        replay = self.replay
        price = round_fraction(event.shares * strike, replay.terms.places, replay.terms.mode)
        due = add_days(event.date, version.document.settlement.payment_terms_days)
        inputs = {"shares": str(event.shares), "strike": fraction_text(self.strike),
                  "split_factor": fraction_text(self.factor), "strike_in_force": fraction_text(strike)}
        if not price.is_zero():
            self._issue(
                "exercise_price", f"warrants/{event.tranche}/exercise/{event.id}/price", event.tranche, version,
                event.date, due, price, "warrants.strike", "round(shares × strike / split factor)", inputs,
                [event.id], debtor=replay.terms.guarantor, creditor=replay.terms.provider,
            )
        self._issue(
            "share_delivery", f"warrants/{event.tranche}/exercise/{event.id}/shares", event.tranche, version,
            event.date, event.date, event.shares, "warrants.tranches", "shares exercised for cash", inputs, [event.id],
        )

    def _settle_net(self, event: Exercise, version, strike: Fraction, net: Fraction) -> None:
        replay = self.replay
        whole = net.numerator // net.denominator
        value = Fraction(event.fair_market_value)
        inputs = {"shares": str(event.shares), "fair_market_value": decimal_text(event.fair_market_value),
                  "strike_in_force": fraction_text(strike), "split_factor": fraction_text(self.factor),
                  "net_shares": fraction_text(net)}
        self._issue(
            "share_delivery", f"warrants/{event.tranche}/exercise/{event.id}/shares", event.tranche, version,
            event.date, event.date, whole, "warrants.strike", "floor(shares × (value − strike in force) / value)",
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
            event.date, due, cash, "warrants.strike", "round((net shares − floor(net shares)) × value)", inputs,
            [event.id],
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
