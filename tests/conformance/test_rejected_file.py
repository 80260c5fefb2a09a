"""SPEC §8 `--rejected FILE`: every rejected line, byte for byte, so it can be mended and re-sent."""

import json
from pathlib import Path

from engine.cli import main

SPEC9 = Path(__file__).resolve().parents[1] / "golden" / "spec9" / "contracts"


def test_an_over_long_rejected_line_is_written_whole_and_in_order(tmp_path):
    # A close padded in `meta` to ~2 MiB is rejected for its size (SPEC §4: at most 1 MiB), but
    # the rejected file must hold all of it, between its neighbours, so it can be mended.
    big = json.dumps({"id": "big", "type": "close", "agreement": "spec9", "period": "2026-01",
                      "meta": {"pad": "x" * (2 * 1024 * 1024)}}).encode()
    before, after = b'{"id":"a","type":"close"}', b'{"id":"b","type":"close"}'
    long_blank = b" " * (3 * 1024 * 1024)  # blank however long: skipped, not rejected
    events = tmp_path / "events.jsonl"
    events.write_bytes(before + b"\n" + big + b"\r\n" + long_blank + b"\n" + after)
    rejected = tmp_path / "rejected.jsonl"
    summary = tmp_path / "summary.json"
    assert main(["replay", str(SPEC9), str(events), "--rejected", str(rejected), "--summary", str(summary)]) == 1
    assert rejected.read_bytes() == before + b"\n" + big + b"\n" + after + b"\n"
    report = json.loads(summary.read_text())
    assert [r["line"] for r in report["rejected"]] == [1, 2, 4]
    assert [r["code"] for r in report["rejected"]] == ["field", "too_long", "field"]
    assert report["lines"] == 3
