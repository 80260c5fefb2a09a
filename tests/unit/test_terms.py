"""The terms of v2 (SPEC §3): amount schedules pro-rated exactly, the top-up cap in force, and
the version that decides for a date."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, strategies as st

from engine.calendar import period_start_containing, settlement_periods
from engine.documents.loader import load_agreements_from_mappings
from engine.replay.terms import AgreementTerms, calendar_days


def document(version: int, effective: str, *, start="2026-01-15", end="2029-01-15", period="monthly", **clauses) -> dict:
    return {
        "schema": "backstop/v2", "agreement": "t", "version": version, "effective": effective,
        "parties": {"provider": "P", "guarantor": "G", "lender": "L"}, "currency": "USD",
        "term": {"start": start, "end": end}, "settlement": {"period": period},
        "pools": [{"id": "p1", "gpu_model": "H200", "gpus": 1}],
        "guarantee": {"debt_service": [{"from_year": 1, "amount": "1000000.00"}, {"from_year": 2, "amount": "900"}]},
        **clauses,
    }


def terms_of(*documents: dict) -> AgreementTerms:
    (agreement,) = load_agreements_from_mappings(documents)
    return AgreementTerms(agreement.id, agreement.versions)


def floor(amount: str, cap: str | None = None) -> dict:
    clause: dict = {"steps": [{"from_year": 1, "amount": amount}]}
    if cap is not None:
        clause["cap"] = cap
    return clause


def test_a_partial_month_gets_its_share_of_days_exactly():
    terms = terms_of(document(1, "2026-01-15"))
    january = terms.periods[0]
    scheduled = terms.scheduled_amount(terms.first.guarantee.debt_service, january)
    assert scheduled.value == Fraction(1000000) * 17 / 31  # 548387.0967…, never rounded here
    assert (scheduled.period_days, scheduled.calendar_days, scheduled.contract_year) == (17, 31, 1)
    february = terms.scheduled_amount(terms.first.guarantee.debt_service, terms.periods[1])
    assert february.value == 1000000


def test_the_step_in_force_follows_the_contract_year_of_the_period_start():
    terms = terms_of(document(1, "2026-01-15"))
    steps = terms.first.guarantee.debt_service
    by_id = {period.id: period for period in terms.periods}
    # Contract year 2 starts on 2027-01-15: period 2027-01 starts on 2027-01-01, still in year 1.
    assert terms.scheduled_amount(steps, by_id["2027-01"]).step_index == 0
    assert terms.scheduled_amount(steps, by_id["2027-02"]).value == 900
    # The last period, 2029-01-01 to 2029-01-15, is partial too: 14 of 31 days.
    assert terms.scheduled_amount(steps, by_id["2029-01"]).value == Fraction(900 * 14, 31)


def test_a_partial_quarter_uses_the_days_of_its_calendar_quarter():
    terms = terms_of(document(1, "2026-02-10", start="2026-02-10", end="2027-02-10", period="quarterly"))
    first = terms.periods[0]  # 2026-02-10 .. 2026-04-01: 50 of Q1's 90 days
    scheduled = terms.scheduled_amount(terms.first.guarantee.debt_service, first)
    assert (scheduled.period_days, scheduled.calendar_days) == (50, 90)
    assert scheduled.value == Fraction(1000000 * 50, 90)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), st.sampled_from(["monthly", "quarterly"]))
def test_a_partial_first_period_and_the_days_before_it_make_its_calendar_month_or_quarter(start, kind):
    first, second = settlement_periods(start, start + timedelta(days=400), kind)[:2]
    before = (first.start - period_start_containing(first.start, kind)).days
    assert before + (first.end - first.start).days == calendar_days(first.start, kind)
    assert (second.end - second.start).days == calendar_days(second.start, kind)


def test_the_top_up_cap_is_that_of_the_deciding_version_or_the_latest_earlier_floor():
    terms = terms_of(
        document(1, "2026-01-15", revenue_floor=floor("100", cap="500")),
        document(2, "2026-03-01"),  # no floor: the cap in force stays version 1's
        document(3, "2026-05-01", revenue_floor=floor("100")),  # a floor without a cap: none
        document(4, "2026-07-01", revenue_floor=floor("100", cap="800")),
    )
    caps = [terms.top_up_cap_in_force(version) for version in terms.versions]
    assert caps == [Decimal(500), Decimal(500), None, Decimal(800)]


def test_no_floor_before_the_deciding_version_means_no_top_up_cap():
    terms = terms_of(document(1, "2026-01-15"), document(2, "2026-03-01", revenue_floor=floor("100", cap="5")))
    assert terms.top_up_cap_in_force(terms.versions[0]) is None
    assert terms.top_up_cap_in_force(terms.versions[1]) == Decimal(5)


def test_the_lease_back_cap_never_reads_a_floor():
    terms = terms_of(document(1, "2026-01-15", revenue_floor=floor("100", cap="500")))
    assert terms.cap_in_force(terms.versions[0]) is None


def test_a_call_is_decided_by_the_version_for_its_date():
    terms = terms_of(document(1, "2026-01-15"), document(2, "2026-04-01"))
    assert terms.version_for_date(date(2026, 3, 31)).number == 1
    assert terms.version_for_date(date(2026, 4, 1)).number == 2
    assert terms.version_for_date(date(2025, 1, 1)).number == 1  # before the term
    assert terms.version_for_date(date(2035, 1, 1)).number == 2  # after it


def test_the_parties_include_the_lender():
    terms = terms_of(document(1, "2026-01-15"))
    assert terms.parties == ("P", "G", "L") and terms.lender == "L"
