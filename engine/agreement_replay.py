"""One agreement's replay: fold its events into state and issue its entries (SPEC §5).

`AgreementReplay` holds what can still change for one agreement (inputs of unlocked
periods, issued targets, the cap's running sums, open obligations, warrant state) and its
hash chain. Each event is first checked against every rule (`check_*`, or the first lines
of `apply_*`), raising `Rejected` with the reason before anything changes; only then does it
change state, so a rejected event has no effect at all.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Callable

from engine.calendar import Period, add_days, contract_year
from engine.events.model import Close, Correction, Payment, Revenue, TrueUp, Utilization
from engine.events.reader import replacement as typed_replacement
from engine.inputs import REVENUE_KEY, Contribution, IdRecord, Key
from engine.ledger import Chain, IssuedEntry
from engine.numbers import EXACT, ZERO, decimal_text, format_amount, sum_text
from engine import rules
from engine.settlement import Book, Obligation
from engine.terms import AgreementTerms

OBLIGATION_KINDS = frozenset(
    {"lease_back", "revenue_share", "adjustment", "late_interest", "exercise_price", "cash_in_lieu"}
)
SHARE_KINDS = frozenset({"warrant_vested", "split_adjustment", "share_delivery"})


class Rejected(Exception):
    """An event broke a rule; the message is the reason users read."""


class AgreementReplay:
    """State and entries of one agreement."""

    def __init__(self, terms: AgreementTerms, ids: dict[str, IdRecord], emit: Callable[[IssuedEntry], None]):
        from engine.warrants import WarrantBook  # warrants settle through this replay's issue()

        self.terms = terms
        self.ids = ids
        self.emit = emit
        self.lock = terms.lock_after_periods
        self.chain = Chain(terms.id)
        self.closed = 0
        self.keys: dict[int, dict[str, Key]] = {}
        self.contributions: dict[str, Contribution] = {}
        self.release_at: dict[int, list[str]] = {}
        self.restated: set[int] = set()
        self.entitled = ZERO  # E: every lease-back change issued so far
        self.issued = ZERO  # I: every lease-back amount issued so far
        self.books = {
            (terms.guarantor, terms.provider): Book(),
            (terms.provider, terms.guarantor): Book(),
        }
        self.totals: dict[str, Decimal | int] = {}
        self.warrants = WarrantBook(self) if terms.first.warrants is not None else None

    # ---- periods and locks -------------------------------------------------------------

    def is_locked(self, index: int) -> bool:
        lock = self.lock
        return lock is not None and self.closed >= index + 1 + lock

    def next_open(self) -> Period | None:
        periods = self.terms.periods
        return periods[self.closed] if self.closed < len(periods) else None

    def key(self, index: int, pool: str) -> Key:
        period_keys = self.keys.setdefault(index, {})
        found = period_keys.get(pool)
        if found is None:
            found = period_keys[pool] = Key()
        return found

    def peek_key(self, index: int, pool: str) -> Key | None:
        return self.keys.get(index, {}).get(pool)

    def _lock_newly_locked(self) -> None:
        """Forget a period once it is locked: it can never change again (SPEC §5.1, §7)."""
        lock = self.lock
        if lock is None or self.closed - 1 - lock < 0:
            return
        index = self.closed - 1 - lock
        self.keys.pop(index, None)
        for event_id in self.release_at.pop(index, ()):
            contribution = self.contributions.get(event_id)
            if contribution is not None:
                if contribution.period_max == index:
                    del self.contributions[event_id]
                    self.ids.pop(event_id, None)
                continue
            record = self.ids.get(event_id)
            if record is not None and record.agreement == self.terms.id and max(record.lock_periods) == index:
                del self.ids[event_id]

    def watch_release(self, event_id: str, index: int) -> None:
        self.release_at.setdefault(index, []).append(event_id)

    # ---- inputs ------------------------------------------------------------------------

    def check_utilization(self, event: Utilization, replacing: Contribution | None = None) -> Period:
        terms = self.terms
        if event.start < terms.start_utc or event.end > terms.end_utc:
            first = terms.first
            raise Rejected(
                f"utilization [{event.start.isoformat()}, {event.end.isoformat()}) lies outside the term "
                f"[{first.term.start}, {first.term.end})"
            )
        period = terms.period_containing(event.start.date())
        if event.end > terms.period_ends_utc[period.index]:
            raise Rejected(
                f"utilization [{event.start.isoformat()}, {event.end.isoformat()}) crosses the end of period "
                f"{period.id} ({period.end}); split it at the period boundary"
            )
        version = terms.version_for_period(period)
        if version.document.backstop is None:
            raise Rejected(f"version {version.number}, which governs period {period.id}, has no backstop")
        pool = terms.pools_by_version[version.number - 1].get(event.pool)
        if pool is None:
            known = ", ".join(pool.id for pool in version.document.pools)
            raise Rejected(f"unknown pool {event.pool!r} in version {version.number} (pools: {known})")
        self._check_unlocked(period)
        key = self.peek_key(period.index, pool.id)
        total = key.available if key is not None else ZERO
        if replacing is not None and replacing.event is not None and replacing.period == period.index:
            if replacing.event.pool == pool.id:
                total = EXACT.subtract(total, replacing.event.available_gpu_hours)
        total = EXACT.add(total, event.available_gpu_hours)
        capacity = pool.gpus * period.hours
        if total > capacity:
            raise Rejected(
                f"pool {pool.id} would report {decimal_text(total)} available GPU-hours in period {period.id}, "
                f"more than its {pool.gpus} GPUs × {period.hours} h = {capacity}"
            )
        return period

    def check_revenue(self, event: Revenue) -> Period:
        period = self.terms.period_by_id.get(event.period)
        if period is None:
            raise Rejected(f"period {event.period} is not a settlement period of the term")
        version = self.terms.version_for_period(period)
        if version.document.revenue_share is None:
            raise Rejected(f"version {version.number}, which governs period {period.id}, has no revenue_share")
        if event.currency != self.terms.first.currency:
            raise Rejected(f"currency {event.currency} is not the agreement's {self.terms.first.currency}")
        self._check_unlocked(period)
        return period

    def _check_unlocked(self, period: Period) -> None:
        if self.is_locked(period.index):
            raise Rejected(f"period {period.id} is locked")

    def apply_input(self, event: Utilization | Revenue, order: int) -> tuple[int, ...]:
        if type(event) is Utilization:
            period = self.check_utilization(event)
        else:
            period = self.check_revenue(event)
        self._add(event, period.index, event.id, order)
        self.contributions[event.id] = Contribution(order, type(event), event, period.index, period.index)
        self.watch_release(event.id, period.index)
        return self.terms.period_alone[period.index]

    def apply_correction(self, event: Correction, order: int) -> tuple[int, ...]:
        contribution = self.contributions.get(event.corrects)
        if contribution is None:
            record = self.ids.get(event.corrects)
            if record is not None and record.agreement == self.terms.id:
                raise Rejected(f"corrects {event.corrects!r}, which is not a utilization or revenue event")
            raise Rejected(
                f"corrects {event.corrects!r}: no applied utilization or revenue event of this agreement has that id "
                "(events of locked periods are no longer open to correction)"
            )
        new_event = None
        new_period = None
        if event.replacement is not None:
            typed = typed_replacement(event, contribution.kind)
            if isinstance(typed, str):
                raise Rejected(typed)
            new_event = typed
            if isinstance(typed, Utilization):
                new_period = self.check_utilization(typed, contribution).index
            else:
                new_period = self.check_revenue(typed).index
        touched = sorted({index for index in (contribution.period, new_period) if index is not None})
        for index in touched:
            self._check_unlocked(self.terms.periods[index])
        if contribution.event is not None:
            self._remove(contribution.event, contribution.period, event.id, order)
        if new_event is not None:
            self._add(new_event, new_period, event.id, order, original_order=contribution.order)
            if new_period > contribution.period_max:
                contribution.period_max = new_period
                self.watch_release(event.corrects, new_period)
        contribution.event = new_event
        contribution.period = new_period
        if touched:
            self.watch_release(event.id, touched[-1])
        return tuple(touched)

    def _add(self, event, index: int, cause: str, order: int, original_order: int | None = None) -> None:
        if type(event) is Utilization:
            key = self.key(index, event.pool)
            key.available = EXACT.add(key.available, event.available_gpu_hours)
            key.sold = EXACT.add(key.sold, event.sold_gpu_hours)
        else:
            key = self.key(index, REVENUE_KEY)
            key.revenue = EXACT.add(key.revenue, event.amount)
        key.events[event.id] = order if original_order is None else original_order
        if cause != event.id:
            key.events[cause] = order
        self._mark_restated(index)

    def _remove(self, event, index: int, cause: str, order: int) -> None:
        key = self.key(index, event.pool if type(event) is Utilization else REVENUE_KEY)
        if type(event) is Utilization:
            key.available = EXACT.subtract(key.available, event.available_gpu_hours)
            key.sold = EXACT.subtract(key.sold, event.sold_gpu_hours)
        else:
            key.revenue = EXACT.subtract(key.revenue, event.amount)
        key.events.pop(event.id, None)
        key.events[cause] = order
        self._mark_restated(index)

    def _mark_restated(self, index: int) -> None:
        if index < self.closed:
            self.restated.add(index)

    # ---- closes, true-ups and adjustments ---------------------------------------------

    def check_close(self, event: Close) -> Period:
        period = self.next_open()
        if period is None:
            raise Rejected(f"every period of the term is already closed; cannot close {event.period}")
        if event.period != period.id:
            raise Rejected(f"closes go in period order: the next open period is {period.id}, not {event.period}")
        return period

    def close(self, period: Period, cause: str | None) -> None:
        """Close a period: adjustments, lease-back, revenue share, then vesting (SPEC §5.2)."""
        version = self.terms.version_for_period(period)
        due = self.terms.due_date(period)
        self._issue_adjustments(period.end, due, self.terms.cap_in_force(version), cause)
        document = version.document
        causes = [cause] if cause else []
        if document.backstop is not None:
            cap = self.terms.cap_in_force(version)
            for pool in document.pools:
                key = self.key(period.index, pool.id)
                self._issue_lease_back(period, pool, key, version, period.end, due, cap, causes, adjustment=False)
        if document.revenue_share is not None:
            key = self.key(period.index, REVENUE_KEY)
            self._issue_revenue_share(period, key, version, period.end, due, causes, adjustment=False)
        self.closed += 1
        self._lock_newly_locked()
        if self.warrants is not None:
            self.warrants.vest(period.end, version, causes)

    def check_true_up(self, event: TrueUp) -> None:
        if self.closed:
            last = self.terms.periods[self.closed - 1]
            if event.date < last.end:
                raise Rejected(
                    f"true-up dated {event.date} is before {last.end}, the end date of the last closed period {last.id}"
                )

    def true_up(self, event: TrueUp) -> None:
        version = self.terms.version_for_date(event.date)
        due = add_days(event.date, version.document.settlement.payment_terms_days)
        self._issue_adjustments(event.date, due, self.terms.cap_in_force(version), event.id)

    def _issue_adjustments(self, on: date, due: date, cap: Decimal | None, cause: str | None) -> None:
        """Re-derive every restated period's targets and issue the changes (SPEC §5.4)."""
        causes = [cause] if cause else []
        for index in sorted(self.restated):
            period = self.terms.periods[index]
            version = self.terms.version_for_period(period)
            document = version.document
            if document.backstop is not None:
                for pool in document.pools:
                    key = self.key(index, pool.id)
                    self._issue_lease_back(period, pool, key, version, on, due, cap, causes, adjustment=True)
            if document.revenue_share is not None:
                key = self.key(index, REVENUE_KEY)
                self._issue_revenue_share(period, key, version, on, due, causes, adjustment=True)
        self.restated.clear()

    def _issue_lease_back(self, period, pool, key: Key, version, on, due, cap, causes, *, adjustment: bool) -> None:
        backstop = version.document.backstop
        result = rules.lease_back_target(
            backstop, pool.gpu_model, key.available, key.sold, self.terms.places, self.terms.mode
        )
        change = EXACT.subtract(result.target, key.last_target)
        if change.is_zero():
            return
        amount = rules.capped_change(change, cap, self.entitled, self.issued)
        if backstop.covers == "shortfall":
            formula = "round((threshold × available − sold) × rate)"
        else:
            formula = "round((available − sold) × rate)"
        if result.covered_hours.is_zero():
            formula = "0: no covered hours (available is 0 or sold ≥ threshold × available)"
        inputs = {
            "available_gpu_hours": sum_text(key.available),
            "sold_gpu_hours": sum_text(key.sold),
            "threshold": decimal_text(backstop.threshold),
            "covers": backstop.covers,
            "covered_gpu_hours": sum_text(result.covered_hours),
            "rate": decimal_text(result.rate),
            "gpu_model": pool.gpu_model,
            "target": self._money(result.target),
            "previous_target": self._money(key.last_target),
            "change": self._money(change),
            "entitlement_before": self._money(self.entitled),
            "issued_before": self._money(self.issued),
            "cap": "none" if cap is None else self._money(cap),
        }
        extra: dict = {"pool": pool.id}
        if amount != change:
            extra["uncapped"] = self._money(change)
        self.entitled = EXACT.add(self.entitled, change)
        self.issued = EXACT.add(self.issued, amount)
        basis = {"rule": f"backstop.rate_per_gpu_hour.{pool.gpu_model}", "formula": formula, "inputs": inputs}
        self._issue_key_entry(
            period, key, "lease_back", f"{period.id}/lease_back/{pool.id}", version, on, due,
            self.terms.guarantor, self.terms.provider, amount, basis, causes, extra, adjustment,
        )
        key.last_target = result.target

    def _issue_revenue_share(self, period, key: Key, version, on, due, causes, *, adjustment: bool) -> None:
        revenue_share = version.document.revenue_share
        year = contract_year(self.terms.first.term.start, period.start)
        step_index = rules.revenue_share_step(revenue_share, year)
        rate = revenue_share.steps[step_index].rate
        target = rules.revenue_share_target(key.revenue, rate, self.terms.places, self.terms.mode)
        change = EXACT.subtract(target, key.last_target)
        if change.is_zero():
            return
        inputs = {
            "revenue": sum_text(key.revenue),
            "rate": decimal_text(rate),
            "contract_year": str(year),
            "from_year": str(revenue_share.steps[step_index].from_year),
            "target": self._money(target),
            "previous_target": self._money(key.last_target),
            "change": self._money(change),
        }
        formula = "round(revenue × rate)" if key.revenue > 0 else "0: revenue is not positive"
        basis = {"rule": f"revenue_share.steps[{step_index}].rate", "formula": formula, "inputs": inputs}
        self._issue_key_entry(
            period, key, "revenue_share", f"{period.id}/revenue_share", version, on, due,
            self.terms.provider, self.terms.guarantor, change, basis, causes, {}, adjustment,
        )
        key.last_target = target

    def _issue_key_entry(
        self, period, key: Key, of: str, key_path: str, version, on, due, debtor, creditor,
        amount: Decimal, basis: dict, causes: list[str], extra: dict, adjustment: bool,
    ) -> None:
        if adjustment:
            key.adjustments += 1
            entry_id = f"{self.terms.id}/{key_path}/adj{key.adjustments}"
            extra = {**extra, "of": of, "adjusts": key.first_entry}
            kind = "adjustment"
            basis = {**basis, "formula": f"new target − previous target, where target = {basis['formula']}"}
        else:
            entry_id = f"{self.terms.id}/{key_path}"
            kind = of
        if key.first_entry is None:
            key.first_entry = entry_id
        self.issue(
            kind=kind, entry_id=entry_id, version=version, period=period.id, on=on, due=due,
            debtor=debtor, creditor=creditor, amount=amount, basis=basis,
            events=key.event_ids() + causes, extra=extra,
        )

    # ---- payments ----------------------------------------------------------------------

    def check_payment(self, event: Payment) -> None:
        parties = {self.terms.provider, self.terms.guarantor}
        for role, party in (("payer", event.payer), ("payee", event.payee)):
            if party not in parties:
                raise Rejected(f"{role} {party!r} is not a party to the agreement ({', '.join(sorted(parties))})")
        if event.currency != self.terms.first.currency:
            raise Rejected(f"currency {event.currency} is not the agreement's {self.terms.first.currency}")
        digits = max(0, -event.amount.as_tuple().exponent)
        if digits > self.terms.places:
            raise Rejected(
                f"amount {event.amount} has {digits} fraction digits; the agreement settles to {self.terms.places}"
            )

    def pay(self, event: Payment) -> None:
        """Write the payment, apply it, then charge late interest on what was late (SPEC §5.5)."""
        version = self.terms.version_for_date(event.date)
        settlement = version.document.settlement
        book = self.books[(event.payer, event.payee)]
        applications, remaining = book.apply(event.amount, event.applies_to)
        book.add_credit(remaining)
        extra = {
            "applied": [{"entry": a.obligation.entry_id, "amount": self._money(a.amount)} for a in applications],
            "unapplied": self._money(remaining),
        }
        if event.applies_to is not None:
            extra["applies_to"] = event.applies_to
        basis = {
            "rule": "settlement",
            "formula": "applied to applies_to first, then to open obligations by (due date, seq); the rest is unapplied credit",
            "inputs": {"amount": self._money(event.amount), "date": event.date.isoformat(),
                       "payer": event.payer, "payee": event.payee},
        }
        self.issue(
            kind="payment", entry_id=f"{self.terms.id}/payment/{event.id}", version=version, period=None,
            on=event.date, due=None, debtor=event.payer, creditor=event.payee, amount=event.amount,
            basis=basis, events=[event.id], extra=extra,
        )
        late = settlement.late_interest
        if late is None:
            return
        count = 0
        for application in applications:
            obligation = application.obligation
            if obligation.kind == "late_interest" or obligation.due >= event.date:
                continue
            days = rules.days_late(obligation.due, event.date)
            interest = rules.late_interest(
                application.amount, late.annual_rate, days, late.day_count, self.terms.places, self.terms.mode
            )
            if interest.is_zero():
                continue
            count += 1
            basis = {
                "rule": "settlement.late_interest.annual_rate",
                "formula": f"round(applied × annual_rate × days / {rules.DAY_COUNT_BASIS[late.day_count]})",
                "inputs": {
                    "applied": self._money(application.amount), "obligation": obligation.entry_id,
                    "due": obligation.due.isoformat(), "paid": event.date.isoformat(), "days": str(days),
                    "annual_rate": decimal_text(late.annual_rate), "day_count": late.day_count,
                },
            }
            self.issue(
                kind="late_interest", entry_id=f"{self.terms.id}/late_interest/{event.id}/{count}",
                version=version, period=None, on=event.date,
                due=add_days(event.date, settlement.payment_terms_days), debtor=event.payer,
                creditor=event.payee, amount=interest, basis=basis, events=[event.id], extra={},
            )

    # ---- issuing -----------------------------------------------------------------------

    def _money(self, amount: Decimal) -> str:
        return format_amount(amount, self.terms.places)

    def issue(
        self, *, kind: str, entry_id: str, version, period: str | None, on: date, due: date | None,
        debtor: str, creditor: str, amount: Decimal | int, basis: dict, events: list[str], extra: dict,
    ) -> IssuedEntry:
        """Seal one entry into the chain, settling it against credit when it is an obligation or a credit."""
        book = self.books.get((debtor, creditor))
        fields = {
            "id": entry_id, "agreement": self.terms.id, "version": version.number, "document": version.sha256,
            "kind": kind, "period": period, "date": on.isoformat(), "due": due.isoformat() if due else None,
            "debtor": debtor, "creditor": creditor, "basis": basis, "events": events, **extra,
        }
        if kind in SHARE_KINDS:
            fields["amount"], fields["unit"] = str(amount), "shares"
        else:
            fields["amount"], fields["unit"] = self._money(amount), self.terms.first.currency
        obligation_amount = ZERO
        if kind in OBLIGATION_KINDS and amount > 0:
            credit = book.take_credit(amount)
            if credit > 0:
                fields["credit_applied"] = self._money(credit)
            obligation_amount = EXACT.subtract(amount, credit)
        elif kind == "adjustment" and amount < 0:
            applications, remaining = book.apply(-amount)
            book.add_credit(remaining)
            fields["applied"] = [{"entry": a.obligation.entry_id, "amount": self._money(a.amount)} for a in applications]
            fields["unapplied"] = self._money(remaining)
        entry = self.chain.seal(fields)
        if obligation_amount > 0:
            book.add(Obligation(entry_id, entry.fields["seq"], due, kind, obligation_amount))
        if kind in SHARE_KINDS:
            self.totals[kind] = self.totals.get(kind, 0) + amount
        else:
            self.totals[kind] = EXACT.add(self.totals.get(kind, ZERO), amount)
        self.emit(entry)
        return entry

    # ---- summary -----------------------------------------------------------------------

    def summary(self) -> dict:
        g_to_p = self.books[(self.terms.guarantor, self.terms.provider)]
        p_to_g = self.books[(self.terms.provider, self.terms.guarantor)]
        return {
            "head": self.chain.head,
            "entries": self.chain.length,
            "versions": {str(version.number): version.sha256 for version in self.terms.versions},
            "totals": {
                kind: str(total) if kind in SHARE_KINDS else self._money(total)
                for kind, total in sorted(self.totals.items())
            },
            "outstanding": {
                "guarantor_to_provider": self._money(g_to_p.outstanding),
                "provider_to_guarantor": self._money(p_to_g.outstanding),
            },
            "unapplied_credit": {
                "guarantor_to_provider": self._money(g_to_p.unapplied),
                "provider_to_guarantor": self._money(p_to_g.unapplied),
            },
        }
