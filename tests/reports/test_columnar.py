"""The columnar export: one typed row per entry, decimals exact with the agreement's places,
read back by pyarrow as written; and the same rows as CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest

from engine.reports import ReportError, arrow_table, csv_text, entry_rows
from tests.reports.support import BUNDLED, bundled, entries_of, spec9

pa = pytest.importorskip("pyarrow")
parquet = pytest.importorskip("pyarrow.parquet")


def written_and_read(table) -> "pa.Table":
    buffer = io.BytesIO()
    parquet.write_table(arrow_table(table), buffer)
    return parquet.read_table(io.BytesIO(buffer.getvalue()))


def test_the_worked_example_as_typed_columns():
    _, entries, _ = spec9()
    (table,) = entry_rows(entries)
    read = written_and_read(table)
    schema = read.schema
    assert schema.field("amount").type == pa.decimal128(38, 2)
    assert schema.field("date").type == pa.date32() and schema.field("due").type == pa.date32()
    assert schema.field("seq").type == pa.int64() and schema.field("shares").type == pa.int64()
    assert schema.metadata[b"places"] == b"2" and schema.metadata[b"agreement"] == b"spec9"
    rows = read.to_pylist()
    assert [row["id"] for row in rows] == [entry["id"] for entry in entries]
    february = rows[2]
    assert (february["amount"], february["uncapped"], february["date"], february["due"]) == (
        Decimal("1400.00"), Decimal("25200.00"), date(2026, 3, 1), date(2026, 3, 31))
    payment = rows[3]
    assert payment["applied"] == [{"entry": "spec9/2026-01/lease_back/p1", "amount": Decimal("18600.00")}]
    assert (payment["unapplied"], payment["due"], payment["kind"]) == (Decimal("0.00"), None, "payment")
    assert dict(february["basis_inputs"])["available_gpu_hours"] == "67200"
    assert february["events"] == ["u-feb", "close-feb"]


@pytest.mark.parametrize("folder", BUNDLED)
def test_every_entry_of_each_bundled_example_reads_back_as_written(folder):
    _, ledger, summary = bundled(folder)
    entries = entries_of(ledger)
    (table,) = entry_rows(entries)
    rows = written_and_read(table).to_pylist()
    assert len(rows) == len(entries) == summary["agreements"][table.agreement]["entries"]
    for row, entry in zip(rows, entries):
        shares = entry["unit"] == "shares"
        if shares:
            assert (row["shares"], row["amount"]) == (int(entry["amount"]), None)
        else:
            assert (str(row["amount"]), row["shares"]) == (entry["amount"], None)  # the places as written
        assert (row["hash"], row["prev"], row["seq"], row["date"].isoformat()) == (entry["hash"], entry["prev"], entry["seq"], entry["date"])
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row["kind"]] = totals.get(row["kind"], Decimal(0)) + (row["shares"] if row["amount"] is None else row["amount"])
    assert {kind: str(total) for kind, total in totals.items()} == summary["agreements"][table.agreement]["totals"]


def test_csv_holds_the_same_rows():
    _, entries, _ = spec9()
    (table,) = entry_rows(entries)
    rows = list(csv.DictReader(io.StringIO(csv_text(table))))
    assert [row["amount"] for row in rows] == [entry["amount"] for entry in entries]
    assert rows[3]["applied"] == '[{"amount":"18600.00","entry":"spec9/2026-01/lease_back/p1"}]'
    assert rows[3]["due"] == "" and rows[0]["due"] == "2026-03-03"
    assert json.loads(rows[2]["basis_inputs"])["threshold"] == "0.80"


def test_amounts_written_with_other_places_or_an_unknown_field_are_refused():
    _, entries, _ = spec9()
    with pytest.raises(ReportError, match=r"written with \[2, 3\] fraction digits"):
        entry_rows([*entries[:2], {**entries[2], "amount": "1400.000"}])
    with pytest.raises(ReportError, match="has field\\(s\\) surprise the columnar export does not know"):
        entry_rows([{**entries[0], "surprise": "1"}])
