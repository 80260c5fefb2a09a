"""The replay: events folded into each agreement's state, entries issued (SPEC §5, §7).

Stages, bottom up: `terms` (which version governs), `rules` (pure amount rules), `inputs`
(the packed records of applied inputs), `settlement` (obligations, payments, credits),
`warrants`, `agreement` (one agreement's fold), `engine` (lines in, outcomes out), the plain
lanes (`lane`, `_lane.c`) and `parallel` (agreements over several processes).
"""

from engine.replay.engine import ENGINE_NAME, SEMANTICS, Engine, InternalError, LineOutcome, RejectedLine
from engine.replay.rejected import Rejection
from engine.replay.snapshot import SnapshotError

__all__ = ["ENGINE_NAME", "SEMANTICS", "Engine", "InternalError", "LineOutcome", "RejectedLine", "Rejection", "SnapshotError"]
