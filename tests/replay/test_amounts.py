"""Amounts of SPEC §5.3–§5.5 on small logs worked out by hand in each test's comments."""

from tests.replay.support import (
    agreement_text, close, correction, engine_for, feed, line, payment, revenue, utilization,
)

JAN = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
FEB = ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z")
MAR = ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")


def test_cap_cuts_a_raise_and_a_cut_claws_back_only_above_the_entitlement(tmp_path):
    engine = engine_for(tmp_path, agreement_text(cap="5000.00"))
    # January: H = 0.80 × 7440 − 0 = 5952 h × 2.00 = 11904.00, cut to the 5000.00 cap.
    _, entries = feed(engine, utilization("u1", *JAN, "7440", "0"), close("c1", "2026-01"))
    january = entries["a1/2026-01/lease_back/p1"]
    assert (january["amount"], january["uncapped"]) == ("5000.00", "11904.00")
    # Sold becomes 5000: target (5952 − 5000) × 2 = 1904.00, d = −10000.00; E + d − I = −3096.00.
    fix = {"pool": "p1", "start": JAN[0], "end": JAN[1], "available_gpu_hours": "7440", "sold_gpu_hours": "5000"}
    _, entries = feed(engine, correction("k1", "u1", fix), close("c2", "2026-02"))
    adjustment = entries["a1/2026-01/lease_back/p1/adj1"]
    assert adjustment["amount"] == "-3096.00"
    assert adjustment["uncapped"] == "-10000.00"
    assert (adjustment["of"], adjustment["adjusts"], adjustment["pool"]) == ("lease_back", "a1/2026-01/lease_back/p1", "p1")
    assert (adjustment["date"], adjustment["due"]) == ("2026-03-01", "2026-03-31")
    assert adjustment["events"] == ["u1", "k1", "c2"]
    # The cut is a credit of the guarantor, applied at once to January's open lease-back.
    assert adjustment["applied"] == [{"entry": "a1/2026-01/lease_back/p1", "amount": "3096.00"}]
    assert adjustment["unapplied"] == "0.00"
    summary = engine.summary()["agreements"]["a1"]
    assert summary["outstanding"]["guarantor_to_provider"] == "1904.00"
    assert summary["totals"]["lease_back"] == "5000.00"
    assert summary["totals"]["adjustment"] == "-3096.00"


def test_payments_apply_named_first_then_oldest_due_and_charge_late_interest(tmp_path):
    engine = engine_for(tmp_path, agreement_text())
    # January 11904.00 due 2026-03-03; February 6720 h available: 5376 h × 2 = 10752.00 due 2026-03-31.
    feed(engine, utilization("u1", *JAN, "7440", "0"), close("c1", "2026-01"),
         utilization("u2", *FEB, "6720", "0"), close("c2", "2026-02"))
    _, entries = feed(engine, payment("pay1", "Guar", "Prov", "15000.00", "2026-03-13", "a1/2026-02/lease_back/p1"))
    paid = entries["a1/payment/pay1"]
    assert paid["applied"] == [
        {"entry": "a1/2026-02/lease_back/p1", "amount": "10752.00"},
        {"entry": "a1/2026-01/lease_back/p1", "amount": "4248.00"},
    ]
    assert (paid["unapplied"], paid["applies_to"], paid["due"]) == ("0.00", "a1/2026-02/lease_back/p1", None)
    # Only January's part was late: 4248 × 0.10 × 10 / 365 = 11.638… → 11.64, due 30 days after the payment.
    interest = entries["a1/late_interest/pay1/1"]
    assert (interest["amount"], interest["due"], interest["debtor"]) == ("11.64", "2026-04-12", "Guar")
    assert interest["events"] == ["pay1"]
    # 10000.00 on 2026-04-02: January's 7656.00 (30 days late → 62.93), the 11.64 (not yet due), 2332.36 left;
    # the new late interest is settled at once from that credit.
    _, entries = feed(engine, payment("pay2", "Guar", "Prov", "10000.00", "2026-04-02"))
    paid = entries["a1/payment/pay2"]
    assert paid["applied"] == [
        {"entry": "a1/2026-01/lease_back/p1", "amount": "7656.00"},
        {"entry": "a1/late_interest/pay1/1", "amount": "11.64"},
    ]
    assert paid["unapplied"] == "2332.36"
    interest = entries["a1/late_interest/pay2/1"]
    assert (interest["amount"], interest["credit_applied"]) == ("62.93", "62.93")
    summary = engine.summary()["agreements"]["a1"]
    assert summary["outstanding"] == {"guarantor_to_provider": "0.00", "provider_to_guarantor": "0.00"}
    assert summary["unapplied_credit"]["guarantor_to_provider"] == "2269.43"


