"""Golden cases for exercises (SPEC §5.6) and every rejection, with the words its reason must
contain and its rejection code (SPEC §7)."""

from __future__ import annotations

import pytest

from warrant_world import Log, agreement_text, brief, write_agreement

VESTED_AT_START = """
    - id: a
      shares: 1000
      vests: {on_or_after: 2026-01-01}
    - id: later
      shares: 50
      vests: {on_or_after: 2026-09-01}
"""


def log_for(tmp_path, tranches: str = VESTED_AT_START, **terms) -> Log:
    log = Log.of(write_agreement(tmp_path / "w", agreement_text(tranches, **terms)))
    log.price("2026-01-02", "1.00")  # vests `a`
    return log


def exercise_entry(event: str, suffix: str, kind: str, amount: str, unit: str, on: str, due: str,
                   debtor: str, creditor: str, tranche: str = "a") -> tuple:
    return (f"w/warrants/{tranche}/exercise/{event}/{suffix}", kind, amount, unit, on, due, debtor, creditor, tranche)


# ---- cash ----------------------------------------------------------------------------


def test_cash_exercise_writes_the_exercise_price_then_the_shares(tmp_path):
    log = log_for(tmp_path, strike="0.37")
    entries = log.exercise("2026-02-10", "a", 333, event_id="x1")
    assert [brief(e) for e in entries] == [
        # round(333 × 0.37) = 123.21, due 30 days after the exercise; the guarantor pays it.
        exercise_entry("x1", "price", "exercise_price", "123.21", "USD", "2026-02-10", "2026-03-12", "Guar", "Prov"),
        exercise_entry("x1", "shares", "share_delivery", "333", "shares", "2026-02-10", "2026-02-10", "Prov", "Guar"),
    ]
    assert [e["period"] for e in entries] == [None, None]
    assert [e["events"] for e in entries] == [["x1"], ["x1"]]
    assert entries[0]["basis"]["rule"] == "warrants.strike"
    assert entries[0]["basis"]["inputs"]["strike_in_force"] == "0.37"
    assert log.book.tranches["a"].remaining == 667


def test_cash_exercise_after_a_split_pays_the_strike_in_force(tmp_path):
    log = log_for(tmp_path, strike="0.37")
    log.split("2026-02-01", 3, 2)  # 1000 → 1500 shares; strike in force 0.37 / 1.5 = 0.24666…
    entries = log.exercise("2026-02-10", "a", 100, event_id="x1")
    assert [(e["kind"], e["amount"]) for e in entries] == [("exercise_price", "24.67"), ("share_delivery", "100")]
    inputs = entries[0]["basis"]["inputs"]
    assert (inputs["strike"], inputs["split_factor"]) == ("0.37", "1.5")
    assert inputs["strike_in_force"] == "37/150 ≈ 0.246667"


def test_cash_exercise_whose_price_rounds_to_zero_writes_only_the_shares(tmp_path):
    log = log_for(tmp_path, strike="0.001")
    entries = log.exercise("2026-02-10", "a", 4, event_id="x1")  # 0.004 rounds to 0.00
    assert [brief(e) for e in entries] == [
        exercise_entry("x1", "shares", "share_delivery", "4", "shares", "2026-02-10", "2026-02-10", "Prov", "Guar"),
    ]


def test_the_exercise_price_uses_the_agreement_s_rounding_and_payment_terms(tmp_path):
    log = log_for(tmp_path, strike="0.005", mode="half_up", terms_days=45)
    entries = log.exercise("2026-02-10", "a", 1, event_id="x1")  # 0.005 rounds half up to 0.01
    assert (entries[0]["amount"], entries[0]["due"]) == ("0.01", "2026-03-27")


# ---- net -----------------------------------------------------------------------------


