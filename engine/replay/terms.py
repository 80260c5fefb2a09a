"""Which version governs: the one place that decides, by dates, whose terms apply (SPEC §3).

`AgreementTerms` wraps a loaded agreement with its settlement periods and answers the three
questions the replay asks: which version governs a period, which decides for an event
dated D, and which cap is in force.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from engine.calendar import Period, add_days, boundary, settlement_periods
from engine.documents.model import AgreementDocument


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

    def due_date(self, period: Period) -> date:
        """A period's obligations fall due `payment_terms_days` after its end date."""
        terms_days = self.version_for_period(period).document.settlement.payment_terms_days
        return add_days(period.end, terms_days)
