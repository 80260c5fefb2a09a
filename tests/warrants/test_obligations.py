"""Exercise prices and cash in lieu are cash obligations like any other (SPEC §5.5).

They take payments in (due date, seq) order, bear late interest when paid after their due
date, and take unapplied credit of their direction the moment they are written. Share
entries never do: a negative `split_adjustment` is not a credit.
"""

from __future__ import annotations

from warrant_world import Log, agreement_text, brief, write_agreement

TRANCHES = """
    - id: a
      shares: 1000
      vests: {on_or_after: 2026-01-01}
"""


def log_for(tmp_path, **terms) -> Log:
    log = Log.of(write_agreement(tmp_path / "w", agreement_text(TRANCHES, **terms)))
    log.price("2026-01-02", "1.00")  # vests `a`
    return log


def summary(log: Log) -> dict:
    return log.engine.summary()["agreements"]["w"]


def test_a_late_payment_of_an_exercise_price_creates_late_interest(tmp_path):
    log = log_for(tmp_path, strike="1.00")
    log.exercise("2026-02-10", "a", 1000, event_id="x1")  # 1000.00, due 2026-03-12
    entries = log.pay("2026-04-11", "Guar", "1000.00", event_id="pay1")  # 30 days late
    assert [brief(e) for e in entries] == [
        ("w/payment/pay1", "payment", "1000.00", "USD", "2026-04-11", None, "Guar", "Prov", None),
        # round(1000.00 × 0.10 × 30 / 365) = 8.22, due 30 days after the payment.
        ("w/late_interest/pay1/1", "late_interest", "8.22", "USD", "2026-04-11", "2026-05-11", "Guar", "Prov", None),
    ]
    assert entries[0]["applied"] == [{"entry": "w/warrants/a/exercise/x1/price", "amount": "1000.00"}]
    assert entries[1]["basis"]["inputs"]["obligation"] == "w/warrants/a/exercise/x1/price"
    assert entries[1]["basis"]["inputs"]["days"] == "30"
    assert summary(log)["outstanding"]["guarantor_to_provider"] == "8.22"


def test_a_payment_on_time_creates_no_late_interest(tmp_path):
    log = log_for(tmp_path, strike="1.00")
    log.exercise("2026-02-10", "a", 500, event_id="x1")
    entries = log.pay("2026-03-12", "Guar", "500.00", event_id="pay1")  # on the due date
    assert [e["kind"] for e in entries] == ["payment"]


def test_exercise_prices_and_lease_back_are_paid_in_due_date_order(tmp_path):
    log = log_for(tmp_path, strike="1.00")
    log.exercise("2026-01-20", "a", 100, event_id="x1")  # 100.00, due 2026-02-19
    log.usage("2026-01", "100", "0")
    log.close("2026-01")  # lease-back 160.00, due 2026-03-03
    entries = log.pay("2026-02-25", "Guar", "200.00", event_id="pay1")
    assert entries[0]["applied"] == [
        {"entry": "w/warrants/a/exercise/x1/price", "amount": "100.00"},
        {"entry": "w/2026-01/lease_back/p1", "amount": "100.00"},
    ]
    assert [e["kind"] for e in entries] == ["payment", "late_interest"]  # 6 days late on the exercise price


def test_unapplied_credit_of_the_guarantor_settles_a_new_exercise_price_at_once(tmp_path):
    log = log_for(tmp_path, strike="1.00")
    entries = log.pay("2026-01-15", "Guar", "500.00", event_id="pay1")  # nothing open yet
    assert entries[0]["unapplied"] == "500.00"
    entries = log.exercise("2026-02-10", "a", 300, event_id="x1")
    price = entries[0]
    assert (price["kind"], price["amount"], price["credit_applied"]) == ("exercise_price", "300.00", "300.00")
    assert "credit_applied" not in entries[1]  # the shares take no credit
    entries = log.exercise("2026-02-11", "a", 450, event_id="x2")
    assert entries[0]["credit_applied"] == "200.00"
    state = summary(log)
    assert state["outstanding"]["guarantor_to_provider"] == "250.00"
    assert state["unapplied_credit"]["guarantor_to_provider"] == "0.00"
    # What the credit settled bears no late interest; what is left is paid late and does.
    entries = log.pay("2026-04-12", "Guar", "250.00", event_id="pay2")
    assert entries[0]["applied"] == [{"entry": "w/warrants/a/exercise/x2/price", "amount": "250.00"}]
    assert [(e["kind"], e["amount"]) for e in entries] == [("payment", "250.00"), ("late_interest", "2.05")]


def test_credit_never_crosses_directions(tmp_path):
    log = log_for(tmp_path, strike="2.50")
    log.pay("2026-01-15", "Guar", "500.00")  # the guarantor's credit toward the provider
    entries = log.exercise("2026-02-10", "a", 7, "net", "10.00", event_id="x1")  # cash in lieu 2.50
    assert entries[1]["kind"] == "cash_in_lieu" and "credit_applied" not in entries[1]
    assert summary(log)["outstanding"]["provider_to_guarantor"] == "2.50"


def test_unapplied_credit_of_the_provider_settles_cash_in_lieu(tmp_path):
    log = log_for(tmp_path, strike="2.50")
    log.pay("2026-01-15", "Prov", "1.00")
    entries = log.exercise("2026-02-10", "a", 7, "net", "10.00", event_id="x1")
    assert (entries[1]["kind"], entries[1]["credit_applied"]) == ("cash_in_lieu", "1.00")
    assert summary(log)["outstanding"]["provider_to_guarantor"] == "1.50"


def test_cash_in_lieu_paid_late_bears_late_interest(tmp_path):
    log = log_for(tmp_path, strike="0.01")
    entries = log.exercise("2026-02-10", "a", 1000, "net", "3650.00", event_id="x1")
    # X = 1000 × 3649.99 / 3650 = 999.99726…; cash in lieu (X − 999) × 3650 = 3650 − 1000 × 0.01 = 3640.00
    assert [(e["kind"], e["amount"], e["due"]) for e in entries] == [
        ("share_delivery", "999", "2026-02-10"), ("cash_in_lieu", "3640.00", "2026-03-12"),
    ]
    entries = log.pay("2026-03-22", "Prov", "3640.00", event_id="pay1")  # 10 days late: 9.972… of interest
    assert [brief(e) for e in entries][1] == (
        "w/late_interest/pay1/1", "late_interest", "9.97", "USD", "2026-03-22", "2026-04-21", "Prov", "Guar", None,
    )


def test_a_negative_split_adjustment_is_not_a_credit(tmp_path):
    log = log_for(tmp_path, strike="2.50")
    entries = log.split("2026-02-01", 1, 3)  # 1000 → 333: 667 shares fewer
    assert [(e["kind"], e["amount"]) for e in entries] == [("split_adjustment", "-667")]
    assert "applied" not in entries[0] and "unapplied" not in entries[0]
    assert summary(log)["unapplied_credit"]["provider_to_guarantor"] == "0.00"
    entries = log.exercise("2026-02-10", "a", 7, "net", "30.00", event_id="x1")  # strike in force 7.50
    assert [(e["kind"], e["amount"]) for e in entries] == [("share_delivery", "5"), ("cash_in_lieu", "7.50")]
    assert "credit_applied" not in entries[1]
    assert summary(log)["totals"] == {
        "cash_in_lieu": "7.50", "share_delivery": "5", "split_adjustment": "-667", "warrant_vested": "1000",
    }
