"""What the replay remembers of inputs: per-key totals and the events in force (SPEC §5.1).

A *key* is (period, pool) for lease-back or (period, revenue share). Its totals are exact
running sums, so an event costs O(1) whatever the log's length; its `events` map holds the
ids that shaped the totals, with their log order, for the entries' `events` field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple
from decimal import Decimal

from engine.events.model import Revenue, Utilization
from engine.numbers import ZERO

REVENUE_KEY = ""  # the pool slot of a period's revenue-share key; pool ids are never empty


@dataclass(slots=True)
class Key:
    """Inputs and issuance state of one key."""

    available: Decimal = ZERO
    sold: Decimal = ZERO
    revenue: Decimal = ZERO
    events: dict[str, int] = field(default_factory=dict)
    last_target: Decimal = ZERO  # the target last issued for this key (0 at first)
    first_entry: str | None = None
    adjustments: int = 0

    def event_ids(self) -> list[str]:
        return [event_id for event_id, _ in sorted(self.events.items(), key=lambda item: item[1])]


@dataclass(slots=True)
class Contribution:
    """An applied input event and where its current values count.

    `event` is the values in force (the original or its latest replacement), None once
    voided. `period_max` is the latest period it has ever counted in: its id is released
    once that period is locked (SPEC §7), since periods lock in order.
    """

    order: int
    kind: type  # Utilization or Revenue
    event: Utilization | Revenue | None
    period: int | None
    period_max: int


class IdRecord(NamedTuple):
    """An id in use: enough to judge a later line that repeats it (SPEC §7)."""

    fingerprint: bytes
    line: int
    agreement: str
    lock_periods: tuple[int, ...]  # a repeat is rejected as locked when one of these is locked
