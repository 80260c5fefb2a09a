"""Dates past 9999-12-31 (semantics §2 "Range"): the event is rejected with code `date` and
has no effect; a document whose periods would fall due past it is invalid."""

from __future__ import annotations

import json
from datetime import date

import pytest

from engine.documents.errors import DocumentErrors
from engine.events.reader import parse_line
from engine.replay import Engine
from engine.replay.rejected import Rejected, days_later

END_OF_CALENDAR = """\
schema: backstop/v1
agreement: late
version: 1
effective: 9999-01-01
parties: {{provider: Prov, guarantor: Guar}}
currency: USD
term: {{start: 9999-01-01, end: {end}}}
settlement:
  period: monthly
  payment_terms_days: {days}
  late_interest: {{annual_rate: 0.10, day_count: ACT/365F}}
pools:
  - {{id: p1, gpu_model: H200, gpus: 10}}
backstop:
  rate_per_gpu_hour: {{H200: 2.00}}
  threshold: 0.80
warrants:
  strike: 4
  expires: 9999-12-31
  tranches:
    - {{id: t1, shares: 100, vests: {{on_or_after: 9999-01-01}}}}
"""


def engine_at_the_end(tmp_path, *, end="9999-12-01", days=30) -> Engine:
    folder = tmp_path / "late"
    folder.mkdir(exist_ok=True)
    (folder / "v1.yaml").write_text(END_OF_CALENDAR.format(end=end, days=days))
    return Engine.from_path(folder)


def line(**fields) -> str:
    return json.dumps({"agreement": "late", **fields})


def utilization(event_id: str, month: str, sold: str) -> str:
    return line(id=event_id, type="utilization", pool="p1", start=f"9999-{month}-01T00:00:00Z",
                end=f"9999-{month}-02T00:00:00Z", available_gpu_hours="240", sold_gpu_hours=sold)


def test_a_true_up_that_would_issue_an_adjustment_due_past_the_calendar_is_rejected_with_code_date(tmp_path):
    engine = engine_at_the_end(tmp_path)
    engine.feed_line(utilization("u1", "01", "240"))
    engine.feed_line(line(id="c1", type="close", period="9999-01"))
    engine.feed_line(utilization("u2", "01", "0"))  # restates January: an adjustment is pending
    before = engine.summary()
    outcome = engine.feed_line(line(id="t1", type="true_up", date="9999-12-31"))
    assert (outcome.status, outcome.code, outcome.entries) == ("rejected", "date", ())
    assert "after 9999-12-31" in outcome.reason
    after = engine.summary()
    assert after["agreements"] == before["agreements"]
    # The same true-up dated where its due date exists issues the adjustment.
    outcome = engine.feed_line(line(id="t2", type="true_up", date="9999-12-01"))
    assert outcome.status == "applied"
    assert [entry.fields["due"] for entry in outcome.entries] == ["9999-12-31"]


def test_a_true_up_past_the_calendar_with_nothing_to_adjust_is_applied_and_writes_nothing(tmp_path):
    engine = engine_at_the_end(tmp_path)
    outcome = engine.feed_line(line(id="t1", type="true_up", date="9999-12-31"))
    assert outcome.status == "applied" and outcome.entries == ()


def test_a_late_payment_whose_interest_would_fall_due_past_the_calendar_is_rejected(tmp_path):
    engine = engine_at_the_end(tmp_path)
    engine.feed_line(utilization("u1", "01", "0"))
    engine.feed_line(line(id="c1", type="close", period="9999-01"))  # lease-back due 9999-03-03
    payment = dict(type="payment", payer="Guar", payee="Prov", amount="10.00", currency="USD")
    before = engine.summary()["agreements"]
    outcome = engine.feed_line(line(id="p1", date="9999-12-20", **payment))
    assert (outcome.status, outcome.code) == ("rejected", "date")
    assert "late interest" in outcome.reason and "after 9999-12-31" in outcome.reason
    assert engine.summary()["agreements"] == before
    # Paid on time, nothing is charged, so no date past the calendar is needed.
    outcome = engine.feed_line(line(id="p2", date="9999-03-01", **payment))
    assert outcome.status == "applied"
    assert [entry.fields["kind"] for entry in outcome.entries] == ["payment"]


def test_a_payment_past_the_calendar_that_settles_nothing_late_is_applied(tmp_path):
    engine = engine_at_the_end(tmp_path)
    payment = dict(type="payment", payer="Prov", payee="Guar", amount="10.00", currency="USD")
    outcome = engine.feed_line(line(id="p1", date="9999-12-31", **payment))
    assert outcome.status == "applied"
    assert outcome.entries[0].fields["unapplied"] == "10.00"


