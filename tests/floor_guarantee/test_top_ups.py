"""The revenue floor (SPEC §5.2–§5.4, v2): top-ups as keys with their own cap and adjustments,
and the revenue share above the floor."""

from __future__ import annotations

from v2_world import (
    GUARANTOR, PROVIDER, Log, agreement_text, brief, close, correction, payment, revenue, true_up, utilization,
    write_agreement,
)

JAN, FEB, MAR = "2026-01", "2026-02", "2026-03"


def log_for(tmp_path, *versions: str) -> Log:
    return Log.of(write_agreement(tmp_path / "c", *versions))


def floor_only(**terms) -> str:
    return agreement_text(debt_service=None, lender=None, **terms)


def test_revenue_short_of_the_floor_is_topped_up(tmp_path):
    log = log_for(tmp_path, floor_only(floor="1000.00", share_rate=None))
    log.feed(revenue("r1", JAN, "600.00"), close("c1", JAN))
    (top_up,) = log.entries
    assert brief(top_up) == ("revenue_top_up", "400.00", GUARANTOR, PROVIDER, "2026-02-01", "2026-03-03")
    assert top_up["id"] == "v2/2026-01/revenue_top_up" and top_up["period"] == JAN
    assert top_up["events"] == ["r1", "c1"]
    assert top_up["basis"]["rule"] == "revenue_floor.steps[0].amount"
    assert top_up["basis"]["inputs"]["floor"] == "1000" and top_up["basis"]["inputs"]["revenue"] == "600"


def test_no_revenue_at_all_is_topped_up_to_the_floor_and_negative_revenue_beyond_it(tmp_path):
    log = log_for(tmp_path, floor_only(floor="1000.00", share_rate=None))
    log.feed(close("c1", JAN), revenue("r2", FEB, "-250.00"), close("c2", FEB))
    assert [entry["amount"] for entry in log.entries] == ["1000.00", "1250.00"]
    assert log.entries[0]["events"] == ["c1"]


def test_revenue_at_or_above_the_floor_tops_up_nothing(tmp_path):
    log = log_for(tmp_path, floor_only(floor="1000.00", share_rate=None))
    log.feed(revenue("r1", JAN, "1000.00"), close("c1", JAN), revenue("r2", FEB, "5000"), close("c2", FEB))
    assert log.entries == []


def test_a_partial_period_has_a_floor_pro_rated_by_its_days(tmp_path):
    log = log_for(tmp_path, floor_only(floor="310000.00", share_rate=None, start="2026-01-15", end="2027-01-15"))
    log.feed(revenue("r1", JAN, "120000.00"), close("c1", JAN))
    (top_up,) = log.entries
    assert top_up["amount"] == "50000.00"  # 310000 × 17 / 31 = 170000, less 120000
    inputs = top_up["basis"]["inputs"]
    assert (inputs["period_days"], inputs["calendar_days"], inputs["floor"]) == ("17", "31", "170000")


def test_the_floor_rounds_once_at_the_entry(tmp_path):
    # 100 × 17 / 31 = 54.8387…; less 0.004 of revenue is 54.8347…, rounded once: 54.83. Rounding the
    # floor first would give 54.84.
    log = log_for(tmp_path, floor_only(floor="100.00", share_rate=None, start="2026-01-15", end="2027-01-15"))
    log.feed(revenue("r1", JAN, "0.004"), close("c1", JAN))
    assert log.entries[0]["amount"] == "54.83"


def test_the_top_up_cap_binds_and_what_it_cut_is_never_issued_later(tmp_path):
    log = log_for(tmp_path, floor_only(floor="1000.00", floor_cap="1500", share_rate=None))
    log.feed(close("c1", JAN), close("c2", FEB), close("c3", MAR))
    assert [(entry["amount"], entry.get("uncapped")) for entry in log.entries] == [
        ("1000.00", None), ("500.00", "1000.00"), ("0.00", "1000.00")
    ]
    assert log.summary()["outstanding"]["guarantor_to_provider"] == "1500.00"


