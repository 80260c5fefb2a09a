"""Which plain lane the replay runs: compiled, or the Python reference.

`engine.replay._lane` is built from engine/replay/_lane.c when the package is installed. It takes a plain
utilization line through the decisions of `read_plain_utilization`, `Engine._plain_reference` and
`AgreementReplay.plain_utilization`, which stay the reference: it hands every line it does
not fully settle to them, and tests/replay/test_compiled_lane.py holds the two to the same
outcomes, ledger, summary and memory of every input, byte for byte.

The compiled lane is used when it was built, unless `BACKSTOP_PURE_PYTHON` is set to a
non-empty value (to replay with the reference alone, or where no C compiler was at hand,
in which case the install still succeeds). `COMPILED` is the module, or None.
"""

from __future__ import annotations

import os
from types import ModuleType

import orjson

from engine.events import reader
from engine.numbers import EXACT
from engine.replay.inputs import Key


#: The items of the engine's lane (`Engine.lane`) and of an agreement's
#: (`AgreementReplay.lane`), in order: what the compiled lane is handed. Each side keeps that
#: state in its lane itself (the names are properties over it), so the two lanes always
#: read the same objects; `_lane.c` checks these orders against its own at `configure`.
ENGINE_LANE_FIELDS = ("lanes", "ids", "lines")
AGREEMENT_LANE_FIELDS = ("spans", "locked_below", "capacities", "keys", "closed", "restated", "number",
                         "plain_utilization")


def lane_field(fields: tuple[str, ...], name: str, doc: str) -> property:
    """The field `name` that an object keeps in its `lane` list, at its place in `fields`, so
    that the compiled lane reads the live value."""
    index = fields.index(name)

    def get(owner):
        return owner.lane[index]

    def set_(owner, value) -> None:
        owner.lane[index] = value

    return property(get, set_, doc=doc)


def _compiled() -> ModuleType | None:
    if os.environ.get("BACKSTOP_PURE_PYTHON"):
        return None
    try:
        from engine.replay import _lane
    except ImportError:
        return None
    # What the lane shares with the reference: the same reader, cache of quantities and exact
    # sums; the order of the engine's and an agreement's lanes, which the compiled lane checks
    # against its own; and the key fields it reads and writes, by their descriptors, so that a
    # renamed field fails here, at import, rather than being read under its old name.
    _lane.configure(
        orjson.loads, orjson.JSONDecodeError, reader._QUANTITIES, reader._quantity, reader._ZERO, EXACT.add,
        ENGINE_LANE_FIELDS, AGREEMENT_LANE_FIELDS, Key.available, Key.sold, Key.inputs,
    )
    return _lane


COMPILED = _compiled()


def name() -> str:
    """The lane in use, for reports: "compiled" or "Python"."""
    return "compiled" if COMPILED is not None else "Python"
