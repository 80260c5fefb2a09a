"""Documents of semantics backstop/v2 (SPEC §3): the revenue floor, the guarantee, the lender,
their defaults, and the rules across versions that involve them. The one-error-each fixtures
are in bad/ (test_bad_documents.py); these are the rules that need more than one file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.cli.agreements import clause_terms
from engine.documents.errors import DocumentErrors
from engine.documents.loader import load_agreements, load_version_file

GOOD = Path(__file__).parent / "good"
V2 = (GOOD / "floor_guarantee.yaml").read_text(encoding="utf-8")

BASE = """\
schema: {schema}
agreement: amended
version: {version}
effective: {effective}
parties:
  provider: P
  guarantor: G
{lender}currency: USD
term:
  start: 2026-01-01
  end: 2027-01-01
settlement:
  period: monthly
pools:
  - id: p1
    gpu_model: H200
    gpus: 10
{clauses}"""

FLOOR = "revenue_floor:\n  steps:\n    - from_year: 1\n      amount: 1000.00\n"
SHARE = "revenue_share:\n  steps:\n    - from_year: 1\n      rate: 0.10\n"
GUARANTEE = "guarantee:\n  debt_service:\n    - from_year: 1\n      amount: 500.00\n"


def version_text(number: int, effective: str, clauses: str, *, schema="backstop/v2", lender: str | None = None) -> str:
    lender_line = f"  lender: {lender}\n" if lender else ""
    return BASE.format(schema=schema, version=number, effective=effective, lender=lender_line, clauses=clauses)


def write_versions(folder: Path, *texts: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number, text in enumerate(texts, start=1):
        (folder / f"v{number}.yaml").write_text(text, encoding="utf-8")
    return folder


def test_guarantee_defaults_are_filled_in(tmp_path):
    text = version_text(1, "2026-01-01", GUARANTEE, lender="L")
    document = load_version_file(write_versions(tmp_path / "a", text) / "v1.yaml").document
    guarantee = document.guarantee
    assert (guarantee.covers, guarantee.cure_days, guarantee.cap) == (Decimal(1), 30, None)
    assert (guarantee.reimbursement.payment_terms_days, guarantee.reimbursement.late_interest) == (0, None)
    assert document.parties.lender == "L"


def test_above_floor_defaults_to_false_and_floor_cap_to_none(tmp_path):
    text = version_text(1, "2026-01-01", SHARE + FLOOR)
    document = load_version_file(write_versions(tmp_path / "a", text) / "v1.yaml").document
    assert document.revenue_share.above_floor is False
    assert document.revenue_floor.cap is None


def test_every_setting_is_read_exactly():
    document = load_version_file(GOOD / "floor_guarantee.yaml").document
    assert [step.amount for step in document.revenue_floor.steps] == [
        Decimal("930000.00"), Decimal("620000"), Decimal("310000.50")
    ]
    assert document.guarantee.covers == Decimal("0.80")
    assert document.guarantee.reimbursement.late_interest.annual_rate == Decimal("0.12")
    assert document.revenue_share.above_floor is True


def test_a_v1_version_may_be_amended_by_a_v2_version_adding_a_floor(tmp_path):
    folder = write_versions(
        tmp_path / "a",
        version_text(1, "2026-01-01", SHARE, schema="backstop/v1"),
        version_text(2, "2026-07-01", SHARE + FLOOR),
    )
    (agreement,) = load_agreements(folder)
    assert [version.document.schema_ for version in agreement.versions] == ["backstop/v1", "backstop/v2"]
    assert agreement.versions[0].document.revenue_floor is None


def test_a_floor_may_come_and_go_between_versions(tmp_path):
    folder = write_versions(
        tmp_path / "a",
        version_text(1, "2026-01-01", SHARE + FLOOR),
        version_text(2, "2026-04-01", SHARE),
        version_text(3, "2026-07-01", SHARE + FLOOR),
    )
    (agreement,) = load_agreements(folder)
    assert [version.document.revenue_floor is None for version in agreement.versions] == [False, True, False]


def test_a_guarantee_cannot_be_added_by_amendment(tmp_path):
    folder = write_versions(
        tmp_path / "a",
        version_text(1, "2026-01-01", SHARE, lender="L"),
        version_text(2, "2026-07-01", SHARE + GUARANTEE, lender="L"),
    )
    with pytest.raises(DocumentErrors) as raised:
        load_agreements(folder)
    (error,) = raised.value.errors
    assert error.field == "guarantee" and "has no guarantee" in error.message


def test_a_lender_in_a_v1_version_is_an_error_naming_it(tmp_path):
    text = version_text(1, "2026-01-01", SHARE, schema="backstop/v1", lender="L")
    with pytest.raises(DocumentErrors) as raised:
        load_version_file(write_versions(tmp_path / "a", text) / "v1.yaml")
    (error,) = raised.value.errors
    assert error.field == "parties.lender" and "only in a backstop/v2 file" in error.message


def test_every_v2_field_of_a_v1_file_is_named_at_once(tmp_path):
    clauses = SHARE + "  above_floor: true\n" + FLOOR + GUARANTEE
    text = version_text(1, "2026-01-01", clauses, schema="backstop/v1", lender="L")
    with pytest.raises(DocumentErrors) as raised:
        load_version_file(write_versions(tmp_path / "a", text) / "v1.yaml")
    named = {error.field for error in raised.value.errors if "only in a backstop/v2 file" in error.message}
    assert named == {"parties.lender", "revenue_share.above_floor", "revenue_floor", "guarantee"}


def test_a_floor_or_a_guarantee_alone_is_a_clause(tmp_path):
    for clauses, lender in ((FLOOR, None), (GUARANTEE, "L")):
        text = version_text(1, "2026-01-01", clauses, lender=lender)
        load_version_file(write_versions(tmp_path / clauses[:8], text) / "v1.yaml")


def test_caps_of_the_new_clauses_have_at_most_places_digits(tmp_path):
    clauses = FLOOR + "  cap: 10.001\n" + GUARANTEE + "  cap: 20.5\n"
    text = version_text(1, "2026-01-01", clauses, lender="L")
    with pytest.raises(DocumentErrors) as raised:
        load_version_file(write_versions(tmp_path / "a", text) / "v1.yaml")
    (error,) = raised.value.errors
    assert error.field == "revenue_floor.cap" and "3 fraction digits" in error.message


def test_a_json_version_takes_the_v2_clauses_too(tmp_path):
    import json

    document = {
        "schema": "backstop/v2", "agreement": "j", "version": 1, "effective": "2026-01-01",
        "parties": {"provider": "P", "guarantor": "G", "lender": "L"}, "currency": "USD",
        "term": {"start": "2026-01-01", "end": "2027-01-01"}, "settlement": {"period": "quarterly"},
        "pools": [{"id": "p1", "gpu_model": "H200", "gpus": 1}],
        "guarantee": {"debt_service": [{"from_year": 1, "amount": "750.25"}], "covers": 0.5},
    }
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    guarantee = load_version_file(path).document.guarantee
    assert (guarantee.debt_service[0].amount, guarantee.covers) == (Decimal("750.25"), Decimal("0.5"))


def test_validate_lists_the_clauses_with_their_caps():
    document = load_version_file(GOOD / "floor_guarantee.yaml").document
    assert clause_terms(document) == [
        "revenue_share above the floor",
        "revenue_floor (3 steps, cap 5000000)",
        "guarantee of debt service to NorthBank (covers 0.80, cure 30 days, cap 15000000.00)",
    ]