def test_the_top_up_cap_and_the_lease_back_cap_never_share_a_cent(tmp_path):
    text = floor_only(floor="1000.00", floor_cap="1000", share_rate=None, backstop_rate="1.00", backstop_cap="1000")
    log = log_for(tmp_path, text)
    # January: every one of the pool's 7440 hours idle (lease-back 5952 capped to 1000) and no revenue (top-up 1000).
    log.feed(utilization("u1", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "7440", "0"), close("c1", JAN))
    lease_back, top_up = log.entries
    assert (lease_back["kind"], lease_back["amount"], lease_back["uncapped"]) == ("lease_back", "1000.00", "5952.00")
    assert (top_up["kind"], top_up["amount"]) == ("revenue_top_up", "1000.00")
    assert "uncapped" not in top_up
    assert top_up["basis"]["inputs"]["issued_before"] == "0.00"


def test_late_revenue_adjusts_the_top_up_through_its_cap(tmp_path):
    log = log_for(tmp_path, floor_only(floor="1000.00", floor_cap="1200", share_rate=None))
    log.feed(close("c1", JAN), revenue("r2", FEB, "900.00"), close("c2", FEB))
    # January's revenue arrives late: its top-up falls from 1000 to 300, a credit of 700 ...
    log.feed(revenue("r1", JAN, "700.00"), true_up("t1", "2026-03-10"))
    adjustment = log.entries[-1]
    assert brief(adjustment) == ("adjustment", "-700.00", GUARANTOR, PROVIDER, "2026-03-10", "2026-04-09")
    assert (adjustment["id"], adjustment["of"], adjustment["adjusts"]) == (
        "v2/2026-01/revenue_top_up/adj1", "revenue_top_up", "v2/2026-01/revenue_top_up"
    )
    assert adjustment["events"] == ["r1", "t1"]
    # ... applied at once, as a credit, to the guarantor's open top-ups (oldest due first).
    assert adjustment["applied"] == [{"entry": "v2/2026-01/revenue_top_up", "amount": "700.00"}]
    # E is now 300 + 100 = 400 and I is 400: the cap's headroom is back for March.
    log.feed(close("c3", MAR))
    assert (log.entries[-1]["amount"], log.entries[-1]["uncapped"]) == ("800.00", "1000.00")


def test_a_correction_in_a_closed_period_restates_its_top_up_at_the_next_close(tmp_path):
    log = log_for(tmp_path, floor_only(floor="1000.00", share_rate="0.10"))
    log.feed(revenue("r1", JAN, "400.00"), close("c1", JAN))
    log.feed(correction("x1", "r1", {"period": JAN, "amount": "1200.00", "currency": "USD"}), close("c2", FEB))
    kinds = [(entry["kind"], entry.get("of"), entry["amount"]) for entry in log.entries]
    assert kinds == [
        ("revenue_top_up", None, "600.00"),
        ("revenue_share", None, "40.00"),
        ("adjustment", "revenue_top_up", "-600.00"),  # at February's close: top-up first ...
        ("adjustment", "revenue_share", "80.00"),  # ... then the revenue share, of the same period
        ("revenue_top_up", None, "1000.00"),
    ]


def test_a_close_issues_lease_back_then_top_up_then_revenue_share_then_debt_service(tmp_path):
    text = agreement_text(floor="1000.00", share_rate="0.10", backstop_rate="1.00")
    log = log_for(tmp_path, text)
    log.feed(utilization("u1", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "100", "0"),
             revenue("r1", JAN, "800.00"), close("c1", JAN))
    assert [entry["kind"] for entry in log.entries] == ["lease_back", "revenue_top_up", "revenue_share", "debt_service"]


def test_the_share_above_the_floor_is_taken_on_revenue_less_the_scheduled_floor(tmp_path):
    log = log_for(tmp_path, floor_only(floor="1000.00", share_rate="0.10", above_floor=True))
    log.feed(revenue("r1", JAN, "1500.00"), close("c1", JAN), revenue("r2", FEB, "700.00"), close("c2", FEB))
    share, top_up = log.entries
    assert (share["kind"], share["amount"]) == ("revenue_share", "50.00")
    assert share["basis"]["formula"] == "round((revenue − floor) × rate)"
    assert share["basis"]["inputs"]["floor"] == "1000"
    assert (top_up["kind"], top_up["amount"]) == ("revenue_top_up", "300.00")  # and no share below the floor


