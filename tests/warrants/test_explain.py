"""`explain` reads well for every warrant kind: the condition that held, the VWAP window used,
the split factor and the strike in force all appear in plain words."""

from __future__ import annotations

import json

import pytest

from engine.ledger.audit import explain
from warrant_world import Log, agreement_text, write_agreement


@pytest.fixture(scope="module")
def ledger(tmp_path_factory) -> dict[str, dict]:
    """Entries of a small replay with one of each warrant kind, keyed by id, read back from ledger lines."""
    folder = write_agreement(tmp_path_factory.mktemp("explain") / "w", agreement_text("""
        - id: px
          shares: 1001
          vests:
            all:
              - on_or_after: 2026-02-01
              - vwap_at_least: 10
                days: 2
    """, strike="2.50"))
    log = Log.of(folder)
    lines = []
    for outcome in (
        log.send("share_price", "p1", date="2026-02-02", price="11", volume="100"),
        log.send("stock_split", "s1", date="2026-02-03", numerator=2, denominator=1),
        log.send("share_price", "p2", date="2026-02-04", price="5.60", volume="200"),  # vests 2002 shares
        log.send("stock_split", "s2", date="2026-02-05", numerator=2, denominator=3),  # 2002 → 1334
        log.send("exercise", "x1", tranche="px", shares=10, method="cash", date="2026-02-06"),
        log.send("exercise", "x2", tranche="px", shares=7, method="net", date="2026-02-06", fair_market_value="10.00"),
    ):
        assert outcome.status == "applied", outcome.reason
        lines += [entry.line for entry in outcome.entries]
    entries = [json.loads(line) for line in lines]
    return {entry["id"]: entry for entry in entries}


def lines_of(ledger: dict, entry_id: str) -> list[str]:
    text = explain(ledger[entry_id])
    assert text.splitlines()[0].startswith(entry_id)
    return [line.strip() for line in text.splitlines()]


def test_warrant_vested_names_the_condition_the_window_and_the_split_factor(ledger):
    lines = lines_of(ledger, "w/warrants/px/vested")
    assert "what:     warrant tranche vested".strip() in lines
    assert "amount:   2002 shares, owed by Prov to Guar" in lines
    assert "dated:    2026-02-04" in lines
    assert any(line.startswith("terms:    version 1") and line.endswith("rule warrants.tranches[0].vests")
               for line in lines)
    assert (
        "condition = all of [on_or_after 2026-02-01: 2026-02-04 ≥ 2026-02-01; vwap_at_least 10 over 2 observations: "
        "VWAP of 2026-02-02..2026-02-04 (2 observations, split-adjusted) = 5.55 ≥ 10 ÷ split factor 2 = 5] holds"
    ) in lines
    assert "vwap_window vests.all[1] = 2026-02-02..2026-02-04 (2 observations, split-adjusted)" in lines
    assert "split_factor = 2" in lines
    assert "tranche_shares = 1001" in lines and "remaining_shares = 2002" in lines
    assert "events:   p2" in lines


def test_split_adjustment_shows_the_factor_before_and_after(ledger):
    lines = lines_of(ledger, "w/warrants/px/split/s2")
    assert "amount:   -668 shares, owed by Prov to Guar" in lines
    assert "formula:  floor(remaining × numerator / denominator) − remaining" in lines
    for words in ("remaining_before = 2002", "remaining_after = 1334", "numerator = 2", "denominator = 3",
                  "split_factor_before = 2", "split_factor_after = 4/3 ≈ 1.333333",
                  "strike_in_force_after = 1.875"):
        assert words in lines, words


def test_exercise_price_shows_the_strike_in_force(ledger):
    lines = lines_of(ledger, "w/warrants/px/exercise/x1/price")
    assert "what:     exercise price the guarantor owes for shares subscribed for cash" in lines
    assert "amount:   18.75 USD, owed by Guar to Prov" in lines
    assert "dated:    2026-02-06, due 2026-03-08" in lines
    for words in ("shares = 10", "strike = 2.5", "split_factor = 4/3 ≈ 1.333333", "strike_in_force = 1.875",
                  "remaining_before = 1334"):
        assert words in lines, words


def test_share_delivery_for_cash_and_for_net(ledger):
    cash = lines_of(ledger, "w/warrants/px/exercise/x1/shares")
    assert "amount:   10 shares, owed by Prov to Guar" in cash
    assert "formula:  the shares exercised for cash" in cash
    net = lines_of(ledger, "w/warrants/px/exercise/x2/shares")
    # X = 7 × (10 − 1.875) / 10 = 5.6875
    assert "amount:   5 shares, owed by Prov to Guar" in net
    for words in ("net_shares = 5.6875", "whole_shares = 5", "fair_market_value = 10.00", "strike_in_force = 1.875"):
        assert words in net, words


def test_cash_in_lieu_shows_the_fraction_of_a_share(ledger):
    lines = lines_of(ledger, "w/warrants/px/exercise/x2/cash_in_lieu")
    assert "what:     cash the provider pays instead of a fraction of a share" in lines
    assert "amount:   6.88 USD, owed by Prov to Guar" in lines  # 0.6875 × 10.00 = 6.875 → 6.88 (half even)
    assert "formula:  round((net shares − floor(net shares)) × fair market value)" in lines
    assert "fraction_of_a_share = 0.6875" in lines
    assert "events:   x2" in lines
