"""Invariants of the revenue floor and the guarantee (v2), over generated logs, checked from the
ledger alone: the top-up cap is never exceeded and never shares a cent with the lease-back cap;
a discharge never exceeds what its obligation had outstanding; a call never exceeds covers ×
the outstanding nor the guarantee's cap; every reimbursement matches a call; and every
direction's outstanding balance and unapplied credit rebuild to the summary's."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from engine.calendar import settlement_periods
from engine.numbers import round_fraction
from engine.replay import Engine
from engine.testing import invariants

START, END = date(2026, 1, 15), date(2027, 1, 15)
PERIODS = settlement_periods(START, END, "monthly")
PARTIES = {"provider": "P", "guarantor": "G", "lender": "L"}
DIRECTIONS = [("G", "P"), ("P", "G"), ("P", "L"), ("G", "L"), ("L", "P"), ("L", "G")]
NAMES = ["guarantor_to_provider", "provider_to_guarantor", "provider_to_lender", "guarantor_to_lender",
         "lender_to_provider", "lender_to_guarantor"]
OBLIGATION_KINDS = {"lease_back", "revenue_share", "adjustment", "late_interest", "exercise_price", "cash_in_lieu",
                    "revenue_top_up", "debt_service", "guarantee_call", "reimbursement"}


def document(terms: dict) -> dict:
    floor = {"steps": [{"from_year": 1, "amount": "1000.00"}]}
    if terms["floor_cap"] is not None:
        floor["cap"] = terms["floor_cap"]
    backstop = {"rate_per_gpu_hour": {"H200": "10.00"}, "threshold": "0.80"}
    if terms["backstop_cap"] is not None:
        backstop["cap"] = terms["backstop_cap"]
    guarantee = {"debt_service": [{"from_year": 1, "amount": "500.00"}], "covers": terms["covers"], "cure_days": 10,
                 "reimbursement": {"payment_terms_days": 15,
                                   "late_interest": {"annual_rate": "0.12", "day_count": "ACT/360"}}}
    if terms["guarantee_cap"] is not None:
        guarantee["cap"] = terms["guarantee_cap"]
    return {
        "schema": "backstop/v2", "agreement": "g", "version": 1, "effective": START.isoformat(),
        "parties": {"provider": "P", "guarantor": "G", "lender": "L"}, "currency": "USD",
        "term": {"start": START.isoformat(), "end": END.isoformat()},
        "settlement": {"period": "monthly", "payment_terms_days": 20,
                       "late_interest": {"annual_rate": "0.08", "day_count": "ACT/365F"}},
        "pools": [{"id": "p1", "gpu_model": "H200", "gpus": 1}],
        "backstop": backstop, "revenue_floor": floor, "guarantee": guarantee,
        "revenue_share": {"steps": [{"from_year": 1, "rate": "0.10"}], "above_floor": terms["above_floor"]},
    }


terms_strategy = st.fixed_dictionaries({
    "floor_cap": st.sampled_from([None, "1500", "2500.50"]),
    "backstop_cap": st.sampled_from([None, "300", "1500"]),
    "covers": st.sampled_from(["1", "0.80", "0.333"]),
    "guarantee_cap": st.sampled_from([None, "700", "1234.56"]),
    "above_floor": st.booleans(),
})
amounts = st.decimals(min_value=-500, max_value=3000, places=2).map(lambda value: f"{value:.2f}")
positive = st.decimals(min_value=Decimal("0.01"), max_value=2000, places=2).map(lambda value: f"{value:.2f}")
operations = st.lists(
    st.one_of(
        st.tuples(st.just("revenue"), st.integers(0, len(PERIODS) - 1), amounts),
        st.tuples(st.just("utilization"), st.integers(0, len(PERIODS) - 1), st.integers(0, 24), st.integers(0, 24)),
        st.tuples(st.just("close")),
        st.tuples(st.just("close")),
        st.tuples(st.just("true_up"), st.integers(0, 40)),
        st.tuples(st.just("payment"), st.integers(0, 5), positive, st.integers(0, 500)),
        st.tuples(st.just("call"), st.integers(0, len(PERIODS) - 1), st.integers(0, 90)),
    ),
    max_size=40,
)


def log_lines(ops: list[tuple]) -> list[str]:
    """Event lines for the operations; some are rejected (a call too early), which is fine."""
    lines, closed = [], 0
    for number, op in enumerate(ops):
        common = {"id": f"e{number}", "agreement": "g"}
        kind = op[0]
        if kind == "revenue":
            lines.append({**common, "type": "revenue", "period": PERIODS[op[1]].id, "amount": op[2], "currency": "USD"})
        elif kind == "utilization":
            start = PERIODS[op[1]].start
            available, sold = max(op[2], op[3]), min(op[2], op[3])
            lines.append({**common, "type": "utilization", "pool": "p1", "start": f"{start}T00:00:00Z",
                          "end": f"{start + timedelta(days=1)}T00:00:00Z", "available_gpu_hours": str(available),
                          "sold_gpu_hours": str(sold)})
        elif kind == "close" and closed < len(PERIODS):
            lines.append({**common, "type": "close", "period": PERIODS[closed].id})
            closed += 1
        elif kind == "true_up":
            last_end = PERIODS[closed - 1].end if closed else START
            lines.append({**common, "type": "true_up", "date": (last_end + timedelta(days=op[1])).isoformat()})
        elif kind == "payment":
            payer, payee = DIRECTIONS[op[1]]
            lines.append({**common, "type": "payment", "payer": payer, "payee": payee, "amount": op[2],
                          "currency": "USD", "date": (START + timedelta(days=op[3])).isoformat()})
        elif kind == "call":
            period = PERIODS[op[1] % closed] if closed else PERIODS[op[1]]  # mostly on issued debt service
            due = period.end + timedelta(days=20)
            lines.append({**common, "type": "guarantee_call", "obligation": f"g/{period.id}/debt_service",
                          "date": (due + timedelta(days=op[2])).isoformat()})
    return [json.dumps(line) for line in lines]


def replayed(terms: dict, ops: list[tuple]) -> tuple[list[dict], dict]:
    engine = Engine.from_mappings([document(terms)])
    entries = [entry.fields for outcome in engine.feed_lines(log_lines(ops)) for entry in outcome.entries]
    return entries, engine.summary()["agreements"]["g"]


def is_top_up(entry: dict) -> bool:
    return entry["kind"] == "revenue_top_up" or entry.get("of") == "revenue_top_up"


def is_lease_back(entry: dict) -> bool:
    return entry["kind"] == "lease_back" or entry.get("of") == "lease_back"


@given(terms_strategy, operations)
def test_each_cap_holds_on_its_own_sums(terms, ops):
    """With a constant cap, what is issued in total is always min(cap, E), E the sum of the
    changes: checked after every entry, for top-ups and lease-back each on their own."""
    entries, _ = replayed(terms, ops)
    for family, cap in ((is_top_up, terms["floor_cap"]), (is_lease_back, terms["backstop_cap"])):
        entitled = issued = Decimal(0)
        for entry in filter(family, entries):
            entitled += Decimal(entry.get("uncapped", entry["amount"]))
            issued += Decimal(entry["amount"])
            expected = entitled if cap is None else min(Decimal(cap), entitled)
            assert issued == expected, entry["id"]
            if cap is not None:
                assert issued <= Decimal(cap)


@given(terms_strategy, operations)
def test_calls_discharges_and_reimbursements_keep_to_their_bounds(terms, ops):
    entries, _ = replayed(terms, ops)
    outstanding: dict[str, Decimal] = {}
    called = Decimal(0)
    for index, entry in enumerate(entries):
        kind, amount = entry["kind"], Decimal(entry["amount"])
        if kind == "guarantee_call":
            owed = outstanding[entry["obligation"]]
            assert entry["obligation"].endswith("/debt_service")
            covered = round_fraction(Fraction(owed) * Fraction(terms["covers"]), 2, "half_even")
            assert 0 < amount <= covered
            assert Decimal(entry.get("uncapped", entry["amount"])) == covered
            called += amount
            if terms["guarantee_cap"] is not None:
                assert called <= Decimal(terms["guarantee_cap"])
            discharge, reimbursement = entries[index + 1], entries[index + 2]
            assert (discharge["kind"], reimbursement["kind"]) == ("discharge", "reimbursement")
            assert discharge["applied"] == [{"entry": entry["obligation"], "amount": entry["amount"]}]
            assert Decimal(discharge["amount"]) == -amount and Decimal(reimbursement["amount"]) == amount
            assert discharge["obligation"] == reimbursement["obligation"] == entry["obligation"]
            assert amount <= owed  # the discharge never exceeds its obligation's outstanding
        if kind in OBLIGATION_KINDS and amount > 0:
            outstanding[entry["id"]] = amount - Decimal(entry.get("credit_applied", "0"))
        for applied in entry.get("applied", []):
            outstanding[applied["entry"]] -= Decimal(applied["amount"])
            assert outstanding[applied["entry"]] >= 0
    calls = [entry for entry in entries if entry["kind"] == "guarantee_call"]
    reimbursements = [entry for entry in entries if entry["kind"] == "reimbursement"]
    assert [(c["obligation"], c["amount"], c["date"]) for c in calls] == [
        (r["obligation"], r["amount"], r["date"]) for r in reimbursements
    ]
    assert len({call["obligation"] for call in calls}) == len(calls)  # each debt service called once


@given(terms_strategy, operations)
def test_every_directions_balances_rebuild_from_the_ledger(terms, ops):
    entries, summary = replayed(terms, ops)
    outstanding: dict[str, tuple[tuple[str, str], Decimal]] = {}
    credit = {direction: Decimal(0) for direction in DIRECTIONS}
    for entry in entries:
        direction, amount = (entry["debtor"], entry["creditor"]), Decimal(entry["amount"])
        if entry["kind"] in OBLIGATION_KINDS and amount > 0:
            credit_applied = Decimal(entry.get("credit_applied", "0"))
            credit[direction] -= credit_applied
            outstanding[entry["id"]] = (direction, amount - credit_applied)
        for applied in entry.get("applied", []):
            owed_direction, owed = outstanding[applied["entry"]]
            assert owed_direction == direction  # money never crosses directions
            outstanding[applied["entry"]] = (owed_direction, owed - Decimal(applied["amount"]))
        if "unapplied" in entry:
            credit[direction] += Decimal(entry["unapplied"])
    for direction, name in zip(DIRECTIONS, NAMES):
        owed = sum((owed for owed_direction, owed in outstanding.values() if owed_direction == direction), Decimal(0))
        assert Decimal(summary["outstanding"][name]) == owed, name
        assert Decimal(summary["unapplied_credit"][name]) == credit[direction], name


@given(terms_strategy, operations)
def test_the_kits_ledger_invariants_hold_for_v2_logs(terms, ops):
    """engine.testing's checks read v2 ledgers too: six directions rebuilt, discharges included."""
    engine = Engine.from_mappings([document(terms)])
    issued = [entry for outcome in engine.feed_lines(log_lines(ops)) for entry in outcome.entries]
    summary = engine.summary()
    invariants.check_chain_integrity(b"".join(entry.line for entry in issued), summary=summary)
    invariants.check_outstanding_rebuilt(issued, summary)
    invariants.check_totals(issued, summary)
    invariants.check_terms_applied(issued, [document(terms)])


def test_the_kit_finds_a_discharge_that_settles_another_obligation():
    terms = {"floor_cap": None, "backstop_cap": None, "covers": "1", "guarantee_cap": None, "above_floor": False}
    engine = Engine.from_mappings([document(terms)])
    lines = log_lines([("close",), ("close",), ("call", 1, 30)])
    issued = [entry for outcome in engine.feed_lines(lines) for entry in outcome.entries]
    fields = [dict(entry.fields) for entry in issued]
    discharge = next(entry for entry in fields if entry["kind"] == "discharge")
    discharge["applied"] = [{"entry": "g/2026-01/debt_service", "amount": discharge["applied"][0]["amount"]}]
    with pytest.raises(AssertionError, match="settles its own obligation"):
        invariants.check_outstanding_rebuilt(fields, engine.summary())
