"""Property tests of warrants (SPEC §5.6): shares are conserved, a net exercise never delivers
more than it exercises, and a split changes what an exercise is worth by at most a rounding."""

from __future__ import annotations

import math
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warrant_world import Log, agreement_text, write_agreement

# At least 60 examples (each replay is a few milliseconds); a deeper profile (tests/conftest.py) gives more.
SETTINGS = settings(max_examples=max(60, settings().max_examples), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

TRANCHE_IDS = ("a", "b", "c", "d")


def tranches_text(shares: tuple[int, ...], vwap: str, later: str) -> str:
    """Four tranches: vested at once, on a 2-day VWAP, on a date, on lease-back of 0 (at once)."""
    a, b, c, d = shares
    return f"""
        - id: a
          shares: {a}
          vests: {{on_or_after: 2026-01-01}}
        - id: b
          shares: {b}
          vests: {{vwap_at_least: {vwap}, days: 2}}
        - id: c
          shares: {c}
          vests: {{on_or_after: {later}}}
        - id: d
          shares: {d}
          vests: {{lease_back_total_at_least: 0}}
    """


def new_log(tranches: str, strike: str) -> Log:
    with tempfile.TemporaryDirectory() as folder:
        return Log.of(write_agreement(Path(folder) / "w", agreement_text(tranches, strike=strike)))


strikes = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("50"), places=4).map(lambda d: f"{d:f}")
share_counts = st.integers(min_value=1, max_value=10**7)
cents = st.integers(min_value=1, max_value=10**6).map(lambda c: f"{Decimal(c).scaleb(-2):f}")

exercises = st.tuples(
    st.just("exercise"), st.sampled_from(("a", "a", "d", "d", "b", "c", "zz")), st.sampled_from(("cash", "net")),
    st.floats(0, 1.2), cents,
)
# Exercises are drawn more often than the other steps, so that most runs exercise several times.
steps = st.one_of(
    exercises,
    st.tuples(st.just("price"), st.integers(1, 5), cents, st.integers(1, 10**6)),
    exercises,
    st.tuples(st.just("split"), st.integers(1, 5), st.integers(1, 5)),
    st.tuples(st.just("close")),
    exercises,
)


def ledger_remaining(entries: list[dict], tranche: str) -> int:
    """vested + Σ split_adjustment − Σ shares exercised, read from the ledger alone."""
    total = 0
    for entry in entries:
        if entry.get("tranche") != tranche:
            continue
        if entry["kind"] in ("warrant_vested", "split_adjustment"):
            total += int(entry["amount"])
        elif entry["kind"] == "share_delivery":
            # A net exercise delivers fewer shares than it exercises; its basis keeps the count exercised.
            total -= int(entry["basis"]["inputs"]["shares"])
    return total


