"""The bundled examples and the worked example, replayed once each, for the reports' tests."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from engine.documents.loader import load_agreements
from engine.reports import read_ledger
from engine.testing import replay_lines

ROOT = Path(__file__).resolve().parents[2]
SPEC9 = ROOT / "tests" / "golden" / "spec9"
#: Every bundled agreement folder of contracts/; each has its log examples/FOLDER.jsonl.
BUNDLED = sorted(path.name for path in (ROOT / "contracts").iterdir() if path.is_dir() and not path.name.startswith("."))


@functools.cache
def bundled(folder: str) -> tuple[tuple, bytes, dict]:
    """(loaded agreements, ledger bytes, summary) of a bundled agreement replayed from its log."""
    agreements = load_agreements(ROOT / "contracts" / folder)
    lines = (ROOT / "examples" / f"{folder}.jsonl").read_text(encoding="utf-8").splitlines()
    replayed = replay_lines(agreements, lines)
    assert not replayed.summary["rejected"], replayed.summary["rejected"][:3]
    return agreements, replayed.ledger, replayed.summary


def spec9() -> tuple[tuple, list[dict], dict]:
    """(loaded agreements, entries, summary) of the worked example's golden ledger."""
    entries = read_ledger((SPEC9 / "ledger.jsonl").read_bytes().splitlines(keepends=True))
    return load_agreements(SPEC9 / "contracts"), entries, json.loads((SPEC9 / "summary.json").read_text())


def entries_of(ledger: bytes) -> list[dict]:
    return read_ledger(ledger.splitlines(keepends=True))
