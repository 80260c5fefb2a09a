"""Which plain lane the replay runs: compiled, or the Python reference.

`engine.replay._lane` is built from engine/replay/_lane.c when the package is installed. It takes a plain
utilization line through the decisions of `read_plain_utilization`, `Engine._plain_reference` and
`AgreementReplay.plain_utilization`, which stay the reference: it hands every line it does
not fully settle to them, and tests/replay/test_compiled_lane.py holds the two to the same
outcomes, ledger, summary and memory of every input, byte for byte.

The compiled lane is used when it was built, unless `BACKSTOP_PURE_PYTHON` is set to a
non-empty value (to replay with the reference alone, or where no C compiler was at hand,
in which case the install still succeeds). `COMPILED` is the module, or None.

The compiled lane looks up nothing by name. The state it reads and writes lives in fixed
slots: `EngineLane` and `AgreementLane`, the bases of `Engine` and `AgreementReplay`, and the
`Key` dataclass. It is handed their member descriptors once, at import, and reads and writes
through them, as Python does when it names the attribute; the engine and the Python method
that decides what it leaves are handed to it with each line (`Engine._plain`). A slot
renamed on the Python side fails at import, here, where its descriptor is named; `configure`
checks each descriptor's slot against the one compiled in, so a field moved or renamed
without the C file fails at import too, never silently.

Slots, rather than a view of the state built for C: a slot is the attribute itself, so there
is no second copy for Python to keep in step, and whatever the Python side assigns (a
rollback, a restore) is what C reads; Python reads a slot as fast as any attribute, where
state kept in a list behind properties cost the reference lane a sixth more instructions a
line; and C reaches it at a fixed offset.
"""

from __future__ import annotations

import os
from types import ModuleType

import orjson

from engine.events import reader
from engine.numbers import EXACT
from engine.replay.inputs import Key


class EngineLane:
    """What an engine shares with the compiled lane, in fixed slots (see the module's
    docstring): `agreements`, its agreements' replays by id; `ids`, every id in use (an
    input's packed record, or an IdRecord); `lines`, the non-blank lines fed so far, which is
    also the log order of the last."""

    __slots__ = ("agreements", "ids", "lines")


class AgreementLane:
    """What an agreement's replay shares with the compiled lane, in fixed slots (see the
    module's docstring): `_spans`, spans already found to lie in one period of the term
    (start -> (end, period, span number)); `locked_below`, the index below which periods are
    locked; `_capacities`, per period the pools of its governing version ({pool: (number,
    pool, capacity)}, none: no backstop); `keys`, per period and pool (or REVENUE_KEY) its
    Key; `closed`, how many periods are closed; `restated`, the closed periods whose inputs
    changed since they were issued; `number`, the agreement's number in the engine, as input
    records name it."""

    __slots__ = ("_spans", "locked_below", "_capacities", "keys", "closed", "restated", "number")


#: The slots the compiled lane reads and writes, by their descriptors, in the order it takes
#: them: named here, so that a slot renamed on one side alone fails at import whichever lane
#: runs, and checked by `configure` against the C file's.
ENGINE_FIELDS = (EngineLane.agreements, EngineLane.ids, EngineLane.lines)
AGREEMENT_FIELDS = (
    AgreementLane._spans, AgreementLane.locked_below, AgreementLane._capacities, AgreementLane.keys,
    AgreementLane.closed, AgreementLane.restated, AgreementLane.number,
)
KEY_FIELDS = (Key.available, Key.sold, Key.inputs)


def _compiled() -> ModuleType | None:
    if os.environ.get("BACKSTOP_PURE_PYTHON"):
        return None
    try:
        from engine.replay import _lane
    except ImportError:
        return None
    # What the lane shares with the reference: the same reader, cache of quantities and exact
    # sums, and the slots it reads and writes.
    _lane.configure(
        orjson.loads, orjson.JSONDecodeError, reader._QUANTITIES, reader._quantity, reader._ZERO, EXACT.add,
        ENGINE_FIELDS, AGREEMENT_FIELDS, KEY_FIELDS,
    )
    return _lane


COMPILED = _compiled()


def name() -> str:
    """The lane in use, for reports: "compiled" or "Python"."""
    return "compiled" if COMPILED is not None else "Python"