def test_unapplied_credit_never_crosses_directions(tmp_path):
    engine = engine_for(tmp_path, agreement_text())
    feed(engine, payment("pre", "Prov", "Guar", "50.00", "2025-12-01"))  # before the term: allowed
    _, entries = feed(engine, revenue("r1", "2026-01", "1000.00"), utilization("u1", *JAN, "7440", "7440"),
                      close("c1", "2026-01"))
    share = entries["a1/2026-01/revenue_share"]
    assert (share["amount"], share["credit_applied"]) == ("100.00", "50.00")
    summary = engine.summary()["agreements"]["a1"]
    assert summary["outstanding"]["provider_to_guarantor"] == "50.00"
    assert summary["unapplied_credit"] == {"guarantor_to_provider": "0.00", "provider_to_guarantor": "0.00"}


def test_revenue_share_steps_down_by_contract_year_and_ignores_losses(tmp_path):
    engine = engine_for(tmp_path, agreement_text(backstop=False))
    periods = ["2026-01"] + [f"2026-{month:02d}" for month in range(2, 13)] + ["2027-01"]
    lines = [revenue("r-loss", "2026-01", "-500.00")]
    lines += [close(f"c{n}", period) for n, period in enumerate(periods[:-1])]
    lines += [revenue("r-y2", "2027-01", "1000.00"), close("c-y2", "2027-01")]
    _, entries = feed(engine, *lines)
    assert "a1/2026-01/revenue_share" not in entries  # R ≤ 0: target 0, no change, no entry
    year_two = entries["a1/2027-01/revenue_share"]
    assert year_two["amount"] == "50.00"
    assert year_two["basis"]["inputs"]["contract_year"] == "2"
    assert year_two["basis"]["rule"] == "revenue_share.steps[1].rate"


def test_idle_cover_pays_every_unsold_hour(tmp_path):
    engine = engine_for(tmp_path, agreement_text(covers="idle"))
    # 100 h available, 70 sold (below 80): idle cover pays 30 h × 3.00 on the B200 pool.
    _, entries = feed(engine, utilization("u1", *JAN, "100", "70", pool="p2"), close("c1", "2026-01"))
    assert entries["a1/2026-01/lease_back/p2"]["amount"] == "90.00"


def test_true_up_issues_restatements_now_and_nothing_when_nothing_changed(tmp_path):
    engine = engine_for(tmp_path, agreement_text())
    feed(engine, utilization("u1", *JAN, "7440", "5000"), close("c1", "2026-01"))
    _, entries = feed(engine, correction("k1", "u1"), line(id="t1", type="true_up", agreement="a1", date="2026-02-15"))
    adjustment = entries["a1/2026-01/lease_back/p1/adj1"]
    assert (adjustment["amount"], adjustment["date"], adjustment["due"]) == ("-1904.00", "2026-02-15", "2026-03-17")
    assert adjustment["events"] == ["k1", "t1"]
    outcomes, entries = feed(engine, line(id="t2", type="true_up", agreement="a1", date="2026-02-16"))
    assert outcomes[0].status == "applied" and entries == {}
    # The void is undone by a replacement: a second adjustment of the same key, adjusting its first entry.
    back = {"pool": "p1", "start": JAN[0], "end": JAN[1], "available_gpu_hours": "7440", "sold_gpu_hours": "5000"}
    _, entries = feed(engine, correction("k2", "u1", back), close("c2", "2026-02"))
    assert entries["a1/2026-01/lease_back/p1/adj2"]["amount"] == "1904.00"
    assert entries["a1/2026-01/lease_back/p1/adj2"]["adjusts"] == "a1/2026-01/lease_back/p1"


