"""What is owed, rebuilt from the ledger alone (SPEC §5.5).

An obligation is a positive entry of an obligation kind; it starts at its amount less the
unapplied credit it took when written (`credit_applied`). A payment, a credit (a negative
entry: an adjustment that lowers what is owed, or a v2 `discharge`) lowers the obligations its
`applied` list names, and what it could not apply (`unapplied`) becomes its debtor's credit
toward its creditor, which later obligations of that direction take up. Nothing else is
needed: the fold below reads no document and no event.

`BalanceFold` takes the entries one at a time, in ledger order, so that a check can look at
the open obligations just before an entry (as `engine.testing`'s invariant does);
`rebuild_balances` folds a whole ledger. Both raise `LedgerInconsistent` when the ledger's own
records of where money went do not add up, naming the entry: a report built on such a ledger
would be wrong, so it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from engine.ledger import IssuedEntry
from engine.numbers import EXACT, ZERO
from engine.reports.errors import ReportError

#: Kinds whose positive amounts are obligations of their debtor to their creditor (SPEC §5.5);
#: the last four are v2's.
OBLIGATION_KINDS = frozenset({
    "lease_back", "revenue_share", "adjustment", "late_interest", "exercise_price", "cash_in_lieu",
    "revenue_top_up", "debt_service", "guarantee_call", "reimbursement",
})
#: Kinds counted in shares, never money (SPEC §5.6).
SHARE_KINDS = frozenset({"warrant_vested", "split_adjustment", "share_delivery"})
#: Kinds whose negative amounts are credits: they record `applied` and `unapplied`.
CREDIT_KINDS = frozenset({"adjustment", "discharge"})


class LedgerInconsistent(ReportError):
    """The ledger's records of where money went do not add up; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Obligation:
    """One obligation as the ledger wrote it; its balance lives in `Balances.outstanding`."""

    agreement: str
    id: str
    seq: int
    kind: str
    of: str | None  # the adjusted kind, for an adjustment
    period: str | None
    date: date
    due: date
    debtor: str
    creditor: str
    amount: Decimal
    credit_applied: Decimal

    @property
    def order(self) -> tuple[date, int]:
        """Money settles a direction's obligations in (due date, seq) order (SPEC §5.5)."""
        return self.due, self.seq


@dataclass(frozen=True)
class Balances:
    """The balances after a whole ledger: every obligation, its outstanding, and the credit
    each debtor holds toward each creditor, keyed by (agreement, debtor, creditor)."""

    obligations: Mapping[str, Obligation]  # in ledger order
    outstanding: Mapping[str, Decimal]
    unapplied_credit: Mapping[tuple[str, str, str], Decimal]

    def open_obligations(self, agreement: str, debtor: str, creditor: str) -> list[Obligation]:
        """The direction's obligations with a balance > 0, in (due date, seq) order."""
        return _open(self.obligations, self.outstanding, (agreement, debtor, creditor))

    def owed(self, agreement: str, debtor: str, creditor: str) -> Decimal:
        """What `debtor` still owes `creditor` under `agreement`: the summary's `outstanding`."""
        total = ZERO
        for obligation in self.open_obligations(agreement, debtor, creditor):
            total = EXACT.add(total, self.outstanding[obligation.id])
        return total

    def credit(self, agreement: str, debtor: str, creditor: str) -> Decimal:
        """`debtor`'s unapplied credit toward `creditor`: the summary's `unapplied_credit`."""
        return self.unapplied_credit.get((agreement, debtor, creditor), ZERO)


