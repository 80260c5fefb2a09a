"""The guarantee of the provider's debt service to the lender (SPEC §5.2 step 5, §5.7; v2).

At each close the provider owes the lender the period's scheduled debt service. When a
debt-service entry is still unpaid `cure_days` after it fell due, the lender may call the
guarantor on it, once: the guarantor pays the covered part (up to the guarantee's cap), that
part of the debt service is discharged, and the provider owes it back to the guarantor.

The state is what the rules of a call need: every debt-service entry issued (its period and
due date), the ones called (and by which event), and the sum of every call amount, C.
Everything a call entry says comes from the terms of the version for the call's date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from engine.calendar import DATE_MAX, Period, add_days_or_none
from engine.events.model import GuaranteeCall
from engine.numbers import EXACT, ZERO, decimal_text, round_fraction
from engine.rejection_codes import Code
from engine.replay import rules
from engine.replay.rejected import Rejected, days_later
from engine.replay.settlement import Book
from engine.replay.terms import AgreementTerms
from engine.replay.warrants import fraction_text


class AgreementLedger(Protocol):
    """What the guarantee needs of its agreement's replay: its terms, the books of open
    obligations, and the one way to write an entry into its chain."""

    terms: AgreementTerms
    books: dict[tuple[str, str], Book]

    def money(self, amount: Decimal) -> str: ...

    def issue(self, **fields) -> object: ...


@dataclass(frozen=True, slots=True)
class DebtService:
    """An issued debt-service entry, as a call on it is judged."""

    period: str
    due: date


@dataclass(frozen=True, slots=True)
class Call:
    """A call that passed every rule, with the numbers its three entries are made of."""

    event: GuaranteeCall
    version: object  # the LoadedVersion for the call's date
    debt_service: DebtService
    cure_date: date
    outstanding: Decimal  # O
    covered: Decimal  # u = round(O × covers)
    amount: Decimal  # c, what the cap leaves of u
    called_before: Decimal  # C
    call_due: date
    reimbursement_due: date


class GuaranteeBook:
    """One agreement's issued debt service, the calls made on it, and their sum."""

    def __init__(self, replay: AgreementLedger) -> None:
        self.replay = replay
        self.debt_service: dict[str, DebtService] = {}  # entry id -> its period and due date
        self.called: dict[str, str] = {}  # debt-service entry id -> the id of the call event
        self.called_total = ZERO  # C: every call amount so far

    def state(self) -> tuple:
        """What a line may change, to put back with `restore`."""
        return dict(self.debt_service), dict(self.called), self.called_total

    def restore(self, state: tuple) -> None:
        self.debt_service, self.called, self.called_total = state

    # ---- debt service ----------------------------------------------------------------------

    def issue_debt_service(self, period: Period, version, due: date, causes: list[str]) -> None:
        """Step 5 of a close: the period's scheduled debt service, owed by the provider to the lender."""
        terms = self.replay.terms
        schedule = terms.scheduled_amount(version.document.guarantee.debt_service, period)
        amount = round_fraction(schedule.value, terms.places, terms.mode)
        if amount.is_zero():
            return
        entry_id = f"{terms.id}/{period.id}/debt_service"
        basis = {
            "rule": f"guarantee.debt_service[{schedule.step_index}].amount",
            "formula": "round(amount × period days / days of its calendar month or quarter)",
            "inputs": {
                "amount": decimal_text(schedule.step.amount),
                "from_year": str(schedule.step.from_year),
                "contract_year": str(schedule.contract_year),
                "period_days": str(schedule.period_days),
                "calendar_days": str(schedule.calendar_days),
                "scheduled": fraction_text(schedule.value),
            },
        }
        self.replay.issue(
            kind="debt_service", entry_id=entry_id, version=version, period=period.id, on=period.end, due=due,
            debtor=terms.provider, creditor=terms.lender, amount=amount, basis=basis, events=list(causes), extra={},
        )
        self.debt_service[entry_id] = DebtService(period.id, due)

    # ---- calls -------------------------------------------------------------------------------

    def check_call(self, event: GuaranteeCall) -> Call:
        """Every rule of a call (SPEC §4, §5.7), in that order; `Rejected` at the first broken."""
        terms = self.replay.terms
        debt_service = self.debt_service.get(event.obligation)
        if debt_service is None:
            raise Rejected(
                f"obligation {event.obligation!r} is not a debt_service entry of agreement {terms.id} issued so far",
                code=Code.UNKNOWN_REFERENCE,
            )
        called_by = self.called.get(event.obligation)
        if called_by is not None:
            raise Rejected(f"{event.obligation} was already called (event {called_by!r}); a debt service is called once",
                           code=Code.GUARANTEE)
        version = terms.version_for_date(event.date)
        guarantee = version.document.guarantee
        cure_date = days_later(debt_service.due, guarantee.cure_days, f"the cure date of {event.obligation}")
        if event.date < cure_date:
            raise Rejected(
                f"call dated {event.date} is before the cure date of {event.obligation}, {cure_date} "
                f"(due {debt_service.due} + {guarantee.cure_days} cure days)", code=Code.GUARANTEE,
            )
        obligation = self.replay.books[(terms.provider, terms.lender)].open.get(event.obligation)
        if obligation is None:
            raise Rejected(f"{event.obligation} has nothing outstanding: it was paid", code=Code.GUARANTEE)
        amount, covered = rules.call_amount(
            obligation.outstanding, guarantee.covers, guarantee.cap, self.called_total, terms.places, terms.mode
        )
        if amount.is_zero():
            if covered.is_zero():
                reason = (f"the covered amount rounds to 0 ({self.replay.money(obligation.outstanding)} outstanding "
                          f"× covers {decimal_text(guarantee.covers)})")
            else:
                reason = (f"the guarantee's cap is exhausted: {self.replay.money(self.called_total)} called of the cap "
                          f"{self.replay.money(guarantee.cap)}")
            raise Rejected(reason, code=Code.GUARANTEE)
        call_due = add_days_or_none(event.date, version.document.settlement.payment_terms_days)
        reimbursement_due = add_days_or_none(event.date, guarantee.reimbursement.payment_terms_days)
        if call_due is None or reimbursement_due is None:
            raise Rejected(f"call dated {event.date} would write entries due after {DATE_MAX}, the last date the "
                           "engine handles", code=Code.DATE)
        return Call(event, version, debt_service, cure_date, obligation.outstanding, covered, amount,
                    self.called_total, call_due, reimbursement_due)

    def call(self, call: Call) -> None:
        """The three entries of a call, in order: the call, the discharge, the reimbursement (SPEC §5.7)."""
        replay, terms, event = self.replay, self.replay.terms, call.event
        guarantee = call.version.document.guarantee
        money = replay.money
        entry_id = f"{terms.id}/call/{event.id}"
        story = {
            "obligation": event.obligation,
            "obligation_period": call.debt_service.period,
            "obligation_due": call.debt_service.due.isoformat(),
            "cure_days": str(guarantee.cure_days),
            "cure_date": call.cure_date.isoformat(),
            "called_on": event.date.isoformat(),
            "outstanding": money(call.outstanding),
            "covers": decimal_text(guarantee.covers),
            "covered": money(call.covered),
            "cap": "none" if guarantee.cap is None else money(guarantee.cap),
            "called_before": money(call.called_before),
            "cap_left": "none" if guarantee.cap is None else money(EXACT.subtract(guarantee.cap, call.called_before)),
        }
        extra: dict = {"obligation": event.obligation}
        if call.amount != call.covered:
            extra["uncapped"] = money(call.covered)
        formula = "min(round(outstanding × covers), max(0, cap − called before))"
        replay.issue(
            kind="guarantee_call", entry_id=entry_id, version=call.version, period=None, on=event.date,
            due=call.call_due, debtor=terms.guarantor, creditor=terms.lender, amount=call.amount,
            basis={"rule": "guarantee.covers", "formula": formula if guarantee.cap is not None else
                   "round(outstanding × covers)", "inputs": story},
            events=[event.id], extra=extra,
        )
        replay.issue(
            kind="discharge", entry_id=f"{entry_id}/discharge", version=call.version, period=None, on=event.date,
            due=None, debtor=terms.provider, creditor=terms.lender, amount=-call.amount,
            basis={"rule": "guarantee", "formula": "−call amount, applied to the called debt service alone",
                   "inputs": {"call": entry_id, "obligation": event.obligation, "call_amount": money(call.amount)}},
            events=[event.id], extra={"obligation": event.obligation},
        )
        reimbursement = guarantee.reimbursement
        late = reimbursement.late_interest
        replay.issue(
            kind="reimbursement", entry_id=f"{entry_id}/reimbursement", version=call.version, period=None,
            on=event.date, due=call.reimbursement_due, debtor=terms.provider, creditor=terms.guarantor,
            amount=call.amount,
            basis={"rule": "guarantee.reimbursement", "formula": "the call amount, owed back by the provider",
                   "inputs": {"call": entry_id, "obligation": event.obligation, "call_amount": money(call.amount),
                              "payment_terms_days": str(reimbursement.payment_terms_days),
                              "late_interest": "none" if late is None else
                              f"{decimal_text(late.annual_rate)} {late.day_count}"}},
            events=[event.id], extra={"obligation": event.obligation},
        )
        self.called[event.obligation] = event.id
        self.called_total = EXACT.add(self.called_total, call.amount)
