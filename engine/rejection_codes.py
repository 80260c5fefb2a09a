"""The rejection codes of semantics §7: one word per kind of fault, so that a settlement
system can route a rejected line without reading the prose reason.

Every rejected line carries exactly one; a line with several faults carries the code of the
first one found. The table lives here, below both the event reader (which rejects a line on
its own) and the replay (which rejects it against an agreement's state).
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """Why a line was rejected (semantics §7)."""

    MALFORMED = "malformed"  # not UTF-8, not one JSON value under §4 (BOM, NaN, lone surrogate, trailing bytes), not an object
    TOO_LONG = "too_long"  # over 1 MiB
    TOO_DEEP = "too_deep"  # nested deeper than 32 levels
    REPEATED_KEY = "repeated_key"  # a key repeated in an object
    FIELD = "field"  # a field missing, unknown, null, of the wrong JSON type or form
    NUMBER = "number"  # a decimal or count outside §1's forms or bounds, or a value outside its rule's range
    DATE = "date"  # a date or timestamp outside §2's forms, or a date the replay needs past 9999-12-31
    CONFLICT = "conflict"  # the id of an applied event with other content
    UNKNOWN_AGREEMENT = "unknown_agreement"  # names no agreement
    LOCKED = "locked"  # would change a locked period
    NOT_APPLICABLE = "not_applicable"  # needs a clause the deciding version lacks
    UNKNOWN_REFERENCE = "unknown_reference"  # names a pool, party, period, tranche, event or entry that does not exist or qualify
    INTERVAL = "interval"  # start ≥ end, outside the term, across two periods
    CAPACITY = "capacity"  # sold above available, or more GPU-hours than the pool has
    CURRENCY = "currency"  # another currency than the agreement's
    ORDER = "order"  # a close out of order or twice, a true-up before the last close, a share price not after the last
    WARRANT = "warrant"  # breaks an exercise rule
    GUARANTEE = "guarantee"  # breaks a guarantee-call rule


CODES = frozenset(code.value for code in Code)
