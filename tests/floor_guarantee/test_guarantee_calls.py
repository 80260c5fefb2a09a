"""The guarantee of debt service (SPEC §5.2 step 5, §5.5, §5.7, v2): debt service at each close,
calls with every rule and its rejection code, the three entries of a call, credits and late
interest on their own terms."""

from __future__ import annotations

import pytest

from engine.replay.settlement import Book
from engine.replay.snapshot import read_document
from v2_world import (
    GUARANTOR, LENDER, PROVIDER, Log, agreement_text, brief, call, close, correction, payment, revenue,
    write_agreement,
)

JAN_DS, FEB_DS = "v2/2026-01/debt_service", "v2/2026-02/debt_service"


def log_for(tmp_path, *versions: str) -> Log:
    return Log.of(write_agreement(tmp_path / "c", *versions))


def guarantee_only(**terms) -> str:
    return agreement_text(floor=None, share_rate=None, **terms)


def test_debt_service_is_owed_at_each_close_and_pro_rated_in_a_partial_period(tmp_path):
    log = log_for(tmp_path, guarantee_only(debt_service="1000000.00", start="2026-01-15", end="2027-01-15"))
    log.feed(close("c1", "2026-01"), close("c2", "2026-02"))
    january, february = log.entries
    assert brief(january) == ("debt_service", "548387.10", PROVIDER, LENDER, "2026-02-01", "2026-03-03")
    assert brief(february) == ("debt_service", "1000000.00", PROVIDER, LENDER, "2026-03-01", "2026-03-31")
    assert (january["id"], january["period"], january["events"]) == (JAN_DS, "2026-01", ["c1"])
    assert january["basis"]["inputs"]["scheduled"] == "17000000/31 ≈ 548387.096774"


def test_debt_service_depends_on_no_input_and_is_never_adjusted(tmp_path):
    log = log_for(tmp_path, agreement_text(floor="100.00", share_rate="0.10"))
    log.feed(revenue("r1", "2026-01", "50.00"), close("c1", "2026-01"))
    log.feed(correction("x1", "r1", {"period": "2026-01", "amount": "500.00", "currency": "USD"}), close("c2", "2026-02"))
    assert [entry.get("of") for entry in log.of_kind("adjustment")] == ["revenue_top_up", "revenue_share"]
    assert [entry["period"] for entry in log.of_kind("debt_service")] == ["2026-01", "2026-02"]


def test_debt_service_that_rounds_to_zero_writes_no_entry(tmp_path):
    # A term starting on 31 January: January has 1 day of 31, and 1 × 1 / 31 rounds to 0 at 0 places.
    log = log_for(tmp_path, guarantee_only(debt_service="1", places=0, start="2026-01-31", end="2027-01-31"))
    log.feed(close("c1", "2026-01"), close("c2", "2026-02"))
    assert [(entry["period"], entry["amount"]) for entry in log.entries] == [("2026-02", "1")]


def spec9_like(tmp_path, **terms) -> Log:
    """The guarantee of SPEC §9's v2 example: 1,000,000 a month, covers 0.80, 30 cure days."""
    defaults = dict(debt_service="1000000.00", covers="0.80", cure_days=30, guarantee_cap="1500000",
                    reimbursement_days=60, reimbursement_late="0.12", start="2026-01-15", end="2027-01-15")
    return log_for(tmp_path, guarantee_only(**{**defaults, **terms}))


def test_a_call_writes_the_call_the_discharge_and_the_reimbursement_in_that_order(tmp_path):
    log = spec9_like(tmp_path)
    log.feed(close("c1", "2026-01"), payment("p1", PROVIDER, LENDER, "148387.10", "2026-03-03"))
    log.feed(call("k1", JAN_DS, "2026-04-02"))
    called, discharge, reimbursement = log.entries[-3:]
    assert brief(called) == ("guarantee_call", "320000.00", GUARANTOR, LENDER, "2026-04-02", "2026-05-02")
    assert brief(discharge) == ("discharge", "-320000.00", PROVIDER, LENDER, "2026-04-02", None)
    assert brief(reimbursement) == ("reimbursement", "320000.00", PROVIDER, GUARANTOR, "2026-04-02", "2026-06-01")
    assert [entry["id"] for entry in (called, discharge, reimbursement)] == [
        "v2/call/k1", "v2/call/k1/discharge", "v2/call/k1/reimbursement"
    ]
    assert {entry["obligation"] for entry in (called, discharge, reimbursement)} == {JAN_DS}
    assert discharge["applied"] == [{"entry": JAN_DS, "amount": "320000.00"}] and discharge["unapplied"] == "0.00"
    assert "uncapped" not in called and all(entry["events"] == ["k1"] for entry in log.entries[-3:])
    outstanding = log.summary()["outstanding"]
    assert (outstanding["provider_to_lender"], outstanding["guarantor_to_lender"],
            outstanding["provider_to_guarantor"]) == ("80000.00", "320000.00", "320000.00")


