"""What the replay remembers of inputs: per-key totals and the events in force (SPEC §5.1, §7).

A *key* is (period, pool) for lease-back, (period, revenue share) or (v2) (period, revenue top-up). Its totals are exact
running sums, so an event costs O(1) whatever the log's length.

Without a lock an engine remembers every applied input event for as long as it runs, so
that record is kept small: one `bytes` value per event, in the engine's id map, holding its
log order, line, periods, pool, values and fingerprint (or, for a plain utilization line,
what its fingerprint is made from). Together with the id it is keyed by and the key's list
entry that is about 230 bytes per event, and, being bytes, it costs the garbage collector
nothing.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, NamedTuple

from engine.events.reader import FINGERPRINT_BYTES
from engine.numbers import ZERO

REVENUE_KEY = ""  # the pool slot of a period's revenue-share key; pool ids are never empty
#: (v2) The pool slot of a period's revenue top-up key: its issuance alone, since its inputs are
#: the revenue key's. A pool id never starts with "/".
TOP_UP_KEY = "/revenue_top_up"

UTILIZATION, REVENUE = 0, 1  # an input record's kind
NO_PERIOD = -1  # the period of a voided input


@dataclass(slots=True)
class Key:
    """Inputs and issuance state of one key.

    `inputs` lists the ids of the events added to the key as they were applied, so in log
    order; `changes` (None until a correction touches the key) maps an id to the log order
    it now counts with, or to None once it no longer counts here. Corrections are rare, so
    the common key is a plain list.
    """

    available: Decimal = ZERO
    sold: Decimal = ZERO
    revenue: Decimal = ZERO
    inputs: list[str] = field(default_factory=list)
    changes: dict[str, int | None] | None = None
    last_target: Decimal = ZERO  # the target last issued for this key (0 at first)
    first_entry: str | None = None
    adjustments: int = 0

    def change(self, event_id: str, order: int | None) -> None:
        if self.changes is None:
            self.changes = {}
        self.changes[event_id] = order

    def event_ids(self, order_of: Callable[[str], int]) -> list[str]:
        """The ids that shaped the totals, in log order (`order_of` gives an input's order).

        `inputs` is already in log order; the few ids a correction added are merged into it
        by bisection, so listing a key costs a copy, not a sort.
        """
        changes = self.changes
        if not changes:
            return list(self.inputs)
        kept = [event_id for event_id in self.inputs if event_id not in changes]
        added = sorted((order, event_id) for event_id, order in changes.items() if order is not None)
        listed: list[str] = []
        start = 0
        for order, event_id in added:
            position = bisect.bisect_left(kept, order, start, key=order_of)
            listed.extend(kept[start:position])
            listed.append(event_id)
            start = position
        listed.extend(kept[start:])
        return listed


class IdRecord(NamedTuple):
    """An id in use by an event other than an input: enough to judge a later line that repeats it (SPEC §7)."""

    fingerprint: bytes
    line: int
    agreement: str
    lock_periods: tuple[int, ...]  # a repeat is rejected as locked when one of these is locked


# order, line, first period, period (NO_PERIOD once voided), latest period, agreement, pool, flags, span
_HEAD = struct.Struct("<qqiiiHHBI")
INPUT_HEAD = _HEAD  # a record's head, as a snapshot's reader checks it
_ORDER = struct.Struct("<q")
_PERIOD_MAX = struct.Struct("<i")
_AGREEMENT = struct.Struct("<H")
_PERIOD_MAX_AT, _AGREEMENT_AT = 8 + 8 + 4 + 4, 8 + 8 + 4 + 4 + 4
_REVENUE_FLAG, _FINGERPRINTED_FLAG = 1, 2
#: The flags of a record: a plain utilization line's, any other utilization event's, a revenue event's.
PLAIN_FLAGS, UTILIZATION_FLAGS, REVENUE_FLAGS = 0, _FINGERPRINTED_FLAG, _FINGERPRINTED_FLAG | _REVENUE_FLAG


class Input(NamedTuple):
    """An applied utilization or revenue event, unpacked from its record.

    `period` is where its values count now (NO_PERIOD once voided), `first_period` where it
    was applied (a repeat of its line is judged by that period's lock), `period_max` the
    latest period it has ever counted in: its id is released once that period is locked.
    `values` is (available, sold) for utilization, (amount,) for revenue, with `texts` the
    decimal texts they read back from.

    A plain utilization line (`read_plain_utilization`) keeps no fingerprint: its texts are
    the values' and, by number within the period (`span`), its start and end's, from which
    the fingerprint is made if a repeat ever comes. Every other input keeps its `fingerprint`.
    """

    order: int
    line: int
    first_period: int
    period: int
    period_max: int
    agreement: int
    pool: int
    kind: int
    fingerprint: bytes | None
    span: int | None
    texts: tuple[str, ...]

    @property
    def values(self) -> tuple[Decimal, ...]:
        return tuple(Decimal(text) for text in self.texts)


# The head of a plain utilization record, which the replay's fast lane writes itself: pack
# (order, line, period, period, period, agreement, pool, UTILIZATION, span) and append the
# values' texts "available sold" as the line wrote them, in ASCII.
plain_utilization_head = _HEAD.pack


def pack_input(
    fingerprint: bytes, order: int, line: int, first_period: int, period: int, period_max: int,
    agreement: int, pool: int, kind: int, texts: tuple[str, ...],
) -> bytes:
    """The record of any other input (or of a plain one once corrected)."""
    flags = _FINGERPRINTED_FLAG | (_REVENUE_FLAG if kind == REVENUE else 0)
    head = _HEAD.pack(order, line, first_period, period, period_max, agreement, pool, flags, 0)
    return head + fingerprint + " ".join(texts).encode("ascii")


def unpack_input(record: bytes) -> Input:
    order, line, first_period, period, period_max, agreement, pool, flags, span = _HEAD.unpack_from(record)
    kind = REVENUE if flags & _REVENUE_FLAG else UTILIZATION
    tail = record[_HEAD.size :]
    if flags & _FINGERPRINTED_FLAG:
        fingerprint, span = tail[:FINGERPRINT_BYTES], None
        tail = tail[FINGERPRINT_BYTES:]
    else:
        fingerprint = None
    texts = tuple(tail.decode("ascii").split(" "))
    return Input(order, line, first_period, period, period_max, agreement, pool, kind, fingerprint, span, texts)


def input_order(record: bytes) -> int:
    return _ORDER.unpack_from(record)[0]


def input_period_max(record: bytes) -> int:
    return _PERIOD_MAX.unpack_from(record, _PERIOD_MAX_AT)[0]


def input_agreement(record: bytes) -> int:
    return _AGREEMENT.unpack_from(record, _AGREEMENT_AT)[0]


def decimal_texts(*values: Decimal) -> tuple[str, ...]:
    """Texts that read back to the very same values (exponent included)."""
    return tuple(str(value) for value in values)
