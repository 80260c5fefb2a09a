"""Rejections: the exception a rule raises (the event broke it, and nothing has changed yet),
and the record of a rejected line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from engine.calendar import DATE_MAX, add_days_or_none
from engine.rejection_codes import Code


class Rejected(Exception):
    """An event broke a rule; the message is the reason users read, `code` the rejection code
    of SPEC §7 that a settlement system routes on."""

    def __init__(self, reason: str, *, code: Code) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected line, as the summary lists it."""

    line: int
    id: str | None
    reason: str
    code: Code


def past_the_calendar(needs: str) -> Rejected:
    """The rejection (code `date`) of an event that `needs` a date past 9999-12-31 (SPEC §2
    "Range"): `needs` says which, as in "true-up dated 9999-12-31 would issue adjustments due
    30 days later"."""
    return Rejected(f"{needs}, after {DATE_MAX}, the last date the engine handles", code=Code.DATE)


def days_later(day: date, days: int, what: str) -> date:
    """`day` + `days`, a date the replay needs for an event (`what`: "the cure date of
    x/2026-01/debt_service"); raises `Rejected` with code `date` when it falls past
    9999-12-31. Call it before changing anything."""
    later = add_days_or_none(day, days)
    if later is None:
        raise past_the_calendar(f"{what} would be {day} + {days} days")
    return later