def test_the_discharge_settles_its_own_debt_service_and_no_older_one(tmp_path):
    log = spec9_like(tmp_path, guarantee_cap=None)
    log.feed(close("c1", "2026-01"), close("c2", "2026-02"))
    log.feed(call("k1", FEB_DS, "2026-04-30"))  # January's older debt service stays open, untouched
    discharge = log.entry("v2/call/k1/discharge")
    assert discharge["applied"] == [{"entry": FEB_DS, "amount": "800000.00"}]
    # A payment by the provider after the call settles what is left, oldest due first.
    log.feed(payment("p1", PROVIDER, LENDER, "748387.10", "2026-04-30"))
    applied = log.entry("v2/payment/p1")["applied"]
    assert applied == [{"entry": JAN_DS, "amount": "548387.10"}, {"entry": FEB_DS, "amount": "200000.00"}]


def test_a_call_is_allowed_on_the_cure_date_and_not_a_day_before(tmp_path):
    log = spec9_like(tmp_path)
    log.feed(close("c1", "2026-01"))
    early = log.rejected(call("k0", JAN_DS, "2026-04-01"))
    assert early.code == "guarantee"
    assert "before the cure date of v2/2026-01/debt_service, 2026-04-02 (due 2026-03-03 + 30 cure days)" in str(early)
    assert log.feed(call("k1", JAN_DS, "2026-04-02")).status == "applied"


@pytest.mark.parametrize(
    ("obligation", "words"),
    [
        ("v2/2026-01/revenue_share", "is not a debt_service entry of agreement v2 issued so far"),
        ("v2/2026-02/debt_service", "is not a debt_service entry"),  # February is not closed yet
        ("other/2026-01/debt_service", "is not a debt_service entry"),
        ("", "is not a debt_service entry"),
    ],
)
def test_a_call_on_anything_but_an_issued_debt_service_names_no_entry(tmp_path, obligation, words):
    log = spec9_like(tmp_path)
    log.feed(close("c1", "2026-01"))
    rejection = log.rejected(call("k1", obligation, "2026-06-01"))
    assert rejection.code == "unknown_reference" and words in str(rejection)


def test_a_debt_service_is_called_once(tmp_path):
    log = spec9_like(tmp_path, guarantee_cap=None)
    log.feed(close("c1", "2026-01"), call("k1", JAN_DS, "2026-04-02"))
    again = log.rejected(call("k2", JAN_DS, "2026-04-03"))
    assert again.code == "guarantee" and "already called (event 'k1')" in str(again)


def test_a_paid_debt_service_cannot_be_called(tmp_path):
    log = spec9_like(tmp_path)
    log.feed(close("c1", "2026-01"), payment("p1", PROVIDER, LENDER, "548387.10", "2026-03-03"))
    rejection = log.rejected(call("k1", JAN_DS, "2026-04-02"))
    assert rejection.code == "guarantee" and "nothing outstanding" in str(rejection)


def test_the_cap_cuts_a_call_and_then_is_exhausted(tmp_path):
    log = spec9_like(tmp_path, guarantee_cap="1000000")
    log.feed(close("c1", "2026-01"), close("c2", "2026-02"), close("c3", "2026-03"))
    log.feed(call("k1", JAN_DS, "2026-05-01"), call("k2", FEB_DS, "2026-05-01"))
    first, second = log.entry("v2/call/k1"), log.entry("v2/call/k2")
    assert (first["amount"], "uncapped" in first) == ("438709.68", False)  # 548387.10 × 0.80
    assert (second["amount"], second["uncapped"]) == ("561290.32", "800000.00")  # what the cap of 1,000,000 left
    assert second["basis"]["inputs"]["cap_left"] == "561290.32"
    assert log.entry("v2/call/k2/discharge")["amount"] == "-561290.32"
    rejection = log.rejected(call("k3", "v2/2026-03/debt_service", "2026-06-01"))
    assert rejection.code == "guarantee" and "the guarantee's cap is exhausted" in str(rejection)