def test_adjustment_of_a_key_with_no_first_entry_adjusts_null(tmp_path):
    engine = engine_for(tmp_path, agreement_text())
    feed(engine, utilization("u1", *JAN, "7440", "7440"), close("c1", "2026-01"))
    lower = {"pool": "p1", "start": JAN[0], "end": JAN[1], "available_gpu_hours": "7440", "sold_gpu_hours": "5952"}
    _, entries = feed(engine, correction("k1", "u1", {**lower, "sold_gpu_hours": "5000"}), close("c2", "2026-02"))
    assert entries["a1/2026-01/lease_back/p1/adj1"]["adjusts"] is None
    _, entries = feed(engine, correction("k2", "u1", {**lower, "sold_gpu_hours": "4000"}), close("c3", "2026-03"))
    assert entries["a1/2026-01/lease_back/p1/adj2"]["adjusts"] == "a1/2026-01/lease_back/p1/adj1"


def test_an_amendment_keeps_the_old_rate_for_old_periods_but_the_new_cap_for_new_closes(tmp_path):
    v1 = agreement_text()
    v2 = (agreement_text(cap="1000.00").replace("version: 1", "version: 2")
          .replace("effective: 2026-01-01", "effective: 2026-03-01").replace("H200: 2.00", "H200: 3.00"))
    engine = engine_for(tmp_path, v1, v2)
    # January under v1: (5952 − 2000) × 2.00 = 7904.00, no cap.
    _, entries = feed(engine, utilization("u1", *JAN, "7440", "2000"), close("c1", "2026-01"), close("c2", "2026-02"))
    assert entries["a1/2026-01/lease_back/p1"]["amount"] == "7904.00"
    fix = {"pool": "p1", "start": JAN[0], "end": JAN[1], "available_gpu_hours": "7440", "sold_gpu_hours": "0"}
    _, entries = feed(engine, correction("k1", "u1", fix), utilization("u3", *MAR, "7440", "0"), close("c3", "2026-03"))
    # January's target is recomputed at v1's rate (11904.00, d = 4000.00) under v2's cap of 1000.00, long spent.
    adjustment = entries["a1/2026-01/lease_back/p1/adj1"]
    assert (adjustment["version"], adjustment["amount"], adjustment["uncapped"]) == (1, "0.00", "4000.00")
    march = entries["a1/2026-03/lease_back/p1"]
    assert (march["version"], march["amount"], march["uncapped"]) == (2, "0.00", "17856.00")
    assert march["basis"]["inputs"]["rate"] == "3.00"


def test_quarterly_periods_with_a_partial_first_quarter(tmp_path):
    engine = engine_for(tmp_path, agreement_text(start="2026-02-15", end="2027-02-15", period="quarterly"))
    # 2026-Q1 runs 2026-02-15 → 2026-04-01: 45 days, so 10 GPUs report at most 10800 h.
    over = utilization("u0", "2026-02-15T00:00:00Z", "2026-04-01T00:00:00Z", "10801", "0")
    assert "10 GPUs × 1080 h = 10800" in engine.feed_line(over).reason
    _, entries = feed(engine, utilization("u1", "2026-02-15T00:00:00Z", "2026-04-01T00:00:00Z", "10800", "0"),
                      close("c1", "2026-Q1"))
    first = entries["a1/2026-Q1/lease_back/p1"]
    assert (first["amount"], first["date"], first["due"]) == ("17280.00", "2026-04-01", "2026-05-01")


def test_released_ids_are_processed_on_their_own(tmp_path):
    engine = engine_for(tmp_path, agreement_text(lock=0))
    feed(engine, utilization("u1", *JAN, "10", "0"), close("c1", "2026-01"))
    outcome = engine.feed_line(utilization("u1", *FEB, "10", "0"))  # January is locked, u1 released
    assert outcome.status == "applied"
