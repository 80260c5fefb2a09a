"""Tricky SPEC rules checked by hand and found correct; amounts worked out in the comments.

Agreement of tests/replay/support.py: pool p1 = 10 H200 GPUs at 2.00/GPU-hour, threshold 0.80
(shortfall), net 30, late interest 10 % ACT/365F, 2 places half_even.
"""

from tests.replay.support import agreement_text, close, correction, engine_for, feed, line, payment, utilization

JAN = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
FEB = ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z")


def version(text: str, number: int, effective: str) -> str:
    return text.replace("version: 1", f"version: {number}").replace("effective: 2026-01-01", f"effective: {effective}")


def jan(available: str, sold: str = "0") -> dict:
    return {"pool": "p1", "start": JAN[0], "end": JAN[1], "available_gpu_hours": available, "sold_gpu_hours": sold}


def test_cap_in_force_comes_from_the_latest_earlier_backstop_when_the_deciding_version_has_none(tmp_path):
    # v1 (Jan–Feb) cap 13000; v2 (Mar–Apr) no backstop; v3 (May–) backstop without a cap.
    v1 = agreement_text(end="2026-08-01", cap="13000.00")
    v2 = version(agreement_text(end="2026-08-01", backstop=False), 2, "2026-03-01")
    v3 = version(agreement_text(end="2026-08-01"), 3, "2026-05-01")
    engine = engine_for(tmp_path, v1, v2, v3)
    # January: (0.8 × 7440 − 2000) × 2 = 7904.00; E = I = 7904.
    _, e = feed(engine, utilization("u1", *JAN, "7440", "2000"), close("c1", "2026-01"), close("c2", "2026-02"))
    assert e["a1/2026-01/lease_back/p1"]["amount"] == "7904.00"
    # Sold 0: target 11904.00, d = 4000; at March's close (v2, no backstop) v1's cap 13000 is in force:
    # min(4000, 13000 − 7904) = 4000, not cut. Recorded with v1, which governs January.
    _, e = feed(engine, correction("k1", "u1", jan("7440")), close("c3", "2026-03"))
    adj = e["a1/2026-01/lease_back/p1/adj1"]
    assert (adj["amount"], adj["version"], "uncapped" in adj) == ("4000.00", 1, False)
    assert (adj["date"], adj["due"]) == ("2026-04-01", "2026-05-01")
    # Sold 1000: target 9904.00, d = −2000: min(0, max(−2000, E + d − I = 11904 − 2000 − 11904)) = −2000.
    _, e = feed(engine, correction("k2", "u1", jan("7440", "1000")), close("c4", "2026-04"))
    assert e["a1/2026-01/lease_back/p1/adj2"]["amount"] == "-2000.00"
    # At May's close v3 decides: no cap at all, so d = +2000 is issued whole.
    _, e = feed(engine, correction("k3", "u1", jan("7440")), close("c5", "2026-05"))
    assert e["a1/2026-01/lease_back/p1/adj3"]["amount"] == "2000.00"


def test_a_true_up_uses_the_cap_and_payment_terms_of_the_version_for_its_date(tmp_path):
    v1 = agreement_text(end="2026-08-01")
    v2 = version(agreement_text(end="2026-08-01", cap="1000.00"), 2, "2026-04-01").replace(
        "payment_terms_days: 30", "payment_terms_days: 5")
    engine = engine_for(tmp_path, v1, v2)
    # Jan 1000 h: 800 × 2 = 1600.00; Feb 100 h: 160.00. E = I = 1760.
    feed(engine, utilization("u1", *JAN, "1000", "0"), close("c1", "2026-01"),
         utilization("u2", *FEB, "100", "0"), close("c2", "2026-02"))
    # January becomes 2000 h: target 3200.00, d = 1600; true-up dated 2026-04-10 (period governed by v2):
    # cap 1000 → amount min(1600, max(0, 1000 − 1760)) = 0, uncapped 1600; date D, due D + 5 days;
    # the entry records v1, which governs January. Written although its amount is 0.
    _, e = feed(engine, correction("k1", "u1", jan("2000")), line(id="t1", type="true_up", agreement="a1", date="2026-04-10"))
    adj = e["a1/2026-01/lease_back/p1/adj1"]
    assert (adj["amount"], adj["uncapped"], adj["version"]) == ("0.00", "1600.00", 1)
    assert (adj["date"], adj["due"], adj["adjusts"]) == ("2026-04-10", "2026-04-15", "a1/2026-01/lease_back/p1")
    assert "applied" not in adj  # neither obligation nor credit
    assert engine.summary()["agreements"]["a1"]["outstanding"]["guarantor_to_provider"] == "1760.00"


