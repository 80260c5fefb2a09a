"""Savepoints: what one line may change in an agreement's state, kept to put back if it fails.

A rule that rejects an event raises before anything changes, so a rejected line needs no
undo. A savepoint is for the unexpected: should anything else go wrong while a line is
applied (a bug, a resource running out), the line's changes are put back, so that every
line takes effect whole or not at all.

Copying the whole state per line would cost as much as the state; a savepoint instead copies
the small parts eagerly (counters, sums, restated periods, totals, the chain's head, the
books' containers and balances, warrant and guarantee state) and keeps the large ones (a
period's keys, the id map) by journal: the replay notes a key or a created key just before it
changes it, and the ids it sets. A period the line locks is forgotten (its keys dropped, its
ids released) only once the line has taken effect. An input or a correction, nearly every
line that takes this path, copies nothing but a few scalars, the restated periods and the
totals. A rollback puts every member back in its place: even the order of the maps is as
before.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any

_MISSING = object()


@dataclass(slots=True)
class Savepoint:
    """An agreement's state before a line, and the journal of what the line changed since."""

    scalars: tuple
    restated: set[int]
    totals: dict
    books: list | None  # [(book, its state)]; None for input lines, which never touch the books or the chain
    warrants: Any
    pools: int
    keys_before: dict[int, tuple] = field(default_factory=dict)  # id(key) -> (key, its fields)
    keys_created: list[tuple[int, str]] = field(default_factory=list)
    locked: list[tuple[int, list]] = field(default_factory=list)  # (period index, ids it releases), forgotten on release
    ids_before: dict[str, Any] = field(default_factory=dict)
    guarantee: Any = None  # (v2) the guarantee's state, for lines that may issue entries

    def keep_key(self, key) -> None:
        """Note a key's fields before its first change under this savepoint."""
        if id(key) not in self.keys_before:
            self.keys_before[id(key)] = (key, tuple(_copied(getattr(key, name)) for name in _field_names(type(key))))

    def keep_id(self, ids: dict, event_id: str) -> None:
        """Note an id's record before it is set or released under this savepoint."""
        if event_id not in self.ids_before:
            self.ids_before[event_id] = ids.get(event_id, _MISSING)

    def restore_keys(self, keys: dict) -> None:
        for key, values in self.keys_before.values():
            for name, value in zip(_field_names(type(key)), values):
                if type(value) is _Appended:
                    del value.items[value.length:]
                    value = value.items
                setattr(key, name, value)
        for index, pool in reversed(self.keys_created):
            period_keys = keys.get(index)
            if period_keys is not None:
                period_keys.pop(pool, None)
                if not period_keys:
                    del keys[index]

    def restore_ids(self, ids: dict) -> None:
        for event_id, record in self.ids_before.items():
            if record is _MISSING:
                ids.pop(event_id, None)
            else:
                ids[event_id] = record


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@dataclass(frozen=True, slots=True)
class _Appended:
    """A list that a line only appends to (a key's inputs), kept as its length: cheap to note."""

    items: list
    length: int


def _copied(value):
    """A field's value as it stands: a list by its length, a dict copied, immutable values kept."""
    if type(value) is list:
        return _Appended(value, len(value))
    if isinstance(value, (dict, set)):
        return copy.copy(value)
    return value