class BalanceFold:
    """The balances of SPEC §5.5, entry by entry in ledger order."""

    def __init__(self) -> None:
        self.obligations: dict[str, Obligation] = {}
        self.outstanding: dict[str, Decimal] = {}
        self.unapplied_credit: dict[tuple[str, str, str], Decimal] = {}

    def add(self, entry: Mapping[str, Any]) -> None:
        """Take one entry (its field mapping) into the balances."""
        kind = entry["kind"]
        if kind in SHARE_KINDS:
            return
        amount = _decimal(entry, "amount")
        if kind == "payment":
            self._settle(entry, amount, "payment")
        elif kind in CREDIT_KINDS and amount < 0:
            self._settle(entry, -amount, "credit")
        elif kind in OBLIGATION_KINDS and amount > 0:
            self._oblige(entry, amount)
        else:
            for name in ("applied", "unapplied", "credit_applied"):
                if name in entry:
                    raise LedgerInconsistent(f"{where(entry)} (amount {entry['amount']}) is neither obligation nor credit but has {name!r}")

    def balance(self, obligation_id: str) -> Decimal:
        return self.outstanding[obligation_id]

    def open_in(self, agreement: str, debtor: str, creditor: str) -> list[str]:
        """Ids of the direction's obligations with a balance > 0 now, in (due date, seq) order."""
        return [obligation.id for obligation in _open(self.obligations, self.outstanding, (agreement, debtor, creditor))]

    def credit(self, agreement: str, debtor: str, creditor: str) -> Decimal:
        return self.unapplied_credit.get((agreement, debtor, creditor), ZERO)

    def result(self) -> Balances:
        return Balances(dict(self.obligations), dict(self.outstanding), dict(self.unapplied_credit))

    def _oblige(self, entry: Mapping[str, Any], amount: Decimal) -> None:
        key = (entry["agreement"], entry["debtor"], entry["creditor"])
        used = _decimal(entry, "credit_applied") if "credit_applied" in entry else ZERO
        available = self.credit(*key)
        if used < 0 or used > amount:
            raise LedgerInconsistent(f"{where(entry)} takes credit {used}; its amount is {amount}")
        if used > available:
            raise LedgerInconsistent(f"{where(entry)} takes credit {used}; only {available} was unapplied in that direction")
        if entry["id"] in self.obligations:
            raise LedgerInconsistent(f"{where(entry)}: an obligation with this id was written before")
        self.unapplied_credit[key] = EXACT.subtract(available, used)
        self.obligations[entry["id"]] = Obligation(
            agreement=entry["agreement"], id=entry["id"], seq=entry["seq"], kind=entry["kind"], of=entry.get("of"),
            period=entry.get("period"), date=_date(entry, "date"), due=_date(entry, "due"),
            debtor=entry["debtor"], creditor=entry["creditor"], amount=amount, credit_applied=used,
        )
        self.outstanding[entry["id"]] = EXACT.subtract(amount, used)

    def _settle(self, entry: Mapping[str, Any], size: Decimal, what: str) -> None:
        """Lower the obligations a payment or credit of `size` names; keep the rest as credit."""
        if "applied" not in entry or "unapplied" not in entry:
            raise LedgerInconsistent(f"{where(entry)} is a {what} without 'applied' and 'unapplied'")
        direction = (entry["agreement"], entry["debtor"], entry["creditor"])
        total = ZERO
        for application in entry["applied"]:
            target, amount = application["entry"], _decimal(application, "amount", entry)
            obligation = self.obligations.get(target)
            if amount <= 0:
                raise LedgerInconsistent(f"{where(entry)} applies {amount} (not > 0) to {target!r}")
            if obligation is None:
                raise LedgerInconsistent(f"{where(entry)} applies {amount} to {target!r}, which is no earlier obligation")
            if (obligation.agreement, obligation.debtor, obligation.creditor) != direction:
                raise LedgerInconsistent(
                    f"{where(entry)} ({direction[1]} → {direction[2]}) applies {amount} to {target!r}, "
                    f"owed {obligation.debtor} → {obligation.creditor}"
                )
            if amount > self.outstanding[target]:
                raise LedgerInconsistent(f"{where(entry)} applies {amount} to {target!r}, which owed only {self.outstanding[target]}")
            self.outstanding[target] = EXACT.subtract(self.outstanding[target], amount)
            total = EXACT.add(total, amount)
        unapplied = _decimal(entry, "unapplied")
        if unapplied < 0:
            raise LedgerInconsistent(f"{where(entry)} leaves unapplied {unapplied} < 0")
        if EXACT.add(total, unapplied) != size:
            raise LedgerInconsistent(f"{where(entry)}: applied {total} + unapplied {unapplied} ≠ the {what}'s {size}")
        self.unapplied_credit[direction] = EXACT.add(self.credit(*direction), unapplied)


def rebuild_balances(entries: Iterable[Mapping[str, Any] | IssuedEntry]) -> Balances:
    """Every obligation's outstanding balance and every direction's unapplied credit after
    `entries` (field mappings or `IssuedEntry` values, in ledger order)."""
    fold = BalanceFold()
    for entry in entries:
        fold.add(entry.fields if isinstance(entry, IssuedEntry) else entry)
    return fold.result()


def _open(obligations: Mapping[str, Obligation], outstanding: Mapping[str, Decimal], direction: tuple[str, str, str]) -> list[Obligation]:
    found = [
        obligation for obligation in obligations.values()
        if (obligation.agreement, obligation.debtor, obligation.creditor) == direction and outstanding[obligation.id] > 0
    ]
    return sorted(found, key=lambda obligation: obligation.order)


def where(entry: Mapping[str, Any]) -> str:
    """How messages name an entry: its id, seq and agreement."""
    return f"entry {entry.get('id')!r} (seq {entry.get('seq')} of {entry.get('agreement')!r})"


def _decimal(item: Mapping[str, Any], name: str, entry: Mapping[str, Any] | None = None) -> Decimal:
    text = item.get(name)
    try:
        if not isinstance(text, str):
            raise InvalidOperation
        return Decimal(text)
    except InvalidOperation:
        raise LedgerInconsistent(f"{where(entry or item)}: {name} is {text!r}, not a decimal string") from None


def _date(entry: Mapping[str, Any], name: str) -> date:
    text = entry.get(name)
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise LedgerInconsistent(f"{where(entry)}: {name} is {text!r}, not a date like 2026-03-31") from None
