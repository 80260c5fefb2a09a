"""Which version governs: the one place that decides, by dates, whose terms apply (SPEC §3).

`AgreementTerms` wraps a loaded agreement with its settlement periods and answers the
questions the replay asks: which version governs a period, which decides for an event
dated D (a guarantee call's too), which cap is in force (the lease-back cap, and the top-up
cap of v2), and what an amount schedule (v2) asks for a period.
"""

from __future__ import annotations

import bisect
import calendar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from engine.calendar import MONTHS_PER_PERIOD, Period, add_days, boundary, contract_year, settlement_periods
from engine.documents.model import AgreementDocument, AmountStep


@dataclass(frozen=True, slots=True)
class ScheduledAmount:
    """(v2) What an amount schedule asks for one period, exactly, with what it came from.

    `value` = the step's amount × `period_days` / `calendar_days`: a partial period gets the
    share of its calendar month or quarter that its days are (SPEC §3 "Amount schedules").
    It is a `Fraction`, unrounded; the entry that uses it rounds it once.
    """

    value: Fraction
    step_index: int
    step: AmountStep
    contract_year: int
    period_days: int
    calendar_days: int


def calendar_days(start: date, kind: str) -> int:
    """Days of the calendar month or quarter containing `start` (`kind`: monthly or quarterly).

    Counted by month lengths, so that December 9999, whose end is past the calendar, has 31.
    """
    months = MONTHS_PER_PERIOD[kind]
    first_month = (start.month - 1) // months * months + 1
    return sum(calendar.monthrange(start.year, month)[1] for month in range(first_month, first_month + months))


@dataclass(frozen=True)
class AgreementTerms:
    """An agreement's versions and periods, with the governing-version rules of SPEC §3."""

    id: str
    versions: tuple  # tuple[LoadedVersion, ...], sorted by number
    periods: tuple[Period, ...] = field(init=False)
    period_by_id: dict[str, Period] = field(init=False, repr=False)
    _period_starts: tuple[date, ...] = field(init=False, repr=False)
    _governing: tuple[int, ...] = field(init=False, repr=False)
    #: Boundaries as UTC instants and pools by id, computed once: the replay asks per event.
    start_utc: datetime = field(init=False, repr=False)
    end_utc: datetime = field(init=False, repr=False)
    period_ends_utc: tuple[datetime, ...] = field(init=False, repr=False)
    pools_by_version: tuple[dict, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        first = self.versions[0].document
        periods = settlement_periods(first.term.start, first.term.end, first.settlement.period)
        effective = [version.document.effective for version in self.versions]
        governing = tuple(bisect.bisect_right(effective, period.start) - 1 for period in periods)
        object.__setattr__(self, "periods", periods)
        object.__setattr__(self, "period_by_id", {period.id: period for period in periods})
        object.__setattr__(self, "_period_starts", tuple(period.start for period in periods))
        object.__setattr__(self, "_governing", governing)
        object.__setattr__(self, "start_utc", boundary(first.term.start))
        object.__setattr__(self, "end_utc", boundary(first.term.end))
        object.__setattr__(self, "period_ends_utc", tuple(boundary(period.end) for period in periods))
        pools = tuple({pool.id: pool for pool in version.document.pools} for version in self.versions)
        object.__setattr__(self, "pools_by_version", pools)

    @property
    def first(self) -> AgreementDocument:
        return self.versions[0].document

    @property
    def places(self) -> int:
        return self.first.settlement.rounding.places

    @property
    def mode(self) -> str:
        return self.first.settlement.rounding.mode

    @property
    def provider(self) -> str:
        return self.first.parties.provider

    @property
    def guarantor(self) -> str:
        return self.first.parties.guarantor

    @property
    def lender(self) -> str | None:
        """(v2) The lender, the same in every version; None for an agreement without one."""
        return self.first.parties.lender

    @property
    def parties(self) -> tuple[str, ...]:
        """The agreement's parties: provider, guarantor, and the lender when there is one."""
        lender = self.lender
        return (self.provider, self.guarantor) if lender is None else (self.provider, self.guarantor, lender)

    @property
    def lock_after_periods(self) -> int | None:
        return self.first.settlement.lock_after_periods

    def period_containing(self, day: date) -> Period | None:
        """The settlement period whose `[start, end)` holds `day`, or None outside the term."""
        index = bisect.bisect_right(self._period_starts, day) - 1
        if index < 0 or day >= self.periods[-1].end:
            return None
        return self.periods[index]

    def version_for_period(self, period: Period):
        """The version governing a period: the latest whose `effective` ≤ the period's start."""
        return self.versions[self._governing[period.index]]

    def version_for_date(self, day: date):
        """The version deciding for an event dated `day` (version 1 before the term, the last from its end)."""
        period = self.period_containing(day)
        if period is not None:
            return self.version_for_period(period)
        return self.versions[0] if day < self.first.term.start else self.versions[-1]

    def cap_in_force(self, version) -> Decimal | None:
        """The cap decided by `version`: its own, or the latest earlier backstop's (None: no cap)."""
        for earlier in reversed(self.versions[: version.number]):
            backstop = earlier.document.backstop
            if backstop is not None:
                return backstop.cap
        return None

    def top_up_cap_in_force(self, version) -> Decimal | None:
        """(v2) The top-up cap decided by `version`: its revenue floor's, or the latest earlier
        floor's (None: no cap)."""
        for earlier in reversed(self.versions[: version.number]):
            floor = earlier.document.revenue_floor
            if floor is not None:
                return floor.cap
        return None

    def scheduled_amount(self, steps: tuple[AmountStep, ...], period: Period) -> ScheduledAmount:
        """(v2) A schedule's amount for a period: the step in force in the contract year of the
        period's start (the largest `from_year` ≤ it), pro-rated by days when the period is partial."""
        year = contract_year(self.first.term.start, period.start)
        index = max(position for position, step in enumerate(steps) if step.from_year <= year)
        period_days = (period.end - period.start).days
        month_days = calendar_days(period.start, self.first.settlement.period)
        value = Fraction(steps[index].amount) * period_days / month_days
        return ScheduledAmount(value, index, steps[index], year, period_days, month_days)

    def due_date(self, period: Period) -> date:
        """A period's obligations fall due `payment_terms_days` after its end date."""
        terms_days = self.version_for_period(period).document.settlement.payment_terms_days
        return add_days(period.end, terms_days)
