"""Static checks of terms: worst-case exposure against the cap, and terms that never apply."""

from engine.replay.checks import static_findings, worst_case_by_period
from engine.replay import Engine
from tests.replay.support import agreement_text


def terms_of(tmp_path, *texts):
    folder = tmp_path / "contracts" / "a"
    folder.mkdir(parents=True)
    for number, text in enumerate(texts, start=1):
        (folder / f"v{number}.yaml").write_text(text)
    return Engine.from_path(tmp_path / "contracts").agreements["a1"].terms


def messages(terms, severity=None):
    return [f.message for f in static_findings(terms) if severity in (None, f.severity)]


def test_worst_case_is_every_pool_idle_all_period(tmp_path):
    terms = terms_of(tmp_path, agreement_text(end="2026-03-01"))
    # January: 10 GPUs × 744 h; shortfall 0.80 × 7440 = 5952 h at 2.00 (H200) and 3.00 (B200).
    assert worst_case_by_period(terms)[0][2] == 5952 * 2 + 5952 * 3


def test_a_cap_one_period_can_exhaust_is_a_warning(tmp_path):
    terms = terms_of(tmp_path, agreement_text(cap="1000.00"))
    assert any("can be exhausted by a single period (2026-01" in m for m in messages(terms, "warning"))
    assert any("is reached at worst in period 2026-01 (contract year 1)" in m for m in messages(terms))


def test_a_cap_the_term_cannot_reach_never_binds(tmp_path):
    terms = terms_of(tmp_path, agreement_text(cap="99999999.00"))
    assert any("can never bind" in m for m in messages(terms, "note"))
    assert messages(terms, "warning") == []


def test_steps_after_the_term_and_idle_versions_are_warnings(tmp_path):
    late = agreement_text(end="2027-01-01").replace("from_year: 2", "from_year: 3")
    same = late.replace("version: 1", "version: 2").replace("effective: 2026-01-01", "effective: 2026-06-01")
    warnings = messages(terms_of(tmp_path, late, same), "warning")
    assert any("revenue_share.steps[1] starts in contract year 3, after the term's last contract year 1" in m for m in warnings)
    assert any("version 2 changes nothing of version 1's terms" in m for m in warnings)


def test_tranches_that_cannot_vest_before_expiry(tmp_path):
    warrants = """\
warrants:
  strike: 0.01
  expires: 2027-01-01
  tranches:
    - id: late
      shares: 10
      vests: {on_or_after: 2027-01-01}
    - id: too-much
      shares: 10
      vests: {lease_back_total_at_least: 2000.00}
    - id: either
      shares: 10
      vests: {any: [{on_or_after: 2030-01-01}, {vwap_at_least: 5, days: 3}]}
"""
    terms = terms_of(tmp_path, agreement_text(cap="1000.00", extra_clauses=warrants))
    warnings = messages(terms, "warning")
    assert any("tranche late" in m and "on_or_after 2027-01-01 is not before expiry" in m for m in warnings)
    assert any("tranche too-much" in m and "exceeds the most that can be issued, 1000.00" in m for m in warnings)
    assert not any("tranche either" in m for m in warnings)
