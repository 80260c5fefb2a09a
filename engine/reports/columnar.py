"""The ledger as typed columns, one row per entry, for finance tools and data warehouses.

Each agreement becomes one table, since its amounts have its own places: money as Arrow
`decimal128(38, places)` (exact; null on share entries), share counts as `int64` (null on
money entries), dates as `date32`, and every other field of SPEC §6 in a column of its own,
null where the entry's kind has no such field; `applied`, `events` and `basis.inputs` keep
their structure (a list of structs, a list, a map). The places are read from the ledger
itself (every money amount is written with exactly `places` fraction digits, SPEC §1), so no
document is needed. An entry with a field the export does not know is refused rather than
cut short.

`entry_rows` is pure and needs nothing; `arrow_table` needs pyarrow, an optional extra
(`pip install 'backstop[reports]'`); `csv_text` writes the same rows as CSV with the standard
library, structured fields as canonical JSON.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Mapping

from engine.ledger import canonical_json
from engine.numbers import fraction_digits, format_amount
from engine.reports.balances import SHARE_KINDS
from engine.reports.errors import ReportError
from engine.reports.sources import by_agreement, entry_fields

INSTALL_HINT = "pip install 'backstop[reports]'"
#: (column, type): `text`, `int`, `date`, `money` (decimal with the agreement's places),
#: `shares`, `applied`, `strings` (a list), `inputs` (a map), in the order they are written.
COLUMNS = (
    ("agreement", "text"), ("seq", "int"), ("id", "text"), ("kind", "text"), ("of", "text"), ("period", "text"),
    ("pool", "text"), ("tranche", "text"), ("obligation", "text"), ("date", "date"), ("due", "date"),
    ("debtor", "text"), ("creditor", "text"), ("amount", "money"), ("shares", "shares"), ("unit", "text"),
    ("uncapped", "money"), ("credit_applied", "money"), ("applied", "applied"), ("unapplied", "money"),
    ("applies_to", "text"), ("adjusts", "text"), ("version", "int"), ("document", "text"),
    ("basis_rule", "text"), ("basis_formula", "text"), ("basis_inputs", "inputs"), ("events", "strings"),
    ("prev", "text"), ("hash", "text"),
)
#: Entry fields that become columns of another name or shape.
RESHAPED = {"basis", "amount"}
KNOWN_FIELDS = {name for name, _ in COLUMNS} | RESHAPED


@dataclass(frozen=True)
class AgreementRows:
    """One agreement's rows (column → Python value: str, int, Decimal, date, list, dict, None)."""

    agreement: str
    places: int
    rows: tuple[dict[str, Any], ...]


def entry_rows(entries: Iterable[Mapping[str, Any]]) -> tuple[AgreementRows, ...]:
    """Each agreement's entries as rows, agreements by id, entries in ledger order."""
    tables = []
    for agreement, mine in sorted(by_agreement(entry_fields(entries)).items()):
        places = ledger_places(agreement, mine)
        tables.append(AgreementRows(agreement, places, tuple(_row(entry) for entry in mine)))
    return tuple(tables)


def ledger_places(agreement: str, entries: list[Mapping[str, Any]]) -> int:
    """The places every money amount of an agreement is written with (0 when it has none)."""
    found = {fraction_digits(entry["amount"]) for entry in entries if entry["kind"] not in SHARE_KINDS}
    if len(found) > 1:
        raise ReportError(f"the amounts of agreement {agreement!r} are written with {sorted(found)} fraction digits; "
                          "a ledger writes every amount with the agreement's places")
    return found.pop() if found else 0


def arrow_table(table: AgreementRows) -> Any:
    """One agreement's rows as a `pyarrow.Table` with the types of COLUMNS."""
    try:
        import pyarrow as pa
    except ImportError:
        raise ReportError(f"the Parquet export needs pyarrow, an optional extra: {INSTALL_HINT}") from None
    money = pa.decimal128(38, table.places)
    types = {
        "text": pa.string(), "int": pa.int64(), "date": pa.date32(), "money": money, "shares": pa.int64(),
        "applied": pa.list_(pa.struct([("entry", pa.string()), ("amount", money)])),
        "strings": pa.list_(pa.string()), "inputs": pa.map_(pa.string(), pa.string()),
    }
    schema = pa.schema([pa.field(name, types[kind]) for name, kind in COLUMNS],
                       metadata={"agreement": table.agreement, "places": str(table.places)})
    columns = {name: [row[name] for row in table.rows] for name, _ in COLUMNS}
    columns["basis_inputs"] = [list(inputs.items()) for inputs in columns["basis_inputs"]]
    return pa.table(columns, schema=schema)


def csv_text(table: AgreementRows) -> str:
    """One agreement's rows as CSV: a header of COLUMNS, money with its places, dates ISO,
    structured fields as canonical JSON, nulls empty; LF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(name for name, _ in COLUMNS)
    for row in table.rows:
        writer.writerow(_csv_cell(row[name], kind, table.places) for name, kind in COLUMNS)
    return buffer.getvalue()


def _row(entry: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(entry) - KNOWN_FIELDS)
    if unknown:
        raise ReportError(f"entry {entry['id']!r} has field(s) {', '.join(unknown)} the columnar export does not know; "
                          "no column would hold them")
    shares = entry["kind"] in SHARE_KINDS
    row: dict[str, Any] = {name: entry.get(name) for name, _ in COLUMNS}
    row.update(
        date=date.fromisoformat(entry["date"]),
        due=date.fromisoformat(entry["due"]) if entry.get("due") is not None else None,
        amount=None if shares else Decimal(entry["amount"]),
        shares=int(entry["amount"]) if shares else None,
        basis_rule=entry["basis"]["rule"], basis_formula=entry["basis"]["formula"], basis_inputs=dict(entry["basis"]["inputs"]),
        applied=[{"entry": item["entry"], "amount": Decimal(item["amount"])} for item in entry["applied"]] if "applied" in entry else None,
    )
    for name in ("uncapped", "credit_applied", "unapplied"):
        if row[name] is not None:
            row[name] = Decimal(row[name])
    return row


def _csv_cell(value: Any, kind: str, places: int) -> str:
    if value is None:
        return ""
    if kind == "money":
        return format_amount(value, places)
    if kind == "date":
        return value.isoformat()
    if kind == "applied":
        return canonical_json([{"amount": format_amount(item["amount"], places), "entry": item["entry"]} for item in value])
    if kind in ("strings", "inputs"):
        return canonical_json(value)
    return str(value)
