"""A statement written out: the documented JSON, a treasurer's text, and CSV rows.

The JSON form is stable and documented (docs/reporting.md): amounts are decimal strings with
the agreement's places, every bucket is present even when zero, directions are named as in
the summary, obligations come in (due date, seq) order. Nothing here computes an amount: the
numbers are those of `statement.statement`, only written.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from engine.numbers import format_amount
from engine.reports.statement import BUCKET_NAMES, AgreementStatement, DirectionStatement, Statement

CSV_COLUMNS = (
    "as_of", "agreement", "currency", "direction", "debtor", "creditor", "id", "kind", "period", "due",
    "outstanding", "days_past_due", "bucket", "accrued_interest",
)


def statement_mapping(statement: Statement) -> dict:
    """The statement as the documented JSON value."""
    return {
        "as_of": statement.as_of.isoformat(),
        "agreements": {agreement.id: _agreement_mapping(agreement) for agreement in statement.agreements},
    }


def statement_json(statement: Statement) -> str:
    """The documented JSON form, indented, non-ASCII written as itself, ending in LF."""
    return json.dumps(statement_mapping(statement), indent=2, ensure_ascii=False) + "\n"


def statement_csv(statement: Statement) -> str:
    """One row per open obligation, with its agreement and direction; LF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for agreement in statement.agreements:
        for part in agreement.directions:
            for line in part.lines:
                writer.writerow((
                    statement.as_of.isoformat(), agreement.id, agreement.currency, part.direction.name,
                    part.direction.debtor, part.direction.creditor, line.id, line.kind, line.period or "",
                    line.due.isoformat(), format_amount(line.outstanding, agreement.places), line.days_past_due,
                    line.bucket, format_amount(line.accrued_interest, agreement.places),
                ))
    return buffer.getvalue()


def statement_text(statement: Statement) -> str:
    """The statement as a treasurer would send it: per agreement and direction, what is open,
    how late, and what interest it has accrued, with the totals."""
    as_of = statement.as_of.isoformat()
    out = [
        f"STATEMENT OF ACCOUNT as of {as_of}",
        f"Open obligations after the whole ledger; days past due, aging and accrued late interest as of {as_of}.",
    ]
    for agreement in statement.agreements:
        heading = agreement.id + (f" — {agreement.title}" if agreement.title else "")
        out += ["", heading, "=" * len(heading), f"Amounts in {agreement.currency}."]
        for part in agreement.directions:
            out += ["", *_direction_text(part, agreement)]
    return "\n".join(out) + "\n"


def grouped(amount: Decimal, places: int) -> str:
    """An amount with its places and a comma between thousands: 1400.5 → 1,400.50."""
    text = format_amount(amount, places)
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, point, fraction = text.partition(".")
    groups = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    return sign + ",".join([whole, *groups]) + point + fraction


def _agreement_mapping(agreement: AgreementStatement) -> dict:
    money = lambda amount: format_amount(amount, agreement.places)  # noqa: E731
    directions = {}
    for part in agreement.directions:
        directions[part.direction.name] = {
            "obligations": [
                {"id": line.id, "kind": line.kind, "period": line.period, "due": line.due.isoformat(),
                 "outstanding": money(line.outstanding), "days_past_due": line.days_past_due, "bucket": line.bucket,
                 "accrued_interest": money(line.accrued_interest)}
                for line in part.lines
            ],
            "buckets": {name: money(part.buckets[name]) for name in BUCKET_NAMES},
            "accrued_interest": money(part.accrued_interest),
            "unapplied_credit": money(part.unapplied_credit),
        }
    return {"currency": agreement.currency, "directions": directions}


def _direction_text(part: DirectionStatement, agreement: AgreementStatement) -> list[str]:
    places = agreement.places
    direction = part.direction
    title = f"{direction.debtor} owes {direction.creditor} ({direction.name})"
    credit = f"Unapplied credit of {direction.debtor} toward {direction.creditor}: {grouped(part.unapplied_credit, places)}"
    if not part.lines:
        return [title, "  Nothing is owed.", f"  {credit}"]
    header = ("due", "days", "bucket", "obligation", "kind", "period", "outstanding", "accrued interest")
    rows = [
        (line.due.isoformat(), str(line.days_past_due), line.bucket, line.id, line.kind, line.period or "—",
         grouped(line.outstanding, places), grouped(line.accrued_interest, places))
        for line in part.lines
    ]
    total = ("Total", "", "", "", "", "", grouped(part.outstanding, places), grouped(part.accrued_interest, places))
    widths = [max(len(row[column]) for row in (header, *rows, total)) for column in range(len(header))]
    right = {1, 6, 7}  # numbers line up on the right

    def cells(row: tuple[str, ...]) -> str:
        return "  " + "  ".join(
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths))
        ).rstrip()

    rule = "  " + "-" * (sum(widths) + 2 * (len(widths) - 1))
    aging = " | ".join(f"{name} {grouped(part.buckets[name], places)}" for name in BUCKET_NAMES)
    return [title, cells(header), rule, *map(cells, rows), rule, cells(total), f"  Aging: {aging}", f"  {credit}"]