def test_a_cash_exercise_whose_price_would_fall_due_past_the_calendar_is_rejected_and_vests_nothing(tmp_path):
    engine = engine_at_the_end(tmp_path)
    exercise = dict(type="exercise", tranche="t1", shares=10, method="cash")
    outcome = engine.feed_line(line(id="x1", date="9999-12-30", **exercise))
    assert (outcome.status, outcome.code) == ("rejected", "date") and "after 9999-12-31" in outcome.reason
    assert outcome.entries == ()
    assert "warrant_vested" not in engine.summary()["agreements"]["late"]["totals"]
    outcome = engine.feed_line(line(id="x2", date="9999-11-01", **exercise))
    assert outcome.status == "applied"
    assert [entry.fields["kind"] for entry in outcome.entries] == ["warrant_vested", "exercise_price", "share_delivery"]


def test_a_cash_exercise_whose_price_rounds_to_0_needs_no_due_date_and_is_applied(tmp_path):
    folder = tmp_path / "late"
    folder.mkdir()
    (folder / "v1.yaml").write_text(END_OF_CALENDAR.format(end="9999-12-01", days=30).replace("strike: 4", "strike: 0.001"))
    engine = Engine.from_path(folder)
    exercise = dict(type="exercise", tranche="t1", shares=1, method="cash")  # 0.001 rounds to 0.00: no price entry
    outcome = engine.feed_line(line(id="x1", date="9999-12-30", **exercise))
    assert outcome.status == "applied"
    assert [entry.fields["kind"] for entry in outcome.entries] == ["warrant_vested", "share_delivery"]


def rejection(check, event_line: str) -> Rejected:
    """What `check` raises for the event of `event_line`."""
    with pytest.raises(Rejected) as raised:
        check(parse_line(1, event_line.encode()).event)
    return raised.value


def test_rejections_past_the_calendar_carry_code_date(tmp_path):
    engine = engine_at_the_end(tmp_path)
    engine.feed_line(utilization("u1", "01", "0"))
    engine.feed_line(line(id="c1", type="close", period="9999-01"))  # a lease-back, due 9999-03-03
    engine.feed_line(utilization("u2", "01", "240"))  # restates January
    replay = engine.agreements["late"]
    payment = line(id="p9", type="payment", payer="Guar", payee="Prov", amount="10.00", currency="USD", date="9999-12-20")
    true_up = line(id="t9", type="true_up", date="9999-12-20")
    exercise = line(id="x9", type="exercise", tranche="t1", shares=1, method="cash", date="9999-12-20")
    for check, event_line in ((replay.check_late_interest_due, payment), (replay.check_true_up, true_up),
                              (replay.warrants.exercise, exercise)):
        raised = rejection(check, event_line)
        assert raised.code == "date" and "after 9999-12-31, the last date the engine handles" in str(raised)


def test_days_later_gives_the_date_or_rejects_with_code_date():
    """The check a rule calls for a date it needs, such as the cure date of a guarantee call."""
    assert days_later(date(9999, 12, 1), 30, "the cure date") == date(9999, 12, 31)
    with pytest.raises(Rejected) as raised:
        days_later(date(9999, 12, 2), 30, "the cure date of x/2026-01/debt_service")
    assert raised.value.code == "date"
    assert str(raised.value) == (
        "the cure date of x/2026-01/debt_service would be 9999-12-02 + 30 days, after 9999-12-31, "
        "the last date the engine handles"
    )


def test_a_true_up_out_of_order_is_rejected_as_such_even_past_the_calendar(tmp_path):
    engine = engine_at_the_end(tmp_path, end="9999-12-31", days=0)
    engine.close_through(date(9999, 12, 31))
    outcome = engine.feed_line(line(id="t1", type="true_up", date="9999-12-30"))
    assert outcome.status == "rejected" and "is before 9999-12-31, the end date of the last closed period" in outcome.reason


def test_a_document_whose_last_period_would_fall_due_past_the_calendar_is_invalid(tmp_path):
    with pytest.raises(DocumentErrors) as raised:
        engine_at_the_end(tmp_path, end="9999-12-31", days=30)
    message = str(raised.value)
    assert "settlement.payment_terms_days" in message
    assert "period 9999-12 ends on 9999-12-31" in message and "after 9999-12-31" in message


def test_a_term_that_ends_on_the_last_day_of_the_calendar_is_valid_when_its_periods_fall_due_in_it(tmp_path):
    engine = engine_at_the_end(tmp_path, end="9999-12-31", days=0)
    periods = engine.agreements["late"].terms.periods
    assert (periods[-1].id, str(periods[-1].start), str(periods[-1].end)) == ("9999-12", "9999-12-01", "9999-12-31")
    entries = engine.close_through(date.max)
    assert [entry.fields["kind"] for entry in entries] == ["warrant_vested"]
    assert engine.agreements["late"].next_open() is None


def test_quarterly_periods_reach_the_last_day_of_the_calendar(tmp_path):
    folder = tmp_path / "q"
    folder.mkdir()
    text = END_OF_CALENDAR.format(end="9999-12-31", days=0).replace("period: monthly", "period: quarterly")
    (folder / "v1.yaml").write_text(text)
    periods = Engine.from_path(folder).agreements["late"].terms.periods
    assert [period.id for period in periods] == ["9999-Q1", "9999-Q2", "9999-Q3", "9999-Q4"]
    assert str(periods[-1].end) == "9999-12-31"
