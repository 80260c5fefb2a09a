"""Every rejected line carries one rejection code of semantics §7, in the outcome, the typed
error, the summary and the printed summary: one single-fault line per code, and every
generated bad line."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from engine.rejection_codes import CODES, Code
from engine.replay import Engine, RejectedLine
from engine.testing import bad_lines

from support import agreement_text, engine_for

AGREEMENT = {"agreement": "a1"}
UTILIZATION = dict(type="utilization", pool="p1", start="2026-01-01T00:00:00Z", end="2026-01-02T00:00:00Z",
                   available_gpu_hours="100", sold_gpu_hours="50")
REVENUE = dict(type="revenue", period="2026-01", amount="1000.00", currency="USD")
PAYMENT = dict(type="payment", payer="Guar", payee="Prov", amount="10.00", currency="USD", date="2026-03-01")


def event(event_id: str, **fields) -> str:
    return json.dumps({"id": event_id, **AGREEMENT, **fields})


# Each case: the lines before (all applied), the single-fault line, and its code.
CASES = {
    "malformed": ([], '{"id":"x","type":"close","agreement":"a1","period":"2026-01",}'),
    "too_long": ([], '{"id":"x","type":"close","agreement":"a1","period":"2026-01","meta":{"pad":"'
                 + "x" * (1 << 20) + '"}}'),
    "too_deep": ([], '{"id":"x","type":"close","agreement":"a1","period":"2026-01","meta":'
                 + "[" * 40 + "]" * 40 + "}"),
    "repeated_key": ([], '{"id":"x","type":"close","agreement":"a1","period":"2026-01","period":"2026-02"}'),
    "field": ([], event("x", type="close")),
    "number": ([], event("x", **{**REVENUE, "amount": "1e3"})),
    "date": ([], event("x", type="true_up", date="2026-02-30")),
    "conflict": ([event("x", **REVENUE)], event("x", **{**REVENUE, "amount": "2.00"})),
    "unknown_agreement": ([], json.dumps({"id": "x", "agreement": "nobody", **REVENUE})),
    "locked": ([event("c1", type="close", period="2026-01")], event("x", **REVENUE)),
    "not_applicable": ([], event("x", type="share_price", date="2026-01-05", price="1", volume="1")),
    "unknown_reference": ([], event("x", **{**UTILIZATION, "pool": "p9"})),
    "interval": ([], event("x", **{**UTILIZATION, "end": "2026-02-02T00:00:00Z"})),
    "capacity": ([], event("x", **{**UTILIZATION, "available_gpu_hours": "10000"})),  # 10 GPUs × 744 h
    "currency": ([], event("x", **{**REVENUE, "currency": "EUR"})),
    "order": ([], event("x", type="close", period="2026-02")),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_a_single_fault_line_carries_its_code(tmp_path, code):
    before, line = CASES[code]
    engine = engine_for(tmp_path, agreement_text(lock=0))
    for raw in before:
        assert engine.feed_line(raw).status == "applied", raw
    outcome = engine.feed_line(line)
    assert (outcome.status, outcome.code) == ("rejected", code), outcome.reason
    summary = engine.summary()
    assert summary["rejected"][-1]["code"] == code
    assert json.loads(json.dumps(summary))["rejected"][-1]["code"] == code
    with pytest.raises(RejectedLine) as raised:
        engine.feed_line(line.replace('"x"', '"y"', 1) if code != "conflict" else line, strict=True)
    assert raised.value.code in CODES


WARRANTS = """\
warrants:
  strike: 4
  expires: 2030-01-01
  tranches:
    - id: t1
      shares: 100
      vests: {on_or_after: 2027-01-01}
"""


def test_an_exercise_rule_is_code_warrant_and_an_unknown_tranche_is_an_unknown_reference(tmp_path):
    engine = engine_for(tmp_path, agreement_text(extra_clauses=WARRANTS))
    exercise = dict(type="exercise", shares=10, method="cash", date="2026-06-01")
    assert engine.feed_line(event("x1", tranche="t1", **exercise)).code == "warrant"  # not vested yet
    assert engine.feed_line(event("x2", tranche="t9", **exercise)).code == "unknown_reference"


def test_every_code_of_the_table_is_covered_here_or_by_the_guarantee_tests():
    # `warrant` needs an agreement with warrants (the test above); `guarantee` one with a
    # guarantee (tests/v2).
    assert set(CASES) | {"warrant", "guarantee"} == CODES


def test_the_printed_summary_shows_the_code(tmp_path):
    from engine.cli.replaying import render_summary

    engine = engine_for(tmp_path, agreement_text())
    engine.feed_line(event("x", **{**REVENUE, "currency": "EUR"}))
    assert "line 1 (x) [currency]: currency EUR is not the agreement's USD" in render_summary(engine.summary())


def test_a_period_of_the_wrong_kind_names_nothing_and_one_outside_the_term_is_an_interval(tmp_path):
    engine = engine_for(tmp_path, agreement_text(end="2027-01-01"))
    assert engine.feed_line(event("a", **{**REVENUE, "period": "2026-Q1"})).code == "unknown_reference"
    assert engine.feed_line(event("b", **{**REVENUE, "period": "2026-13"})).code == "unknown_reference"
    assert engine.feed_line(event("c", **{**REVENUE, "period": "2031-01"})).code == "interval"
    assert engine.feed_line(event("d", **{**PAYMENT, "payer": "Stranger"})).code == "unknown_reference"
    assert engine.feed_line(event("e", **{**PAYMENT, "amount": "10.001"})).code == "number"


@given(line=bad_lines(agreement="a1"))
def test_every_generated_bad_line_is_rejected_with_a_code_of_the_table(tmp_path_factory, line):
    engine = engine_for(tmp_path_factory.mktemp("codes"), agreement_text())
    outcome = engine.feed_line(line)
    assert outcome.status == "rejected"
    assert outcome.code in CODES and isinstance(outcome.code, str)
    assert engine.summary()["rejected"][0]["code"] == outcome.code
