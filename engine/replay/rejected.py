"""The one exception a rule raises: the event broke it, and nothing has changed yet."""

from __future__ import annotations

from datetime import date

from engine.calendar import DATE_MAX, add_days_or_none


class Rejected(Exception):
    """An event broke a rule; the message is the reason users read, `code` the rejection code
    of SPEC §7 that a settlement system routes on."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.code = code


def past_the_calendar(needs: str) -> Rejected:
    """The rejection (code `date`) of an event that `needs` a date past 9999-12-31 (SPEC §2
    "Range"): `needs` says which, as in "true-up dated 9999-12-31 would issue adjustments due
    30 days later"."""
    return Rejected(f"{needs}, after {DATE_MAX}, the last date the engine handles", code="date")


def days_later(day: date, days: int, what: str) -> date:
    """`day` + `days`, a date the replay needs for an event (`what`: "the cure date of
    x/2026-01/debt_service"); raises `Rejected` with code `date` when it falls past
    9999-12-31. Call it before changing anything."""
    later = add_days_or_none(day, days)
    if later is None:
        raise past_the_calendar(f"{what} would be {day} + {days} days")
    return later
