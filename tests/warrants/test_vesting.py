"""Golden cases for vesting (SPEC §3 conditions, §5.6): one per condition kind and occasion.

Each test writes a small agreement, replays a few events and asserts the entries field by
field: ids, amounts, dates, due, debtor and creditor, tranche, and the basis that explains
the condition that held.
"""

from __future__ import annotations

from warrant_world import Log, agreement_text, brief, write_agreement


def log_for(tmp_path, tranches: str, **terms) -> Log:
    return Log.of(write_agreement(tmp_path / "w", agreement_text(tranches, **terms)))


def vested(tranche: str, amount: int, on: str) -> tuple:
    return (f"w/warrants/{tranche}/vested", "warrant_vested", str(amount), "shares", on, None, "Prov", "Guar", tranche)


# ---- on_or_after ---------------------------------------------------------------------


def test_on_or_after_vests_at_the_first_close_whose_end_date_reaches_it(tmp_path):
    log = log_for(tmp_path, """
        - id: a
          shares: 1000
          vests: {on_or_after: 2026-03-01}
    """)
    assert log.close("2026-01") == []  # evaluated as of 2026-02-01
    entries = log.close("2026-02", "close-feb")  # evaluated as of 2026-03-01, P's end date
    assert [brief(e) for e in entries] == [vested("a", 1000, "2026-03-01")]
    entry = entries[0]
    assert entry["period"] is None
    assert entry["events"] == ["close-feb"]
    assert entry["basis"]["rule"] == "warrants.tranches[0].vests"
    assert entry["basis"]["inputs"]["condition"] == "on_or_after 2026-03-01: 2026-03-01 ≥ 2026-03-01"
    assert entry["basis"]["inputs"]["evaluated_on"] == "2026-03-01"
    assert entry["basis"]["inputs"]["split_factor"] == "1"
    assert log.close("2026-03") == []  # a vested tranche never vests again


def test_on_or_after_vests_at_a_share_price_after_recording_it(tmp_path):
    log = log_for(tmp_path, """
        - id: a
          shares: 1000
          vests: {on_or_after: 2026-03-01}
    """)
    assert log.price("2026-02-27", "5.00") == []
    entries = log.price("2026-03-02", "5.00", event_id="px")
    assert [brief(e) for e in entries] == [vested("a", 1000, "2026-03-02")]
    assert entries[0]["events"] == ["px"]


def test_a_close_made_by_close_through_vests_with_no_causing_event(tmp_path):
    log = log_for(tmp_path, """
        - id: a
          shares: 10
          vests: {on_or_after: 2026-02-01}
    """)
    from datetime import date

    entries = [entry.fields for entry in log.engine.close_through(date(2026, 2, 1))]
    assert [brief(e) for e in entries] == [vested("a", 10, "2026-02-01")]
    assert entries[0]["events"] == []


# ---- lease_back_total_at_least -------------------------------------------------------


def test_lease_back_total_counts_the_close_s_own_lease_back_and_vests_after_it(tmp_path):
    log = log_for(tmp_path, """
        - id: lb
          shares: 500
          vests: {lease_back_total_at_least: 300}
    """)
    log.usage("2026-01", "100", "0")  # (0.8 × 100 − 0) × 2.00 = 160.00
    assert [e["kind"] for e in log.close("2026-01")] == ["lease_back"]  # 160.00 < 300
    log.usage("2026-02", "100", "0")
    entries = log.close("2026-02")
    assert [e["kind"] for e in entries] == ["lease_back", "warrant_vested"]  # vesting is step 4 of a close
    assert brief(entries[1]) == vested("lb", 500, "2026-03-01")
    assert entries[1]["basis"]["inputs"]["condition"] == (
        "lease_back_total_at_least 300: lease-back issued so far 320.00 ≥ 300"
    )


def test_lease_back_total_counts_adjustments_whatever_their_date(tmp_path):
    log = log_for(tmp_path, """
        - id: lb
          shares: 500
          vests: {lease_back_total_at_least: 200.00}
    """)
    log.usage("2026-01", "100", "0", event_id="u-jan")  # 160.00
    log.close("2026-01")
    # The January report is corrected after the close: 125 available, so 200.00 in total.
    log.ok("correction", corrects="u-jan", replacement={
        "pool": "p1", "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z",
        "available_gpu_hours": "125", "sold_gpu_hours": "0"})
    entries = log.ok("true_up", date="2026-02-10")
    assert [(e["kind"], e["amount"]) for e in entries] == [("adjustment", "40.00")]  # a true-up does not vest
    entries = log.price("2026-02-11", "1.00", event_id="px")  # the next evaluation sees I = 200.00
    assert [brief(e) for e in entries] == [vested("lb", 500, "2026-02-11")]
    assert entries[0]["basis"]["inputs"]["condition"].endswith("lease-back issued so far 200.00 ≥ 200.00")


# ---- vwap_at_least -------------------------------------------------------------------