def test_payments_after_the_term_use_the_last_version_s_late_interest(tmp_path):
    v1 = agreement_text(end="2026-06-01")
    v2 = version(agreement_text(end="2026-06-01"), 2, "2026-03-01").replace(
        "payment_terms_days: 30", "payment_terms_days: 10").replace("annual_rate: 0.10", "annual_rate: 0.20")
    engine = engine_for(tmp_path, v1, v2)
    # January 1000 h: 1600.00, due 2026-03-03 (v1's 30 days).
    feed(engine, utilization("u1", *JAN, "1000", "0"), close("c1", "2026-01"))
    # Paid on the due date: due < D does not hold, no late interest.
    _, e = feed(engine, payment("p0", "Guar", "Prov", "100.00", "2026-03-03"))
    assert [k for k in e] == ["a1/payment/p0"]
    # 2026-07-10 is after term.end: v2 decides. 100 × 0.20 × 129 / 365 = 7.068… → 7.07, due D + 10.
    _, e = feed(engine, payment("p1", "Guar", "Prov", "100.00", "2026-07-10"))
    assert e["a1/payment/p1"]["version"] == 2
    li = e["a1/late_interest/p1/1"]
    assert (li["amount"], li["due"], li["version"], li["period"]) == ("7.07", "2026-07-20", 2, None)


def test_a_credit_beyond_what_is_open_is_kept_and_settles_the_next_obligation(tmp_path):
    engine = engine_for(tmp_path, agreement_text(end="2026-08-01"))
    # January 1000 h → 1600.00; 1000.00 paid on its due date (no interest), 600.00 open.
    feed(engine, utilization("u1", *JAN, "1000", "0"), close("c1", "2026-01"),
         payment("p1", "Guar", "Prov", "1000.00", "2026-03-03"))
    # January becomes 100 h → 160.00: d = −1440.00, a credit at once: 600.00 to January, 840.00 unapplied;
    # February's 160.00 (written after it at the same close) is settled from that credit.
    _, e = feed(engine, correction("k1", "u1", jan("100")), utilization("u2", *FEB, "100", "0"), close("c2", "2026-02"))
    adj = e["a1/2026-01/lease_back/p1/adj1"]
    assert adj["applied"] == [{"entry": "a1/2026-01/lease_back/p1", "amount": "600.00"}]
    assert adj["unapplied"] == "840.00"
    assert e["a1/2026-02/lease_back/p1"]["credit_applied"] == "160.00"
    summary = engine.summary()["agreements"]["a1"]
    assert summary["unapplied_credit"]["guarantor_to_provider"] == "680.00"
    assert summary["outstanding"]["guarantor_to_provider"] == "0.00"
    assert summary["totals"] == {"adjustment": "-1440.00", "lease_back": "1760.00", "payment": "1000.00"}


def test_repeats_and_released_ids_after_a_correction_moved_an_event_between_periods(tmp_path):
    engine = engine_for(tmp_path, agreement_text(end="2026-08-01", lock=1))
    feb = {**jan("100"), "start": FEB[0], "end": FEB[1]}
    u1 = utilization("u1", *JAN, "100", "0")
    k1 = correction("k1", "u1", feb)
    k2 = correction("k2", "u1", {**feb, "available_gpu_hours": "50"})
    outcomes, _ = feed(engine, u1, close("c1", "2026-01"), k1, u1, close("c2", "2026-02"), u1, k1, k2,
                       close("c3", "2026-03"), utilization("u1", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "10", "0"), k2)
    assert [o.status for o in outcomes] == [
        "applied", "applied", "applied",
        "duplicate",  # January closed but not locked yet
        "applied",    # closing February locks January (L = 1)
        "rejected",   # u1's own period (January) is locked, although its contribution now lives in February
        "rejected",   # k1 touched January and February; January is locked
        "applied",    # k2 touches only February (closed, unlocked)
        "applied",    # February locked: u1, k1, k2 released
        "applied",    # a released id is processed on its own (a new March input)
        "rejected",   # k2 again, on its own: it would move u1 into locked February
    ]
    assert all("locked" in o.reason for o in outcomes if o.status == "rejected")