@SETTINGS
@given(
    shares=st.tuples(share_counts, share_counts, share_counts, share_counts),
    strike=strikes, vwap=cents, later_days=st.integers(0, 400), plan=st.lists(steps, min_size=4, max_size=40),
)
def test_shares_are_conserved_per_tranche(shares, strike, vwap, later_days, plan):
    later = (date(2026, 1, 1) + timedelta(days=later_days)).isoformat()
    log = new_log(tranches_text(shares, vwap, later), strike)
    book = log.book
    expected = dict(zip(TRANCHE_IDS, shares))  # an independent count: splits and applied exercises
    today = date(2026, 1, 1)
    closes = 0
    for step in plan:
        if step[0] == "price":
            today += timedelta(days=step[1])
            log.price(today.isoformat(), step[2], str(step[3]))
        elif step[0] == "split":
            log.split(today.isoformat(), step[1], step[2])
            expected = {t: n * step[1] // step[2] for t, n in expected.items()}
        elif step[0] == "close" and closes < 12:
            log.close(log.engine.agreements["w"].next_open().id)
            closes += 1
        elif step[0] == "exercise":
            _, tranche, method, portion, value = step
            remaining = book.tranches[tranche].remaining if tranche in book.tranches else 1
            k = max(1, round(remaining * portion))
            fields = {"tranche": tranche, "shares": k, "method": method, "date": today.isoformat()}
            if method == "net":
                # Mostly above the strike in force (which reverse splits raise), so that most are applied.
                fields["fair_market_value"] = f"{Decimal(value) + math.ceil(book.strike_in_force):f}"
            outcome = log.send("exercise", **fields)
            if outcome.status == "rejected":
                assert outcome.entries == ()
            else:
                expected[tranche] -= k
                delivered = [e.fields for e in outcome.entries if e.fields["kind"] == "share_delivery"]
                assert len(delivered) == 1 and int(delivered[0]["amount"]) <= k
                if method == "cash":
                    assert int(delivered[0]["amount"]) == k
    for tranche in TRANCHE_IDS:
        state = book.tranches[tranche]
        assert state.remaining == expected[tranche] >= 0
        if state.vested:
            assert ledger_remaining(log.entries, tranche) == state.remaining
        else:
            assert [e for e in log.entries if e.get("tranche") == tranche] == []


@SETTINGS
@given(strike=strikes, k=st.integers(1, 10**6), value_cents=st.integers(1, 10**7), split=st.integers(1, 4))
def test_a_net_exercise_never_delivers_more_shares_than_exercised(strike, k, value_cents, split):
    log = new_log(tranches_text((10**6, 1, 1, 1), "1", "2027-01-01"), strike)
    log.split("2026-01-02", split, 1)
    value = Decimal(value_cents).scaleb(-2)
    outcome = log.send("exercise", tranche="a", shares=k, method="net", date="2026-01-04",
                       fair_market_value=f"{value:f}")
    if outcome.status == "rejected":
        return
    entries = {e.fields["kind"]: e.fields for e in outcome.entries}
    shares = int(entries["share_delivery"]["amount"])
    assert 1 <= shares <= k
    cash = Decimal(entries["cash_in_lieu"]["amount"]) if "cash_in_lieu" in entries else Decimal(0)
    assert shares * value + cash <= k * value + Decimal("0.005")  # never worth more than the shares exercised
    assert cash <= value + Decimal("0.005")  # less than one share in cash


@SETTINGS
@given(strike=strikes, k=st.integers(1, 10**6), pre=st.tuples(st.integers(1, 5), st.integers(1, 5)))
def test_cash_for_k_shares_before_a_2_for_1_split_costs_what_2k_cost_after_it(strike, k, pre):
    prices = []
    for split_first in (False, True):
        log = new_log(tranches_text((4 * 10**6, 1, 1, 1), "1", "2027-01-01"), strike)
        log.split("2026-01-02", *pre)  # any split factor before: the strike in force is strike / f
        if k > log.book.tranches["a"].remaining // 2:
            return
        if split_first:
            log.split("2026-01-03", 2, 1)
        entries = log.exercise("2026-01-04", "a", 2 * k if split_first else k)
        prices.append([e["amount"] for e in entries if e["kind"] == "exercise_price"])
    assert prices[0] == prices[1]


@SETTINGS
@given(strike=strikes, k=st.integers(1, 10**6), value_cents=st.integers(1, 10**7))
def test_a_net_exercise_is_worth_the_same_across_a_split_up_to_a_share_and_a_cent(strike, k, value_cents):
    value = Decimal(value_cents).scaleb(-2)
    worth = []
    for split_first in (False, True):
        log = new_log(tranches_text((2 * 10**6, 1, 1, 1), "1", "2027-01-01"), strike)
        if split_first:
            log.split("2026-01-03", 2, 1)
        v = value / 2 if split_first else value
        outcome = log.send("exercise", tranche="a", shares=2 * k if split_first else k, method="net",
                           date="2026-01-04", fair_market_value=f"{v:f}")
        if outcome.status == "rejected":
            return  # V ≤ strike, or fewer than one net share before the split
        entries = {e.fields["kind"]: e.fields for e in outcome.entries}
        shares = int(entries["share_delivery"]["amount"])
        assert shares <= (2 * k if split_first else k)
        cash = Decimal(entries["cash_in_lieu"]["amount"]) if "cash_in_lieu" in entries else Decimal(0)
        worth.append(shares * v + cash)
    difference = abs(worth[0] - worth[1])
    assert difference < value / 2 + Decimal("0.01")  # one share (after the split) and one cent
    # Both are within half a cent of k × (V − strike in force), so the bound is in fact a cent.
    assert difference <= Decimal("0.01")
