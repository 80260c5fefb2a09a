"""Statements with aging: golden forms of the worked example, the rules of each column, the
terms of the version for the statement date, and the balances held to the summary."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.documents.loader import load_agreements
from engine.reports import BUCKET_NAMES, ReportError, bucket_of, rebuild_balances, statement, statement_csv
from engine.reports import statement_json, statement_mapping, statement_text
from engine.testing import agreements_with_logs, replay_lines
from engine.testing.invariants import loaded_agreements
from tests.replay.support import agreement_text, close, utilization
from tests.reports.support import SPEC9, entries_of, spec9

AS_OF = date(2026, 6, 30)


def test_the_worked_example_as_of_the_end_of_june():
    """The issue's example: February's lease-back, 1400.00 due 2026-03-31, is 91 days past due
    on 2026-06-30 and has accrued round(1400 × 0.08 × 91 / 365) = 27.92."""
    agreements, entries, summary = spec9()
    made = statement_mapping(statement(entries, agreements, AS_OF))
    owed = made["agreements"]["spec9"]["directions"]["guarantor_to_provider"]
    assert owed["obligations"][0] == {
        "id": "spec9/2026-02/lease_back/p1", "kind": "lease_back", "period": "2026-02", "due": "2026-03-31",
        "outstanding": "1400.00", "days_past_due": 91, "bucket": "90+", "accrued_interest": "27.92"}
    # The late interest of the March payment: 40.77 due 2026-04-12, 79 days; it bears none.
    assert owed["obligations"][1] == {
        "id": "spec9/late_interest/pay-1/1", "kind": "late_interest", "period": None, "due": "2026-04-12",
        "outstanding": "40.77", "days_past_due": 79, "bucket": "61-90", "accrued_interest": "0.00"}
    assert owed["buckets"] == {"current": "0.00", "1-30": "0.00", "31-60": "0.00", "61-90": "40.77", "90+": "1400.00"}
    assert (owed["accrued_interest"], owed["unapplied_credit"]) == ("27.92", "0.00")
    # 15000 × 0.08 × 119 / 365 = 391.232…
    assert made["agreements"]["spec9"]["directions"]["provider_to_guarantor"]["accrued_interest"] == "391.23"
    for name, part in made["agreements"]["spec9"]["directions"].items():
        total = sum(Decimal(amount) for amount in part["buckets"].values())
        assert total == Decimal(summary["agreements"]["spec9"]["outstanding"][name])


@pytest.mark.parametrize("form, render, golden", [
    ("json", statement_json, "statement-2026-06-30.json"),
    ("text", statement_text, "statement-2026-06-30.txt"),
    ("csv", statement_csv, "statement-2026-06-30.csv"),
])
def test_each_form_is_the_golden_file(form, render, golden):
    agreements, entries, _ = spec9()
    assert render(statement(entries, agreements, AS_OF)) == (SPEC9 / golden).read_text(encoding="utf-8")


def test_the_json_form_has_exactly_the_documented_shape():
    agreements, entries, _ = spec9()
    made = json.loads(statement_json(statement(entries, agreements, AS_OF)))
    assert list(made) == ["as_of", "agreements"]
    agreement = made["agreements"]["spec9"]
    assert list(agreement) == ["currency", "directions"]
    assert list(agreement["directions"]) == ["guarantor_to_provider", "provider_to_guarantor"]
    for part in agreement["directions"].values():
        assert list(part) == ["obligations", "buckets", "accrued_interest", "unapplied_credit"]
        assert list(part["buckets"]) == list(BUCKET_NAMES)
        for line in part["obligations"]:
            assert list(line) == ["id", "kind", "period", "due", "outstanding", "days_past_due", "bucket", "accrued_interest"]


@pytest.mark.parametrize("days, bucket", [
    (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"), (90, "61-90"),
    (91, "90+"), (4000, "90+"),
])
def test_buckets_by_days_past_due(days, bucket):
    assert bucket_of(days) == bucket


def test_an_obligation_not_yet_due_is_current_and_accrues_nothing():
    agreements, entries, _ = spec9()
    made = statement_mapping(statement(entries, agreements, date(2026, 3, 31)))
    line = made["agreements"]["spec9"]["directions"]["guarantor_to_provider"]["obligations"][0]
    assert (line["days_past_due"], line["bucket"], line["accrued_interest"]) == (0, "current", "0.00")


def _two_versions(tmp_path):
    """v1 (from 2026-01) with 10 % ACT/365F late interest; v2 from 2026-07 with none, then
    the same agreement with v2 at 12 % ACT/360."""
    first = agreement_text(backstop=True, revenue_share=False)
    later = first.replace("version: 1", "version: 2").replace("effective: 2026-01-01", "effective: 2026-07-01")
    folder = tmp_path / "contracts" / "a"
    folder.mkdir(parents=True)
    (folder / "v1.yaml").write_text(first)
    (folder / "v2.yaml").write_text(later.replace("  late_interest:\n    annual_rate: 0.10\n    day_count: ACT/365F\n", ""))
    without = load_agreements(tmp_path / "contracts")
    (folder / "v2.yaml").write_text(later.replace("annual_rate: 0.10\n    day_count: ACT/365F", "annual_rate: 0.12\n    day_count: ACT/360"))
    return without, load_agreements(tmp_path / "contracts")


@pytest.mark.parametrize("as_of, without, other", [
    # January's lease-back, 1000.00 due 2026-03-03. Under v1 (10 % ACT/365F): 1000 × 0.10 × 28 / 365.
    (date(2026, 3, 31), "7.67", "7.67"),
    # From July the version for the date decides: none, or 12 % ACT/360 on 150 days.
    (date(2026, 7, 31), "0.00", "50.00"),
])
def test_accrued_interest_uses_the_terms_of_the_version_for_the_statement_date(tmp_path, as_of, without, other):
    plain, twelve = _two_versions(tmp_path)
    lines = [utilization("u", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "7440", "5452"), close("c", "2026-01")]
    for agreements, expected in ((plain, without), (twelve, other)):
        replayed = replay_lines(agreements, lines)
        (line,) = statement(replayed.entries, agreements, as_of).agreements[0].directions[0].lines
        assert (line.outstanding, line.due, line.accrued_interest) == (Decimal("1000.00"), date(2026, 3, 3), Decimal(expected))


def test_a_reimbursement_accrues_at_the_guarantees_own_rate():
    """SPEC §9 (v2): the reimbursement of 320000.00 due 2026-06-01, still open on 2026-06-11,
    has accrued 320000 × 0.12 × 10 / 365 = 1052.054… → 1052.05 at the guarantee's own rate,
    not the settlement's 0.08; six directions, the lender's included."""
    v2 = SPEC9.parent / "spec9v2"
    agreements = load_agreements(v2 / "contracts")
    entries = entries_of((v2 / "ledger.jsonl").read_bytes())
    before_repayment = [entry for entry in entries if entry["date"] < "2026-06-11"]
    made = statement_mapping(statement(before_repayment, agreements, date(2026, 6, 11)))
    directions = made["agreements"]["spec9v2"]["directions"]
    assert list(directions) == ["guarantor_to_provider", "provider_to_guarantor", "provider_to_lender",
                                "guarantor_to_lender", "lender_to_provider", "lender_to_guarantor"]
    reimbursement = next(line for line in directions["provider_to_guarantor"]["obligations"] if line["kind"] == "reimbursement")
    assert (reimbursement["outstanding"], reimbursement["days_past_due"], reimbursement["accrued_interest"]) == (
        "320000.00", 10, "1052.05")
    # January's debt service after the call: 548387.10 − 148387.10 paid − 320000.00 discharged.
    january = directions["provider_to_lender"]["obligations"][0]
    assert (january["id"], january["outstanding"]) == ("spec9v2/2026-01/debt_service", "80000.00")
    summary = json.loads((v2 / "summary.json").read_text())
    for name, part in statement_mapping(statement(entries, agreements, date(2026, 6, 11)))["agreements"]["spec9v2"]["directions"].items():
        assert sum(Decimal(amount) for amount in part["buckets"].values()) == Decimal(summary["agreements"]["spec9v2"]["outstanding"][name])


def test_one_agreement_or_an_unknown_one(tmp_path):
    agreements, entries, _ = spec9()
    assert [a.id for a in statement(entries, agreements, AS_OF, agreement="spec9").agreements] == ["spec9"]
    with pytest.raises(ReportError, match="no agreement 'nope' in CONTRACTS; it holds spec9"):
        statement(entries, agreements, AS_OF, agreement="nope")


def test_documents_the_ledger_was_not_made_from_are_refused(tmp_path):
    _, entries, _ = spec9()
    shutil.copytree(SPEC9 / "contracts", tmp_path / "contracts")
    (version,) = (tmp_path / "contracts").rglob("*.yaml")
    version.write_text(version.read_text() + "# signed copy\n")
    with pytest.raises(ReportError, match=r"made with version 1 of 'spec9' whose file had SHA-256 4ccb3c.*now has"):
        statement(entries, load_agreements(tmp_path / "contracts"), AS_OF)
    with pytest.raises(ReportError, match="of agreement 'spec9', which CONTRACTS does not hold"):
        statement(entries, load_agreements(SPEC9.parents[1].parent / "contracts" / "gb300-monthly"), AS_OF)


@settings(max_examples=20)
@given(agreements_with_logs(versions=st.integers(1, 3)), st.integers(0, 400))
def test_statement_balances_are_the_rebuilt_outstanding_and_the_summary(case, days_after):
    documents, lines = case
    agreements = loaded_agreements(documents)
    replayed = replay_lines(agreements, lines)
    (agreement,) = agreements
    term = agreement.versions[0].document.term
    as_of = term.start + timedelta(days=days_after)
    made = statement(replayed.entries, agreements, as_of)
    balances = rebuild_balances(replayed.entries)
    facts = replayed.summary["agreements"][agreement.id]
    (part_of,) = made.agreements
    for part in part_of.directions:
        name = part.direction.name
        assert part.outstanding == Decimal(facts["outstanding"][name])
        assert part.unapplied_credit == Decimal(facts["unapplied_credit"][name])
        assert part.outstanding == balances.owed(agreement.id, part.direction.debtor, part.direction.creditor)
        opened = balances.open_obligations(agreement.id, part.direction.debtor, part.direction.creditor)
        assert [line.id for line in part.lines] == [obligation.id for obligation in opened]
        assert [obligation.order for obligation in opened] == sorted(obligation.order for obligation in opened)
        for line in part.lines:
            assert line.outstanding == balances.outstanding[line.id] > 0
            assert line.days_past_due == max(0, (as_of - line.due).days)
            assert line.bucket == bucket_of(line.days_past_due)
            assert line.accrued_interest >= 0
            if line.days_past_due == 0 or line.kind == "late_interest":
                assert line.accrued_interest == 0
        assert part.accrued_interest == sum((line.accrued_interest for line in part.lines), Decimal(0))
