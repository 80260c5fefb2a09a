"""`backstop check` on v2 terms: the guarantor's worst case under the revenue floor (no revenue
at all) against the top-up cap, and under the guarantee (every debt-service amount defaulted)
against its cap, per contract year and over the term."""

from __future__ import annotations

from decimal import Decimal

from engine.documents.loader import load_agreements
from engine.replay.checks import static_findings, worst_calls_by_period, worst_top_ups_by_period
from engine.replay.terms import AgreementTerms

SPEC9_V2 = """\
schema: backstop/v2
agreement: spec9-v2
version: 1
effective: 2026-01-15
parties: {provider: P, guarantor: G, lender: L}
currency: USD
term: {start: 2026-01-15, end: 2027-01-15}
settlement:
  period: monthly
  payment_terms_days: 30
  late_interest: {annual_rate: 0.08, day_count: ACT/365F}
pools:
  - {id: p1, gpu_model: H200, gpus: 100}
revenue_floor:
  steps: [{from_year: 1, amount: 310000.00}]
  cap: 500000
revenue_share:
  steps: [{from_year: 1, rate: 0.10}]
  above_floor: true
guarantee:
  debt_service: [{from_year: 1, amount: 1000000.00}]
  covers: 0.80
  cure_days: 30
  cap: 1500000
  reimbursement:
    payment_terms_days: 60
    late_interest: {annual_rate: 0.12, day_count: ACT/365F}
"""


def terms_of(tmp_path, text: str = SPEC9_V2) -> AgreementTerms:
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "v1.yaml").write_text(text)
    (agreement,) = load_agreements(folder)
    return AgreementTerms(agreement.id, agreement.versions)


def test_the_worst_top_up_of_a_period_is_its_whole_scheduled_floor(tmp_path):
    rows = worst_top_ups_by_period(terms_of(tmp_path))
    assert rows[0] == ("2026-01", 1, Decimal("170000.00"))  # 17 of January's 31 days
    assert rows[1] == ("2026-02", 1, Decimal("310000.00"))
    assert rows[-1] == ("2027-01", 1, Decimal("140000.00"))  # 14 of 31 days
    assert sum(total for _, _, total in rows) == Decimal("3720000.00")


def test_the_worst_call_of_a_period_covers_its_whole_debt_service(tmp_path):
    rows = worst_calls_by_period(terms_of(tmp_path))
    assert rows[0] == ("2026-01", 1, Decimal("438709.68"))  # round(548387.10 × 0.80)
    assert rows[1] == ("2026-02", 1, Decimal("800000.00"))
    assert rows[-1] == ("2027-01", 1, Decimal("361290.32"))  # round(451612.90 × 0.80)
    assert sum(total for _, _, total in rows) == Decimal("9600000.00")


def test_the_findings_say_when_each_cap_binds_at_worst(tmp_path):
    findings = static_findings(terms_of(tmp_path))
    messages = [finding.message for finding in findings]
    assert "contract year 1: top-ups at most 3720000.00 USD (no revenue at all)" in messages
    assert "the top-up cap 500000.00 USD is reached at worst in period 2026-03 (contract year 1), with no revenue at all" in messages
    assert "contract year 1: guarantee calls at most 9600000.00 USD (every debt-service amount defaulted)" in messages
    assert ("the guarantee's cap 1500000.00 USD is reached at worst in period 2026-03 (contract year 1), "
            "with every debt-service amount defaulted") in messages
    assert not any(finding.severity == "warning" for finding in findings)


def test_a_cap_one_period_can_exhaust_is_a_warning(tmp_path):
    text = SPEC9_V2.replace("  cap: 500000\n", "  cap: 200000\n")
    warnings = [f.message for f in static_findings(terms_of(tmp_path, text)) if f.severity == "warning"]
    assert warnings == ["the top-up cap 200000.00 USD can be exhausted by a single period (2026-02, and 10 more)"]


def test_a_v1_agreement_has_no_v2_findings(tmp_path):
    text = SPEC9_V2.replace("backstop/v2", "backstop/v1").split("revenue_floor:")[0].replace(", lender: L", "")
    text += "backstop:\n  rate_per_gpu_hour: {H200: 2.50}\n  threshold: 0.80\n"
    messages = [finding.message for finding in static_findings(terms_of(tmp_path, text))]
    assert not any("top-up" in message or "guarantee" in message for message in messages)
