"""The calendar of SPEC §2: settlement periods, contract years and due dates.

All dates are calendar dates in UTC; every interval is half-open. Year arithmetic is
python-dateutil's `relativedelta`, which clamps 29 February to 28 February as SPEC asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from dateutil.relativedelta import relativedelta

MONTHS_PER_PERIOD = {"monthly": 1, "quarterly": 3}
DATE_MAX = date.max  # 9999-12-31: the last date of SPEC §2's range
PERIOD_ID = re.compile(r"(?P<year>[0-9]{4})-(?:(?P<month>0[1-9]|1[0-2])|Q(?P<quarter>[1-4]))")


class OutOfRange(ValueError):
    """A date the calendar was asked for falls past 9999-12-31 (SPEC §2 "Range")."""


@dataclass(frozen=True, slots=True)
class Period:
    """One settlement period `[start, end)`; `index` counts from 0 at the term's start."""

    index: int
    id: str
    start: date
    end: date

    @property
    def hours(self) -> int:
        return (self.end - self.start).days * 24


def boundary(day: date) -> datetime:
    """A date used as a boundary: 00:00 UTC of that day."""
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def add_years(day: date, years: int) -> date:
    """Same month and day `years` later; 28 February where that day does not exist."""
    return day + relativedelta(years=years)


def period_start_containing(day: date, kind: str) -> date:
    """The calendar month or quarter boundary on or before `day`."""
    months = MONTHS_PER_PERIOD[kind]
    month = (day.month - 1) // months * months + 1
    return date(day.year, month, 1)


def period_id(start: date, kind: str) -> str:
    if kind == "monthly":
        return f"{start.year:04d}-{start.month:02d}"
    return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"


def settlement_periods(term_start: date, term_end: date, kind: str) -> tuple[Period, ...]:
    """The term cut at calendar month or quarter boundaries; first and last may be partial."""
    months = MONTHS_PER_PERIOD[kind]
    periods: list[Period] = []
    start = term_start
    while start < term_end:
        first_of_period = period_start_containing(start, kind)
        if first_of_period.year == DATE_MAX.year and first_of_period.month + months > 12:
            end = term_end  # the next boundary, 10000-01-01, is past every term's end
        else:
            end = min(first_of_period + relativedelta(months=months), term_end)
        periods.append(Period(len(periods), period_id(start, kind), start, end))
        start = end
    return tuple(periods)


def contract_year(term_start: date, day: date) -> int:
    """k ≥ 1 with `term_start + (k−1) years ≤ day < term_start + k years` (day ≥ term_start)."""
    k = max(1, day.year - term_start.year)
    while term_start.year + k <= DATE_MAX.year and add_years(term_start, k) <= day:
        k += 1  # a boundary past 9999 lies after every day
    while k > 1 and add_years(term_start, k - 1) > day:
        k -= 1
    return k


def add_days(day: date, days: int) -> date:
    """`day` plus `days`; raises `OutOfRange` past 9999-12-31."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        raise OutOfRange(f"{day} + {days} days falls after {DATE_MAX}, the last date of the calendar") from None


def add_days_or_none(day: date, days: int) -> date | None:
    """`day` plus `days`, or None past 9999-12-31: for rules that reject such an event."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None
