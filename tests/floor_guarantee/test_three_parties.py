"""Three parties (SPEC §5.5, §8, v2): every obligation kind in its direction, payments in all
six directions, the summary's six keys in a stable order, and snapshots of the v2 state."""

from __future__ import annotations

from pathlib import Path

from engine.replay import Engine
from v2_world import (
    GUARANTOR, LENDER, PROVIDER, Log, agreement_text, call, close, payment, revenue, utilization, write_agreement,
)

SIX = ["guarantor_to_provider", "provider_to_guarantor", "provider_to_lender", "guarantor_to_lender",
       "lender_to_provider", "lender_to_guarantor"]
GOLDEN = Path(__file__).parents[1] / "golden" / "spec9v2"


def test_the_summary_has_six_directions_in_a_stable_order(tmp_path):
    log = Log.of(write_agreement(tmp_path / "c", agreement_text()))
    summary = log.summary()
    assert list(summary["outstanding"]) == SIX and list(summary["unapplied_credit"]) == SIX


def test_an_agreement_without_a_lender_keeps_the_two_directions_of_v1(tmp_path):
    log = Log.of(write_agreement(tmp_path / "c", agreement_text(debt_service=None, lender=None)))
    assert list(log.summary()["outstanding"]) == SIX[:2]


def test_payments_in_every_direction_settle_that_direction_alone(tmp_path):
    text = agreement_text(floor="1000.00", share_rate="0.10", backstop_rate="1.00", debt_service="500.00")
    log = Log.of(write_agreement(tmp_path / "c", text))
    log.feed(utilization("u1", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "100", "0"),
             revenue("r1", "2026-01", "800.00"), close("c1", "2026-01"))
    # Owed: guarantor → provider 80 (lease-back) + 200 (top-up); provider → guarantor 80 (share);
    # provider → lender 500 (debt service). The lender owes nothing: what it pays is credit.
    log.feed(
        payment("a", GUARANTOR, PROVIDER, "30.00", "2026-02-10"),
        payment("b", PROVIDER, GUARANTOR, "80.00", "2026-02-10"),
        payment("c", PROVIDER, LENDER, "100.00", "2026-02-10"),
        payment("d", GUARANTOR, LENDER, "7.00", "2026-02-10"),
        payment("e", LENDER, PROVIDER, "11.00", "2026-02-10"),
        payment("f", LENDER, GUARANTOR, "13.00", "2026-02-10"),
    )
    summary = log.summary()
    assert summary["outstanding"] == dict(zip(SIX, ["250.00", "0.00", "400.00", "0.00", "0.00", "0.00"]))
    assert summary["unapplied_credit"] == dict(zip(SIX, ["0.00", "0.00", "0.00", "7.00", "11.00", "13.00"]))
    assert log.entry("v2/payment/a")["applied"] == [{"entry": "v2/2026-01/lease_back/p1", "amount": "30.00"}]
    assert log.entry("v2/payment/c")["applied"] == [{"entry": "v2/2026-01/debt_service", "amount": "100.00"}]
    assert log.entry("v2/payment/e")["applied"] == [] and log.entry("v2/payment/e")["unapplied"] == "11.00"


def test_every_v2_obligation_kind_stands_in_its_direction(tmp_path):
    log = Log.of(write_agreement(tmp_path / "c", agreement_text(floor="1000.00", debt_service="500.00", covers="1")))
    log.feed(close("c1", "2026-01"), call("k1", "v2/2026-01/debt_service", "2026-04-02"))
    directions = {entry["kind"]: (entry["debtor"], entry["creditor"]) for entry in log.entries}
    assert directions == {
        "revenue_top_up": (GUARANTOR, PROVIDER), "debt_service": (PROVIDER, LENDER),
        "guarantee_call": (GUARANTOR, LENDER), "discharge": (PROVIDER, LENDER),
        "reimbursement": (PROVIDER, GUARANTOR),
    }
    assert log.entry("v2/call/k1/reimbursement")["due"] == "2026-04-02"  # no reimbursement terms: due at once
    outstanding = log.summary()["outstanding"]
    assert (outstanding["guarantor_to_provider"], outstanding["provider_to_lender"], outstanding["guarantor_to_lender"],
            outstanding["provider_to_guarantor"]) == ("1000.00", "0.00", "500.00", "500.00")


def test_a_snapshot_carries_the_v2_state_across_a_restart():
    lines = (GOLDEN / "events.jsonl").read_bytes().splitlines()
    whole = Engine.from_path(GOLDEN / "contracts")
    expected = [entry.line for outcome in whole.feed_lines(lines) for entry in outcome.entries]
    for cut in range(len(lines) + 1):
        first = Engine.from_path(GOLDEN / "contracts")
        issued = [entry.line for outcome in first.feed_lines(lines[:cut]) for entry in outcome.entries]
        saved = first.snapshot()
        restored = Engine.restore_from_path(saved, GOLDEN / "contracts")
        assert restored.snapshot() == saved
        issued += [entry.line for outcome in restored.feed_lines(lines[cut:]) for entry in outcome.entries]
        assert issued == expected, f"cut after line {cut}"
        assert restored.summary() == whole.summary()