def test_net_exercise_delivers_whole_shares_and_cash_in_lieu_of_the_fraction(tmp_path):
    log = log_for(tmp_path, strike="2.50")
    entries = log.exercise("2026-02-10", "a", 7, "net", "10.00", event_id="x1")
    assert [brief(e) for e in entries] == [
        # X = 7 × (10 − 2.50) / 10 = 5.25: 5 shares, and 0.25 × 10.00 = 2.50 paid by the provider.
        exercise_entry("x1", "shares", "share_delivery", "5", "shares", "2026-02-10", "2026-02-10", "Prov", "Guar"),
        exercise_entry("x1", "cash_in_lieu", "cash_in_lieu", "2.50", "USD", "2026-02-10", "2026-03-12", "Prov", "Guar"),
    ]
    inputs = entries[1]["basis"]["inputs"]
    assert (inputs["net_shares"], inputs["whole_shares"], inputs["fraction_of_a_share"]) == ("5.25", "5", "0.25")
    assert log.book.tranches["a"].remaining == 993  # the tranche falls by the 7 exercised


def test_net_exercise_with_a_whole_net_count_has_no_cash_in_lieu(tmp_path):
    log = log_for(tmp_path, strike="2.50")
    entries = log.exercise("2026-02-10", "a", 8, "net", "10.00", event_id="x1")  # X = 6
    assert [(e["kind"], e["amount"]) for e in entries] == [("share_delivery", "6")]


def test_net_exercise_whose_cash_in_lieu_rounds_to_zero_has_none(tmp_path):
    log = log_for(tmp_path, strike="0.01")
    # X = 1000 × (10.004 − 0.01) / 10.004 = 999.00039…; 0.00039… × 10.004 = 0.004 rounds to 0.00.
    entries = log.exercise("2026-02-10", "a", 1000, "net", "10.004", event_id="x1")
    assert [(e["kind"], e["amount"]) for e in entries] == [("share_delivery", "999")]
    assert log.book.tranches["a"].remaining == 0


def test_net_exercise_after_a_split_uses_the_strike_in_force(tmp_path):
    log = log_for(tmp_path, strike="2.50")
    log.split("2026-02-01", 2, 1)  # strike in force 1.25
    entries = log.exercise("2026-02-10", "a", 7, "net", "5.00", event_id="x1")
    # X = 7 × (5 − 1.25) / 5 = 5.25, as before the split with twice the value per share.
    assert [(e["kind"], e["amount"]) for e in entries] == [("share_delivery", "5"), ("cash_in_lieu", "1.25")]


# ---- rejections ----------------------------------------------------------------------

REJECTIONS = {
    "on or after expiry": (
        dict(tranche="a", shares=1, method="cash", date="2026-06-01"),
        ("2026-06-01", "on or after", "expiry"),
        "warrant",
    ),
    "unknown tranche": (
        dict(tranche="zz", shares=1, method="cash", date="2026-02-10"),
        ("unknown tranche", "'zz'", "a, later"),
        "unknown_reference",
    ),
    "not vested": (
        dict(tranche="later", shares=1, method="cash", date="2026-02-10"),
        ("tranche later has not vested as of 2026-02-10", "on_or_after 2026-09-01", "2026-02-10 < 2026-09-01"),
        "warrant",
    ),
    "more than remaining": (
        dict(tranche="a", shares=1001, method="cash", date="2026-02-10"),
        ("1001 shares exceeds", "1000 shares remaining", "tranche a"),
        "warrant",
    ),
    "value at the strike": (
        dict(tranche="a", shares=10, method="net", date="2026-02-10", fair_market_value="2.50"),
        ("fair market value above the strike in force 2.5", "got 2.50"),
        "warrant",
    ),
    "value below the strike": (
        dict(tranche="a", shares=10, method="net", date="2026-02-10", fair_market_value="1.99"),
        ("strike in force 2.5", "got 1.99"),
        "warrant",
    ),
    "net count zero": (
        dict(tranche="a", shares=20, method="net", date="2026-02-10", fair_market_value="2.60"),
        # X = 20 × 0.10 / 2.60 = 10/13
        ("net exercise of 20 shares", "2.60", "10/13 ≈ 0.769231", "net share count", "is 0"),
        "warrant",
    ),
}


