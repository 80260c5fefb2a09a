"""Statements of account with aging, as of a date, from the ledger and the documents.

For each agreement and each direction, every obligation still open after the whole ledger,
with its days past due on the statement date D, its aging bucket, and the late interest it
has accrued by D: what SPEC §5.5 would charge if the outstanding were paid on D, under the
terms of the version for D, rounded once per obligation. Then per direction the totals per
bucket, the accrued interest and the unapplied credit. The balances are those of
`balances.rebuild_balances`, so a direction's buckets add up to the summary's `outstanding`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Mapping

from engine.numbers import EXACT, ZERO
from engine.replay.agreement import late_interest_terms
from engine.replay.rules import late_interest
from engine.replay.terms import AgreementTerms
from engine.reports.balances import Balances, Obligation, rebuild_balances
from engine.reports.errors import ReportError
from engine.reports.parties import Direction, directions, terms_of
from engine.reports.sources import entry_fields, match_documents

#: Aging buckets by days past due, as (name, the most days it holds); the last has no bound.
BUCKETS = (("current", 0), ("1-30", 30), ("31-60", 60), ("61-90", 90), ("90+", None))
BUCKET_NAMES = tuple(name for name, _ in BUCKETS)


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One open obligation on the statement date."""

    id: str
    kind: str
    period: str | None
    due: date
    outstanding: Decimal
    days_past_due: int
    bucket: str
    accrued_interest: Decimal


@dataclass(frozen=True)
class DirectionStatement:
    """What one party owes another: its open obligations, oldest due first, and their totals."""

    direction: Direction
    lines: tuple[StatementLine, ...]
    buckets: Mapping[str, Decimal]  # every bucket, zero ones included, in BUCKET_NAMES order
    accrued_interest: Decimal
    unapplied_credit: Decimal

    @property
    def outstanding(self) -> Decimal:
        total = ZERO
        for amount in self.buckets.values():
            total = EXACT.add(total, amount)
        return total


@dataclass(frozen=True)
class AgreementStatement:
    id: str
    title: str | None
    currency: str
    places: int
    directions: tuple[DirectionStatement, ...]


@dataclass(frozen=True)
class Statement:
    as_of: date
    agreements: tuple[AgreementStatement, ...]  # by agreement id


def bucket_of(days_past_due: int) -> str:
    """`current` for 0 days past due, then `1-30`, `31-60`, `61-90` and `90+`."""
    for name, days_max in BUCKETS:
        if days_max is None or days_past_due <= days_max:
            return name
    raise AssertionError("the last bucket has no bound")


def statement(
    entries: Iterable[Mapping[str, Any]], agreements: Iterable[Any], as_of: date, *, agreement: str | None = None
) -> Statement:
    """The statement as of `as_of` for every agreement of `agreements` (loaded agreements),
    or only `agreement`, from the ledger's `entries` (field mappings or `IssuedEntry` values)."""
    fields = entry_fields(entries)
    loaded = match_documents(fields, agreements)
    if agreement is not None and agreement not in loaded:
        raise ReportError(f"no agreement {agreement!r} in CONTRACTS; it holds {', '.join(sorted(loaded)) or 'none'}")
    balances = rebuild_balances(fields)
    chosen = [agreement] if agreement is not None else sorted(loaded)
    return Statement(as_of, tuple(agreement_statement(balances, loaded[name], as_of) for name in chosen))


def agreement_statement(balances: Balances, loaded: Any, as_of: date) -> AgreementStatement:
    """One agreement's part of a statement, from the balances of the whole ledger."""
    terms = terms_of(loaded)
    first = terms.first
    parts = []
    for direction in directions(loaded):
        lines = tuple(
            _line(obligation, balances.outstanding[obligation.id], terms, as_of)
            for obligation in balances.open_obligations(loaded.id, direction.debtor, direction.creditor)
        )
        buckets = {name: ZERO for name in BUCKET_NAMES}
        interest = ZERO
        for line in lines:
            buckets[line.bucket] = EXACT.add(buckets[line.bucket], line.outstanding)
            interest = EXACT.add(interest, line.accrued_interest)
        credit = balances.credit(loaded.id, direction.debtor, direction.creditor)
        parts.append(DirectionStatement(direction, lines, buckets, interest, credit))
    return AgreementStatement(loaded.id, first.title, first.currency, terms.places, tuple(parts))


def accrued_interest(obligation: Obligation, outstanding: Decimal, terms: AgreementTerms, as_of: date) -> Decimal:
    """What SPEC §5.5 would charge on `outstanding` paid on `as_of`: the late-interest terms of
    the version for that date (a v2 reimbursement's own terms), rounded once; 0 where none apply.
    Late interest bears no interest."""
    days = (as_of - obligation.due).days
    if days <= 0 or obligation.kind == "late_interest":
        return ZERO
    late, _ = late_interest_terms(terms.version_for_date(as_of).document, obligation.kind)
    if late is None:
        return ZERO
    return late_interest(outstanding, late.annual_rate, days, late.day_count, terms.places, terms.mode)


def _line(obligation: Obligation, outstanding: Decimal, terms: AgreementTerms, as_of: date) -> StatementLine:
    days = max(0, (as_of - obligation.due).days)
    return StatementLine(
        id=obligation.id, kind=obligation.kind, period=obligation.period, due=obligation.due,
        outstanding=outstanding, days_past_due=days, bucket=bucket_of(days),
        accrued_interest=accrued_interest(obligation, outstanding, terms, as_of),
    )