def test_a_covered_amount_that_rounds_to_zero_is_rejected(tmp_path):
    log = spec9_like(tmp_path, covers="0.40")
    log.feed(close("c1", "2026-01"), payment("p1", PROVIDER, LENDER, "548387.09", "2026-03-03"))
    rejection = log.rejected(call("k1", JAN_DS, "2026-04-02"))  # 0.01 × 0.40 = 0.004
    assert rejection.code == "guarantee" and "the covered amount rounds to 0" in str(rejection)


def test_an_agreement_without_a_guarantee_takes_no_call(tmp_path):
    log = log_for(tmp_path, agreement_text(debt_service=None, lender=None))
    rejection = log.rejected(call("k1", JAN_DS, "2026-04-02"))
    assert rejection.code == "not_applicable" and "has no guarantee" in str(rejection)


def test_a_cure_date_past_the_calendar_is_a_date_rejection(tmp_path):
    log = spec9_like(tmp_path, start="9999-09-01", end="9999-11-01", cure_days=31, payment_terms_days=30)
    log.feed(close("c1", "9999-09"), close("c2", "9999-10"))  # October's debt service is due 9999-12-01
    rejection = log.rejected(call("k1", "v2/9999-10/debt_service", "9999-12-31"))
    assert rejection.code == "date" and "cure date" in str(rejection)


def test_a_call_whose_entries_would_fall_due_past_the_calendar_is_a_date_rejection(tmp_path):
    log = spec9_like(tmp_path, start="9999-09-01", end="9999-11-01", cure_days=0, payment_terms_days=30)
    log.feed(close("c1", "9999-09"))
    rejection = log.rejected(call("k1", "v2/9999-09/debt_service", "9999-12-20"))
    assert rejection.code == "date" and "due after 9999-12-31" in str(rejection)


def test_the_version_for_the_call_date_decides_covers_cure_days_and_cap(tmp_path):
    common = dict(debt_service="1000.00", start="2026-01-01", end="2027-01-01", floor=None, share_rate=None)
    v1 = agreement_text(covers="0.50", cure_days=30, **common)
    v2 = agreement_text(version=2, effective="2026-04-01", covers="0.90", cure_days=60, guarantee_cap="850",
                        **common)
    log = log_for(tmp_path, v1, v2)
    log.feed(close("c1", "2026-01"))  # due 2026-03-03
    # Dated in March (version 1): cure date 2026-04-02, so on 2026-03-31 it is too early ...
    assert "2026-04-02" in str(log.rejected(call("k0", JAN_DS, "2026-03-31")))
    # ... and dated in April (version 2): cure date 2026-05-02 (60 days).
    assert "2026-05-02" in str(log.rejected(call("k1", JAN_DS, "2026-04-15")))
    log.feed(call("k2", JAN_DS, "2026-05-02"))
    called = log.entry("v2/call/k2")
    assert (called["amount"], called["uncapped"], called["version"]) == ("850.00", "900.00", 2)


def test_unapplied_credit_settles_the_call_and_the_reimbursement_as_they_are_written(tmp_path):
    log = spec9_like(tmp_path)
    log.feed(close("c1", "2026-01"))
    log.feed(payment("p1", GUARANTOR, LENDER, "1000.00", "2026-03-01"), payment("p2", PROVIDER, GUARANTOR, "50.00", "2026-03-01"))
    log.feed(call("k1", JAN_DS, "2026-04-02"))
    assert log.entry("v2/call/k1")["credit_applied"] == "1000.00"
    assert log.entry("v2/call/k1/reimbursement")["credit_applied"] == "50.00"
    assert "credit_applied" not in log.entry("v2/call/k1/discharge")
    outstanding = log.summary()["outstanding"]
    assert (outstanding["guarantor_to_lender"], outstanding["provider_to_guarantor"]) == ("437709.68", "438659.68")


def test_a_late_reimbursement_bears_its_own_late_interest(tmp_path):
    log = spec9_like(tmp_path)
    log.feed(close("c1", "2026-01"), payment("p0", PROVIDER, LENDER, "148387.10", "2026-03-03"))
    log.feed(call("k1", JAN_DS, "2026-04-02"))
    log.feed(payment("p1", PROVIDER, GUARANTOR, "320000.00", "2026-06-11"))
    interest = log.entries[-1]
    assert brief(interest) == ("late_interest", "1052.05", PROVIDER, GUARANTOR, "2026-06-11", "2026-07-11")
    assert interest["basis"]["rule"] == "guarantee.reimbursement.late_interest.annual_rate"
    assert interest["basis"]["inputs"]["annual_rate"] == "0.12"