def test_vwap_needs_n_observations_and_weights_them_by_volume(tmp_path):
    log = log_for(tmp_path, """
        - id: px
          shares: 70
          vests: {vwap_at_least: 10, days: 3}
    """)
    assert log.price("2026-02-02", "9", "100") == []
    assert log.price("2026-02-03", "12", "100") == []  # 2 observations of the 3 needed
    # The plain mean of 9, 12 and 9 is 10, but the volume-weighted one is 3900 / 400 = 9.75.
    assert log.price("2026-02-04", "9", "200") == []
    entries = log.price("2026-02-05", "12", "100", event_id="p4")  # 12, 9, 12: 4200 / 400 = 10.5
    assert [brief(e) for e in entries] == [vested("px", 70, "2026-02-05")]
    inputs = entries[0]["basis"]["inputs"]
    assert inputs["vwap_window"] == "2026-02-03..2026-02-05 (3 observations, split-adjusted)"
    assert inputs["condition"] == (
        "vwap_at_least 10 over 3 observations: VWAP of 2026-02-03..2026-02-05 (3 observations, split-adjusted) "
        "= 10.5 ≥ 10"
    )
    assert entries[0]["events"] == ["p4"]


def test_vwap_at_a_close_uses_only_observations_dated_on_or_before_its_end_date(tmp_path):
    log = log_for(tmp_path, """
        - id: later
          shares: 30
          vests:
            all:
              - on_or_after: 2026-02-01
              - vwap_at_least: 10
                days: 1
    """)
    assert log.price("2026-01-20", "12") == []  # too early for on_or_after
    assert log.price("2026-02-03", "8") == []  # the price has fallen below 10
    # The January close is evaluated as of 2026-02-01: the window is the 20 January price.
    entries = log.close("2026-01")
    assert [brief(e) for e in entries] == [vested("later", 30, "2026-02-01")]
    inputs = entries[0]["basis"]["inputs"]
    assert inputs["vwap_window vests.all[1]"] == "2026-01-20..2026-01-20 (1 observation, split-adjusted)"
    assert "= 12 ≥ 10" in inputs["condition"]


def test_vwap_adjusts_observations_by_later_splits_and_divides_the_threshold_by_f(tmp_path):
    log = log_for(tmp_path, """
        - id: px
          shares: 100
          vests: {vwap_at_least: 10, days: 2}
    """)
    assert log.price("2026-02-02", "11", "100") == []
    assert log.split("2026-02-03", 2, 1) == []  # nothing vested: no split_adjustment
    # 11 × 100 becomes 5.50 × 200; with 4.40 × 200 the VWAP is 1980 / 400 = 4.95 < 10 / 2.
    # (Unadjusted it would be 1980 / 300 = 6.6, which would pass.)
    assert log.price("2026-02-04", "4.40", "200") == []
    entries = log.price("2026-02-05", "5.60", "200")  # (880 + 1120) / 400 = 5 ≥ 5: equality holds
    assert [brief(e) for e in entries] == [vested("px", 200, "2026-02-05")]
    inputs = entries[0]["basis"]["inputs"]
    assert inputs["split_factor"] == "2"
    assert inputs["condition"].endswith("= 5 ≥ 10 ÷ split factor 2 = 5")


def test_a_split_adjusts_the_observations_before_it_in_log_order_whatever_its_date(tmp_path):
    log = log_for(tmp_path, """
        - id: px
          shares: 100
          vests: {vwap_at_least: 10, days: 3}
    """)
    log.price("2026-03-10", "12", "100")
    log.split("2026-03-01", 2, 1)  # dated before the observation, applied after it: it adjusts it
    log.price("2026-03-11", "5.50", "200")
    entries = log.price("2026-03-12", "5.50", "200")
    # (1200 + 1100 + 1100) / (200 + 200 + 200) = 17/3; by date, 100 shares would give 6.8.
    assert "= 17/3 ≈ 5.666667 ≥ 10 ÷ split factor 2 = 5" in entries[0]["basis"]["inputs"]["condition"]


# ---- all / any -----------------------------------------------------------------------


def test_nested_all_and_any(tmp_path):
    log = log_for(tmp_path, """
        - id: n
          shares: 9
          vests:
            all:
              - on_or_after: 2026-03-01
              - any:
                  - lease_back_total_at_least: 1000
                  - vwap_at_least: 10
                    days: 1
    """)
    assert log.price("2026-02-10", "12") == []  # too early
    assert log.price("2026-03-02", "9") == []  # neither lease-back nor price
    entries = log.price("2026-03-03", "10")
    assert [brief(e) for e in entries] == [vested("n", 9, "2026-03-03")]
    inputs = entries[0]["basis"]["inputs"]
    assert inputs["condition"] == (
        "all of [on_or_after 2026-03-01: 2026-03-03 ≥ 2026-03-01; any of [lease_back_total_at_least 1000: "
        "lease-back issued so far 0.00 < 1000; vwap_at_least 10 over 1 observation: VWAP of 2026-03-03..2026-03-03 "
        "(1 observation, split-adjusted) = 10 ≥ 10] holds] holds"
    )
    assert inputs["vwap_window vests.all[1].any[1]"] == "2026-03-03..2026-03-03 (1 observation, split-adjusted)"


# ---- when vesting is evaluated -------------------------------------------------------