def test_the_share_above_the_floor_uses_the_scheduled_floor_even_when_the_cap_cut_the_top_up(tmp_path):
    log = log_for(tmp_path, floor_only(floor="1000.00", floor_cap="100", share_rate="0.10", above_floor=True))
    log.feed(close("c1", JAN), revenue("r2", FEB, "1100.00"), close("c2", FEB))
    top_up, share = log.entries
    assert (top_up["amount"], top_up["uncapped"]) == ("100.00", "1000.00")
    assert share["amount"] == "10.00"  # (1100 − 1000) × 0.10, not (1100 − 100) × 0.10


def test_without_above_floor_the_share_is_on_all_revenue(tmp_path):
    log = log_for(tmp_path, floor_only(floor="1000.00", share_rate="0.10"))
    log.feed(revenue("r1", JAN, "800.00"), close("c1", JAN))
    assert [(entry["kind"], entry["amount"]) for entry in log.entries] == [
        ("revenue_top_up", "200.00"), ("revenue_share", "80.00")
    ]
    assert log.entries[1]["basis"]["formula"] == "round(revenue × rate)"
    assert "floor" not in log.entries[1]["basis"]["inputs"]


def test_revenue_is_accepted_with_a_floor_alone_and_rejected_with_neither(tmp_path):
    log = log_for(tmp_path, floor_only(floor="1000.00", share_rate=None))
    assert log.feed(revenue("r1", JAN, "1.00")).status == "applied"
    bare = Log.of(write_agreement(tmp_path / "bare", agreement_text(floor=None, share_rate=None)))
    rejection = bare.rejected(revenue("r1", JAN, "1.00", agreement="v2"))
    assert rejection.code == "not_applicable" and "has no revenue_share or revenue_floor" in str(rejection)


def test_a_version_without_a_floor_leaves_the_earlier_floor_cap_in_force(tmp_path):
    v1 = floor_only(floor="1000.00", floor_cap="1500", share_rate="0.10")
    v2 = floor_only(version=2, effective="2026-02-01", floor=None, share_rate="0.10")
    v3 = floor_only(version=3, effective="2026-03-01", floor="1000.00", share_rate="0.10")
    log = log_for(tmp_path, v1, v2, v3)
    log.feed(close("c1", JAN))
    # January's revenue turns negative after its close; February's close, decided by version 2,
    # which has no floor, adjusts it under version 1's cap of 1500: 500 of the 900 are left.
    log.feed(revenue("r1", JAN, "-900.00"), close("c2", FEB), close("c3", MAR))
    top_ups = [entry for entry in log.entries if "revenue_top_up" in (entry["kind"], entry.get("of"))]
    assert [(entry["period"], entry["kind"], entry["amount"], entry.get("uncapped")) for entry in top_ups] == [
        ("2026-01", "revenue_top_up", "1000.00", None),
        ("2026-01", "adjustment", "500.00", "900.00"),
        ("2026-03", "revenue_top_up", "1000.00", None),  # version 3's floor has no cap: none is in force
    ]
    assert top_ups[1]["version"] == 1  # the adjustment computes with the version governing January


def test_top_ups_are_obligations_that_payments_settle(tmp_path):
    log = log_for(tmp_path, floor_only(floor="1000.00", share_rate=None))
    log.feed(close("c1", JAN), payment("p1", GUARANTOR, PROVIDER, "1000.00", "2026-03-13"))
    payment_entry, interest = log.entries[1:]
    assert payment_entry["applied"] == [{"entry": "v2/2026-01/revenue_top_up", "amount": "1000.00"}]
    assert interest["kind"] == "late_interest" and interest["amount"] == "2.19"  # 1000 × 0.08 × 10 / 365
    assert log.summary()["outstanding"]["guarantor_to_provider"] == "2.19"
