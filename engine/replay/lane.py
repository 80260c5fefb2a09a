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


def _compiled() -> ModuleType | None:
    if os.environ.get("BACKSTOP_PURE_PYTHON"):
        return None
    try:
        from engine.replay import _lane
    except ImportError:
        return None
    # What the lane shares with the reference: the same reader, cache of quantities and exact sums.
    _lane.configure(orjson.loads, orjson.JSONDecodeError, reader._QUANTITIES, reader._quantity, reader._ZERO, EXACT.add)
    return _lane


COMPILED = _compiled()


def name() -> str:
    """The lane in use, for reports: "compiled" or "Python"."""
    return "compiled" if COMPILED is not None else "Python"