def test_nothing_vests_as_of_expires_or_later(tmp_path):
    log = log_for(tmp_path, """
        - id: early
          shares: 10
          vests: {on_or_after: 2026-02-01}
        - id: late
          shares: 20
          vests: {on_or_after: 2026-03-01}
    """, expires="2026-03-01")
    assert [brief(e) for e in log.close("2026-01")] == [vested("early", 10, "2026-02-01")]
    assert log.close("2026-02") == []  # as of 2026-03-01 = expires
    assert log.price("2026-03-05", "1") == []
    assert not log.book.tranches["late"].vested


def test_vesting_at_an_exercise_comes_first_and_names_the_exercise(tmp_path):
    log = log_for(tmp_path, """
        - id: a
          shares: 100
          vests: {on_or_after: 2026-02-10}
        - id: b
          shares: 200
          vests: {on_or_after: 2026-02-10}
    """)
    entries = log.exercise("2026-02-12", "b", 10, event_id="x1")
    assert [brief(e) for e in entries] == [
        vested("a", 100, "2026-02-12"),
        vested("b", 200, "2026-02-12"),
        ("w/warrants/b/exercise/x1/price", "exercise_price", "0.10", "USD", "2026-02-12", "2026-03-14",
         "Guar", "Prov", "b"),
        ("w/warrants/b/exercise/x1/shares", "share_delivery", "10", "shares", "2026-02-12", "2026-02-12",
         "Prov", "Guar", "b"),
    ]
    assert all(e["events"] == ["x1"] for e in entries)


def test_the_version_governing_the_period_decides_conditions_and_order_at_a_close(tmp_path):
    v1 = agreement_text("""
        - id: a
          shares: 1
          vests: {on_or_after: 2026-06-01}
        - id: b
          shares: 2
          vests: {on_or_after: 2026-06-01}
    """)
    v2 = agreement_text("""
        - id: b
          shares: 2
          vests: {on_or_after: 2026-02-01}
        - id: a
          shares: 1
          vests: {on_or_after: 2026-02-01}
    """, version=2, effective="2026-03-01")
    log = Log.of(write_agreement(tmp_path / "w", v1, v2))
    assert log.price("2026-02-20", "1") == []  # decided by v1 (the period containing 20 February)
    assert log.close("2026-01") == []
    assert log.close("2026-02") == []  # February is governed by v1, although its end date is in v2's time
    entries = log.close("2026-03")  # governed by v2: v2's conditions, in v2's order
    assert [brief(e) for e in entries] == [vested("b", 2, "2026-04-01"), vested("a", 1, "2026-04-01")]
    assert [e["version"] for e in entries] == [2, 2]
    assert entries[0]["basis"]["rule"] == "warrants.tranches[0].vests"


# ---- splits --------------------------------------------------------------------------


def test_split_adjustments_only_for_vested_tranches_whose_remaining_changes(tmp_path):
    log = log_for(tmp_path, """
        - id: a
          shares: 1001
          vests: {on_or_after: 2026-01-01}
        - id: u
          shares: 1001
          vests: {on_or_after: 2026-06-01}
    """)
    log.price("2026-01-05", "1")  # vests a
    entries = log.split("2026-02-02", 1, 2, event_id="s1")  # floor(1001 / 2) = 500: half a share lost
    assert [brief(e) for e in entries] == [
        ("w/warrants/a/split/s1", "split_adjustment", "-501", "shares", "2026-02-02", None, "Prov", "Guar", "a"),
    ]
    inputs = entries[0]["basis"]["inputs"]
    assert (inputs["remaining_before"], inputs["remaining_after"]) == ("1001", "500")
    assert (inputs["split_factor_before"], inputs["split_factor_after"]) == ("1", "0.5")
    assert inputs["strike_in_force_after"] == "0.02"
    assert entries[0]["events"] == ["s1"]
    assert log.split("2026-02-03", 1, 1) == []  # nothing changes: no entry
    entries = log.split("2026-02-04", 3, 1, event_id="s3")
    assert [(e["id"], e["amount"]) for e in entries] == [("w/warrants/a/split/s3", "1000")]
    # u was split too (1001 → 500 → 1500) but, unvested, without entries; it vests what remains.
    assert [brief(e) for e in log.price("2026-06-01", "1")] == [vested("u", 1500, "2026-06-01")]
    assert log.book.factor == 1.5


def test_a_tranche_left_with_no_shares_vests_without_an_entry(tmp_path):
    log = log_for(tmp_path, """
        - id: z
          shares: 3
          vests: {on_or_after: 2026-03-01}
        - id: y
          shares: 8
          vests: {on_or_after: 2026-03-01}
    """)
    log.split("2026-02-01", 1, 4)  # z: floor(3 / 4) = 0; y: 2
    assert [brief(e) for e in log.price("2026-03-02", "1")] == [vested("y", 2, "2026-03-02")]
    assert log.book.tranches["z"].vested and log.book.tranches["z"].remaining == 0
    assert "exceeds the 0 shares remaining" in log.rejected(
        "exercise", tranche="z", shares=1, method="cash", date="2026-03-03", code="warrant")
