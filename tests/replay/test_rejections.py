"""Every rule the replay judges against the agreement and its state, one bad event each.

Each case names the words its reason must contain and its rejection code (semantics §7). A
rejected line must have no effect: the test replays the good lines alone and compares the
ledger bytes.
"""

import pytest

from tests.replay.support import agreement_text, close, correction, engine_for, line, payment, revenue, utilization

JAN = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
GOOD = [
    utilization("u1", *JAN, "7000", "5000"),
    revenue("r1", "2026-01", "1000.00"),
]

CASES = {
    "unknown agreement": (utilization("x", *JAN, "1", "0", agreement="nope"), "unknown agreement 'nope'", "unknown_agreement"),
    "unknown pool": (utilization("x", *JAN, "1", "0", pool="p9"), "unknown pool 'p9'", "unknown_reference"),
    "before the term": (utilization("x", "2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z", "1", "0"), "outside the term", "interval"),
    "after the term": (utilization("x", "2028-01-01T00:00:00Z", "2028-01-02T00:00:00Z", "1", "0"), "outside the term", "interval"),
    "crosses a period": (utilization("x", "2026-01-31T00:00:00Z", "2026-02-02T00:00:00Z", "1", "0"), "crosses the end of period 2026-01", "interval"),
    "offset moves it outside": (utilization("x", "2026-01-01T00:00:00+01:00", "2026-01-02T00:00:00Z", "1", "0"), "outside the term", "interval"),
    "over capacity": (utilization("x", *JAN, "441", "0"), "more than its 10 GPUs × 744 h = 7440", "capacity"),
    "revenue period outside": (revenue("x", "2030-01", "1.00"), "period 2030-01 is not a settlement period", "interval"),
    "revenue currency": (line(id="x", type="revenue", agreement="a1", period="2026-01", amount="1", currency="EUR"), "currency EUR", "currency"),
    "quarter id on a monthly agreement": (revenue("x", "2026-Q1", "1.00"), "period 2026-Q1 is not a settlement period", "unknown_reference"),
    "close out of order": (close("x", "2026-02"), "next open period is 2026-01, not 2026-02", "order"),
    "payer not a party": (payment("x", "Someone", "Prov", "1.00", "2026-02-01"), "payer 'Someone' is not a party", "unknown_reference"),
    "payment currency": (line(id="x", type="payment", agreement="a1", payer="Guar", payee="Prov", amount="1.00", currency="EUR", date="2026-02-01"), "currency EUR", "currency"),
    "payment places": (payment("x", "Guar", "Prov", "1.001", "2026-02-01"), "3 fraction digits", "number"),
    "payment places as written": (payment("x", "Guar", "Prov", "1.000", "2026-02-01"), "3 fraction digits", "number"),
    "correction of nothing": (correction("x", "nothing"), "no applied utilization or revenue event", "unknown_reference"),
    "correction of a revenue with utilization fields": (
        correction("x", "r1", {"pool": "p1", "start": JAN[0], "end": JAN[1], "available_gpu_hours": "1", "sold_gpu_hours": "0"}),
        "replacement", "field",
    ),
    "correction over capacity": (
        correction("x", "u1", {"pool": "p1", "start": JAN[0], "end": JAN[1], "available_gpu_hours": "7441", "sold_gpu_hours": "0"}),
        "more than its 10 GPUs", "capacity",
    ),
    "conflicting id": (utilization("u1", *JAN, "7000", "4000"), "already applied from line 1 with different content", "conflict"),
    "warrant event without warrants": (line(id="x", type="share_price", agreement="a1", date="2026-01-05", price="1", volume="1"), "has no warrants", "not_applicable"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rejected_with_a_reason_and_no_effect(tmp_path, name):
    bad, words, code = CASES[name]
    engine = engine_for(tmp_path, agreement_text(cap=None))
    outcomes = [engine.feed_line(text) for text in GOOD + [bad, close("c1", "2026-01")]]
    rejected = outcomes[len(GOOD)]
    assert (rejected.status, rejected.code) == ("rejected", code)
    assert words in rejected.reason
    assert rejected.entries == ()

    clean = engine_for(tmp_path / "clean", agreement_text(cap=None))
    clean_entries = [entry.line for text in GOOD + [close("c1", "2026-01")] for entry in clean.feed_line(text).entries]
    assert [entry.line for outcome in outcomes for entry in outcome.entries] == clean_entries


def test_a_correction_reaching_a_locked_period_is_rejected(tmp_path):
    engine = engine_for(tmp_path, agreement_text(lock=0))
    engine.feed_line(GOOD[0])
    engine.feed_line(close("c1", "2026-01"))
    engine.feed_line(utilization("u2", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z", "10", "5"))
    into_january = {"pool": "p1", "start": JAN[0], "end": "2026-01-02T00:00:00Z",
                    "available_gpu_hours": "10", "sold_gpu_hours": "5"}
    outcome = engine.feed_line(correction("x", "u2", into_january))
    assert (outcome.status, outcome.reason, outcome.code) == ("rejected", "period 2026-01 is locked", "locked")
    forgotten = engine.feed_line(correction("y", "u1"))
    assert forgotten.code == "unknown_reference"
    assert "no applied utilization or revenue event" in forgotten.reason
    assert "locked periods" in forgotten.reason


def test_a_repeat_of_an_event_in_a_locked_period_is_rejected_as_locked_not_duplicate(tmp_path):
    engine = engine_for(tmp_path, agreement_text(lock=1))
    engine.feed_line(GOOD[0])
    engine.feed_line(close("c1", "2026-01"))
    assert engine.feed_line(GOOD[0]).status == "duplicate"  # January is closed but not yet locked
    engine.feed_line(close("c2", "2026-02"))
    outcome = engine.feed_line(GOOD[0])
    assert (outcome.status, outcome.reason, outcome.code) == ("rejected", "period 2026-01 is locked", "locked")


def test_true_up_before_the_last_closed_period_ends_is_rejected(tmp_path):
    engine = engine_for(tmp_path, agreement_text())
    engine.feed_line(close("c1", "2026-01"))
    outcome = engine.feed_line(line(id="t", type="true_up", agreement="a1", date="2026-01-31"))
    assert (outcome.status, outcome.code) == ("rejected", "order")
    assert "before 2026-02-01, the end date of the last closed period 2026-01" in outcome.reason
    assert engine.feed_line(line(id="t", type="true_up", agreement="a1", date="2026-02-01")).status == "applied"


def test_closing_past_the_last_period_is_rejected(tmp_path):
    engine = engine_for(tmp_path, agreement_text(end="2026-02-01"))
    assert engine.feed_line(close("c1", "2026-01")).status == "applied"
    outcome = engine.feed_line(close("c2", "2026-02"))
    assert "every period of the term is already closed" in outcome.reason and outcome.code == "order"


def test_revenue_for_an_agreement_without_revenue_share_is_rejected(tmp_path):
    engine = engine_for(tmp_path, agreement_text(revenue_share=False))
    outcome = engine.feed_line(GOOD[1])
    assert "has no revenue_share" in outcome.reason and outcome.code == "not_applicable"


def test_utilization_for_an_agreement_without_backstop_is_rejected(tmp_path):
    engine = engine_for(tmp_path, agreement_text(backstop=False))
    outcome = engine.feed_line(GOOD[0])
    assert "has no backstop" in outcome.reason and outcome.code == "not_applicable"


def test_accounting_adds_up_and_rejected_ids_are_not_reserved(tmp_path):
    engine = engine_for(tmp_path, agreement_text())
    engine.feed_line(utilization("u1", *JAN, "99999", "0"))  # over capacity: rejected
    assert engine.feed_line(utilization("u1", *JAN, "10", "0")).status == "applied"
    assert engine.feed_line(utilization("u1", *JAN, "10", "0")).status == "duplicate"
    assert engine.feed_line("{not json").status == "rejected"
    summary = engine.summary()
    assert (summary["lines"], summary["applied"], summary["duplicates"], len(summary["rejected"])) == (4, 1, 1, 2)
    assert [rejection["code"] for rejection in summary["rejected"]] == ["capacity", "malformed"]
