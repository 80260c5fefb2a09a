"""Stress-test one agreement: generated event logs through every invariant (`backstop check`).

Hypothesis draws valid logs for the agreement, replays each, and checks every invariant the
kit has. The first failure is shrunk to its smallest log, which is returned so that it can be
written out and replayed with `backstop replay`. A seed makes the run repeatable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from hypothesis import HealthCheck, given, seed, settings

from engine.testing.invariants import (
    check_cap_respected,
    check_chain_integrity,
    check_chunking_invariance,
    check_correction_equivalence,
    check_duplicates_harmless,
    check_guarantee_calls,
    check_line_accounting,
    check_outstanding_rebuilt,
    check_replay_deterministic,
    check_step_downs_only,
    check_terms_applied,
    check_totals,
    correctable_inputs,
    replay_lines,
)
from engine.testing.strategies import event_logs


@dataclass
class StressResult:
    """How a stress run went: the logs it ran and, on a failure, the smallest failing log."""

    agreement: str
    examples: int = 0
    failure: str | None = None
    failing_lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None


def invariant_checks(loaded, lines: list[str]) -> None:
    """Every invariant for one log of one agreement; raises AssertionError naming the broken one."""
    replayed = replay_lines([loaded], lines)
    entries, summary = replayed.entries, replayed.summary
    check_chain_integrity(replayed.ledger, summary=summary)
    check_line_accounting(summary, lines)
    check_outstanding_rebuilt(entries, summary)
    check_totals(entries, summary)
    check_step_downs_only(entries, documents=[loaded])
    check_terms_applied(entries, [loaded])
    caps = {version.document.backstop.cap for version in loaded.versions if version.document.backstop is not None}
    if len(caps) == 1:
        check_cap_respected(entries, caps.pop())
    floors = {version.document.revenue_floor.cap for version in loaded.versions if version.document.revenue_floor is not None}
    if len(floors) == 1:  # (v2) the top-ups against their own cap, apart from the lease-back's
        check_cap_respected(entries, floors.pop(), of="revenue_top_up")
    if loaded.versions[0].document.guarantee is not None:
        check_guarantee_calls(entries, [loaded])
    check_replay_deterministic([loaded], lines)
    check_chunking_invariance([loaded], lines, chunks=(len(lines) // 3, 2 * len(lines) // 3))
    check_duplicates_harmless([loaded], lines)
    _check_a_correction(loaded, lines)


def _check_a_correction(loaded, lines: list[str]) -> None:
    """Correction equivalence on the log's first input that can be corrected while its period is open."""
    kind = loaded.versions[0].document.settlement.period
    for index, last in correctable_inputs(lines, kind)[:1]:
        event = json.loads(lines[index])
        wrong = {"sold_gpu_hours": "0"} if event["type"] == "utilization" else {"amount": "0"}
        check_correction_equivalence([loaded], lines, index=index, wrong=wrong, correct_after=last)


def stress_agreement(loaded, *, examples: int, seed_value: int,
                     on_example: Callable[[int], None] | None = None) -> StressResult:
    """Run `examples` generated logs of `loaded` through every invariant, deterministically for a seed."""
    result = StressResult(loaded.id)
    last_failure: dict[str, object] = {}

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(event_logs(loaded))
    def run(lines: list[str]) -> None:
        result.examples += 1
        if on_example is not None:
            on_example(result.examples)
        try:
            invariant_checks(loaded, lines)
        except AssertionError as error:
            # Hypothesis replays the smallest failing log last, so this ends as that log.
            last_failure["lines"], last_failure["message"] = list(lines), str(error)
            raise

    try:
        run()
    except AssertionError:
        result.failure = str(last_failure.get("message", "an invariant failed"))
        result.failing_lines = list(last_failure.get("lines", []))
    return result
