"""A property-test kit for backstop agreements: strategies, invariant checks and helpers.

Use it in your own tests to generate valid agreements and event logs (`strategies`), to check
that a ledger obeys the invariants SPEC promises (`invariants`), and to write an agreement out
as a folder of YAML files the command line can read (`folders`). Every check raises
`AssertionError` whose message names the invariant, the entry or line, and the numbers.

Hypothesis is an optional extra of the `backstop` package::

    pip install 'backstop[testing]'
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401  (the strategies below are Hypothesis strategies)
except ImportError as error:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "engine.testing needs Hypothesis, an optional extra of backstop: pip install 'backstop[testing]'"
    ) from error

from engine.testing.folders import agreement_json_text, agreement_yaml_text, write_agreement_folder
from engine.testing.invariants import (
    Replayed,
    check_cap_respected,
    check_guarantee_calls,
    check_chain_integrity,
    check_chunking_invariance,
    check_correction_equivalence,
    check_duplicates_harmless,
    check_line_accounting,
    check_outstanding_rebuilt,
    check_replay_deterministic,
    check_step_downs_only,
    check_terms_applied,
    check_totals,
    correctable_inputs,
    input_period,
    replay_lines,
)
from engine.testing.strategies import (
    agreements,
    agreements_with_logs,
    bad_lines,
    coded_bad_lines,
    decimals,
    event_logs,
    period_ids,
    timestamps,
)

__all__ = [
    # strategies
    "agreements",
    "agreements_with_logs",
    "event_logs",
    "bad_lines",
    "coded_bad_lines",
    "decimals",
    "timestamps",
    "period_ids",
    # files
    "write_agreement_folder",
    "agreement_yaml_text",
    "agreement_json_text",
    # replay and invariants
    "replay_lines",
    "Replayed",
    "check_chain_integrity",
    "check_line_accounting",
    "check_cap_respected",
    "check_guarantee_calls",
    "check_step_downs_only",
    "check_terms_applied",
    "check_outstanding_rebuilt",
    "check_totals",
    "check_replay_deterministic",
    "check_chunking_invariance",
    "check_duplicates_harmless",
    "check_correction_equivalence",
    "correctable_inputs",
    "input_period",
]
