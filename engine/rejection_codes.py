"""The rejection codes of semantics §7: one word per kind of fault, so that a settlement
system can route a rejected line without reading the prose reason.

Every rejected line carries exactly one; a line with several faults carries the code of the
first one found. The table lives here, below both the event reader (which rejects a line on
its own) and the replay (which rejects it against an agreement's state).
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """Why a line was rejected (semantics §7). Each comment says which faults the code covers;
    where two codes could seem to fit, the table's wording decides, and so does the comment."""

    # The line on its own (the event reader).
    MALFORMED = "malformed"  # not UTF-8, not one strict JSON value (a BOM, NaN, a lone surrogate, trailing bytes), not an object
    TOO_LONG = "too_long"  # over 1 MiB
    TOO_DEEP = "too_deep"  # nested deeper than 32 levels
    REPEATED_KEY = "repeated_key"  # a key repeated in an object
    FIELD = "field"  # a field missing, unknown or null; a value of the wrong JSON type or form (an id too long, an unknown type)
    NUMBER = "number"  # a decimal or count out of §1's forms or bounds, a value out of its range, more fraction digits than places
    DATE = "date"  # a date or timestamp out of §2's forms, or a date the replay would need past 9999-12-31
    # The line against the log and the agreement (the replay).
    CONFLICT = "conflict"  # the id of an applied event, with other content
    UNKNOWN_AGREEMENT = "unknown_agreement"  # names no agreement
    LOCKED = "locked"  # would change a locked period
    NOT_APPLICABLE = "not_applicable"  # needs a clause the deciding version lacks (backstop, revenue_share, warrants, guarantee)
    UNKNOWN_REFERENCE = "unknown_reference"  # names no such pool, party, period, tranche, event or entry, or one that does
    #   not qualify: a period id of the other kind or naming no month or quarter, a payer equal to the payee, a
    #   correction of a non-input or released event
    INTERVAL = "interval"  # start ≥ end, outside the term, across two periods; a period id of the right kind outside the term
    CAPACITY = "capacity"  # sold above available, or more GPU-hours than the pool has
    CURRENCY = "currency"  # another currency than the agreement's
    ORDER = "order"  # a close out of order or twice, a true-up before the last close, a share price not after the last
    WARRANT = "warrant"  # breaks an exercise rule (an unknown tranche is UNKNOWN_REFERENCE)
    GUARANTEE = "guarantee"  # breaks a guarantee-call rule


CODES = frozenset(code.value for code in Code)
