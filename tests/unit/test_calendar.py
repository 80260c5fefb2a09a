from datetime import date

from hypothesis import given, strategies as st

from engine.calendar import add_years, contract_year, settlement_periods


def test_monthly_periods_with_partial_first_and_last():
    periods = settlement_periods(date(2026, 1, 15), date(2026, 4, 10), "monthly")
    assert [(p.id, p.start, p.end) for p in periods] == [
        ("2026-01", date(2026, 1, 15), date(2026, 2, 1)),
        ("2026-02", date(2026, 2, 1), date(2026, 3, 1)),
        ("2026-03", date(2026, 3, 1), date(2026, 4, 1)),
        ("2026-04", date(2026, 4, 1), date(2026, 4, 10)),
    ]
    assert periods[0].hours == 17 * 24


def test_quarterly_periods_start_on_calendar_quarters():
    periods = settlement_periods(date(2026, 4, 1), date(2032, 4, 1), "quarterly")
    assert periods[0].id == "2026-Q2" and periods[-1].id == "2032-Q1"
    assert len(periods) == 24
    assert periods[-1].end == date(2032, 4, 1)


def test_years_from_29_february_clamp_to_28_february():
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert contract_year(date(2024, 2, 29), date(2025, 2, 27)) == 1
    assert contract_year(date(2024, 2, 29), date(2025, 2, 28)) == 2


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), st.integers(0, 3650))
def test_contract_year_contains_the_day(start, offset):
    from datetime import timedelta

    day = start + timedelta(days=offset)
    k = contract_year(start, day)
    assert add_years(start, k - 1) <= day < add_years(start, k)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), st.integers(1, 2000),
       st.sampled_from(["monthly", "quarterly"]))
def test_periods_tile_the_term(start, days, kind):
    from datetime import timedelta

    end = start + timedelta(days=days)
    periods = settlement_periods(start, end, kind)
    assert periods[0].start == start and periods[-1].end == end
    assert all(a.end == b.start for a, b in zip(periods, periods[1:]))
    assert len({p.id for p in periods}) == len(periods)