@pytest.mark.parametrize("case", sorted(REJECTIONS))
def test_rejected_exercise(tmp_path, case):
    fields, words, code = REJECTIONS[case]
    log = log_for(tmp_path, strike="2.50", expires="2026-06-01")
    reason = log.rejected("exercise", code=code, **fields)
    for word in words:
        assert word in reason, f"{word!r} not in {reason!r}"
    assert log.book.tranches["a"].remaining == 1000


def test_the_strike_in_force_decides_a_net_rejection_after_a_split(tmp_path):
    log = log_for(tmp_path, strike="2.50")
    log.split("2026-02-01", 2, 1)
    reason = log.rejected("exercise", tranche="a", shares=10, method="net", date="2026-02-10",
                          fair_market_value="1.25", code="warrant")
    assert "strike in force 1.25 (strike 2.5 ÷ split factor 2)" in reason
    entries = log.exercise("2026-02-10", "a", 100, "net", "1.30")  # X = 100 × 0.05 / 1.30 = 50/13
    assert [(e["kind"], e["amount"]) for e in entries] == [("share_delivery", "3"), ("cash_in_lieu", "1.10")]


def test_a_rejected_exercise_has_no_effect_not_even_the_vesting_it_evaluated(tmp_path):
    log = Log.of(write_agreement(tmp_path / "w", agreement_text("""
        - id: a
          shares: 1000
          vests: {on_or_after: 2026-02-01}
        - id: b
          shares: 10
          vests: {on_or_after: 2026-02-01}
    """)))
    # Vesting as of 2026-02-10 would vest a and b, but 1001 > 1000: nothing at all happens.
    reason = log.rejected("exercise", "x1", tranche="a", shares=1001, method="cash", date="2026-02-10", code="warrant")
    assert "exceeds" in reason
    assert not log.book.tranches["a"].vested and not log.book.tranches["b"].vested
    assert log.engine.agreements["w"].chain.length == 0
    # The next occasion evaluates again, and a rejected line reserved no id.
    entries = log.exercise("2026-02-11", "a", 1000, event_id="x1")
    assert [e["id"] for e in entries] == [
        "w/warrants/a/vested", "w/warrants/b/vested",
        "w/warrants/a/exercise/x1/price", "w/warrants/a/exercise/x1/shares",
    ]
    assert entries[0]["date"] == "2026-02-11"


def test_an_exercise_on_or_after_expiry_does_not_vest(tmp_path):
    log = Log.of(write_agreement(tmp_path / "w", agreement_text("""
        - id: a
          shares: 10
          vests: {on_or_after: 2026-02-01}
    """, expires="2026-03-01")))
    assert "expiry" in log.rejected("exercise", tranche="a", shares=1, method="cash", date="2026-03-01", code="warrant")
    assert not log.book.tranches["a"].vested


def test_a_cash_exercise_does_not_read_its_fair_market_value(tmp_path):
    log = log_for(tmp_path)
    line = ('{"id":"x1","type":"exercise","agreement":"w","tranche":"a","shares":1,"method":"cash",'
            '"date":"2026-02-10","fair_market_value":null}')
    outcome = log.engine.feed_line(line)
    assert outcome.status == "applied", outcome.reason
    assert [e.fields["kind"] for e in outcome.entries] == ["exercise_price", "share_delivery"]


def test_exercises_need_an_agreement_with_warrants(tmp_path):
    folder = tmp_path / "nw"
    folder.mkdir()
    text = agreement_text("- id: a\n  shares: 1\n  vests: {on_or_after: 2026-01-01}\n")
    (folder / "v1.yaml").write_text(text.split("warrants:")[0], encoding="utf-8")
    log = Log.of(folder)
    assert "has no warrants" in log.rejected("exercise", tranche="a", shares=1, method="cash", date="2026-02-10",
                                             code="not_applicable")


def test_share_prices_must_have_strictly_increasing_dates(tmp_path):
    log = log_for(tmp_path)
    reason = log.rejected("share_price", date="2026-01-02", price="2", volume="1", code="order")
    assert "strictly increasing" in reason and "2026-01-02 is not after 2026-01-02" in reason