def test_a_reimbursement_without_late_interest_terms_bears_none(tmp_path):
    log = spec9_like(tmp_path, reimbursement_late=None)
    log.feed(close("c1", "2026-01"), call("k1", JAN_DS, "2026-04-02"))
    log.feed(payment("p1", PROVIDER, GUARANTOR, "100000.00", "2026-12-31"))
    assert log.entries[-1]["kind"] == "payment"  # settlement.late_interest (0.08) does not apply to it


def test_debt_service_and_calls_paid_late_bear_the_settlement_late_interest(tmp_path):
    log = spec9_like(tmp_path)
    log.feed(close("c1", "2026-01"), payment("p1", PROVIDER, LENDER, "548387.10", "2026-03-13"))
    interest = log.entries[-1]  # 548387.10 × 0.08 × 10 / 365
    assert (interest["kind"], interest["amount"], interest["debtor"]) == ("late_interest", "1201.94", PROVIDER)
    assert interest["basis"]["rule"] == "settlement.late_interest.annual_rate"
    log.feed(close("c2", "2026-02"), call("k1", FEB_DS, "2026-04-30"))  # the call is due 2026-05-30
    log.feed(payment("p2", GUARANTOR, LENDER, "800000.00", "2026-06-09"))
    interest = log.entries[-1]  # 800000 × 0.08 × 10 / 365
    assert (interest["kind"], interest["amount"], interest["debtor"], interest["due"]) == (
        "late_interest", "1753.42", GUARANTOR, "2026-07-09"
    )


def test_a_payment_to_a_lender_the_agreement_does_not_have_is_rejected(tmp_path):
    log = log_for(tmp_path, agreement_text(debt_service=None, lender=None))
    rejection = log.rejected(payment("p1", PROVIDER, LENDER, "1.00", "2026-03-01"))
    assert rejection.code == "unknown_reference" and "payee 'L' is not a party" in str(rejection)


def state_of(log: Log) -> dict:
    """The engine's snapshot document, but for the number of the last line fed."""
    document = read_document(log.engine.snapshot())
    del document["position"]["last_line"]
    return document


def test_a_call_that_fails_midway_is_rolled_back_whole(tmp_path, monkeypatch):
    from engine.replay import InternalError

    log = spec9_like(tmp_path)
    log.feed(close("c1", "2026-01"))
    before = state_of(log)
    original = Book.discharge

    def failing(self, entry_id, amount):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(Book, "discharge", failing)
    with pytest.raises(InternalError):
        log.feed(call("k1", JAN_DS, "2026-04-02"))
    assert state_of(log) == before  # books, chain, the guarantee's state: all as before the line
    monkeypatch.setattr(Book, "discharge", original)
    assert log.feed(call("k1", JAN_DS, "2026-04-02")).status == "applied"
    assert [entry["kind"] for entry in log.entries[-3:]] == ["guarantee_call", "discharge", "reimbursement"]


def test_a_close_that_fails_after_its_debt_service_forgets_it(tmp_path, monkeypatch):
    from engine.replay import InternalError
    from engine.replay.agreement import AgreementReplay

    log = spec9_like(tmp_path)

    def failing(self):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(AgreementReplay, "_lock_newly_locked", failing)  # the last step of a close
    with pytest.raises(InternalError):
        log.feed(close("c1", "2026-01"))
    monkeypatch.undo()
    assert log.engine.agreements["v2"].guarantee.debt_service == {}
    assert log.rejected(call("k1", JAN_DS, "2026-04-02")).code == "unknown_reference"
    log.feed(close("c1", "2026-01"))
    assert [entry["id"] for entry in log.entries] == [JAN_DS]


def test_a_debt_service_of_a_locked_period_can_still_be_called(tmp_path):
    log = log_for(tmp_path, agreement_text(floor="1000.00", debt_service="1000.00", lock=0))
    log.feed(revenue("r1", "2026-01", "400.00"), close("c1", "2026-01"))
    late = log.rejected(revenue("r2", "2026-01", "1.00"))
    assert late.code == "locked"  # a lock closes a period's inputs, top-up included ...
    log.feed(call("k1", JAN_DS, "2026-04-02"))  # ... not its debt service
    assert [entry["kind"] for entry in log.entries[-3:]] == ["guarantee_call", "discharge", "reimbursement"]
    assert log.entry("v2/2026-01/revenue_top_up")["amount"] == "600.00"
