"""The replay's fast lane for plain utilization lines changes nothing but the speed.

`Engine._plain` applies a plain utilization line that breaks no rule without building the
typed event or its fingerprint; anything else takes the general path. Every outcome,
reason, entry and summary must be what the general path alone gives, also for lines that
repeat (the fingerprint of a plain line is made only then) or correct one.
"""

from __future__ import annotations

import json

import pytest

from hypothesis import event, given, strategies as st

from engine.replay import Engine
from engine.testing import agreements_with_logs, bad_lines
from engine.testing.invariants import loaded_agreements


def replay(documents, lines: list[bytes], *, lane: bool) -> tuple[list, bytes, dict, int]:
    engine = Engine(loaded_agreements(documents))
    taken = 0
    if not lane:
        engine._plain = lambda raw, number: None
    else:
        plain = engine._plain

        def counting(raw, number):
            nonlocal taken
            event_id = plain(raw, number)
            taken += event_id is not None
            return event_id

        engine._plain = counting
    outcomes = [engine.feed_line(raw, number) for number, raw in enumerate(lines, start=1)]
    views = [(o.line, o.id, o.status, o.reason) for o in outcomes if o is not None]
    ledger = b"".join(entry.line for o in outcomes if o is not None for entry in o.entries)
    return views, ledger, engine.summary(), taken


def mixed_log(data, lines: list[str]) -> list[bytes]:
    """The log with some lines re-sent (as they were, respaced, or with a changed value) and bad lines among them."""
    raws = [line.encode() for line in lines]
    for _ in range(data.draw(st.integers(0, 6))):
        if not raws:
            break
        source = raws[data.draw(st.integers(0, len(raws) - 1))]
        how = data.draw(st.sampled_from(["same", "spaced", "changed"]))
        if how != "same":
            obj = json.loads(source)
            if how == "changed" and obj.get("type") == "utilization":
                obj["sold_gpu_hours"] = "0"
            source = json.dumps(obj, separators=(", ", ": ") if how == "spaced" else (",", ":")).encode()
        raws.insert(data.draw(st.integers(0, len(raws))), source)
    for _ in range(data.draw(st.integers(0, 2))):
        raws.insert(data.draw(st.integers(0, len(raws))), data.draw(bad_lines()))
    return raws


@pytest.mark.slow
@given(agreements_with_logs(versions=st.integers(1, 2)), st.data())
def test_the_lane_gives_what_the_general_path_gives(case, data):
    documents, lines = case
    raws = mixed_log(data, lines)
    with_lane = replay(documents, raws, lane=True)
    without = replay(documents, raws, lane=False)
    event("the lane took lines" if with_lane[3] else "the lane took no line")
    assert with_lane[:3] == without[:3]


def test_the_lane_is_taken_and_judges_repeats_of_its_lines():
    documents_path = "contracts/gb300-monthly"
    line = {"id": "u-1", "type": "utilization", "agreement": "gb300-monthly", "pool": "gb300-a",
            "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z",
            "available_gpu_hours": "64", "sold_gpu_hours": "40.5"}
    plain = json.dumps(line, separators=(",", ":")).encode()
    spaced = json.dumps(line).encode()
    changed = json.dumps({**line, "sold_gpu_hours": "40.50"}, separators=(",", ":")).encode()
    engine = Engine.from_path(documents_path)
    assert engine._plain(plain, 1) == "u-1"
    assert engine.feed_line(spaced, 2).status == "duplicate"
    outcome = engine.feed_line(changed, 3)
    assert outcome.status == "rejected"
    assert outcome.reason == "id 'u-1' was already applied from line 1 with different content"


def test_a_correction_naming_another_agreements_input_is_rejected():
    engine = Engine.from_path("contracts")
    line = {"id": "u-9", "type": "utilization", "agreement": "gb300-monthly", "pool": "gb300-a",
            "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z",
            "available_gpu_hours": "64", "sold_gpu_hours": "40.5"}
    assert engine.feed_line(json.dumps(line, separators=(",", ":"))).status == "applied"
    agreements = sorted(engine.agreements)
    other = next(name for name in agreements if name != "gb300-monthly")
    outcome = engine.feed_event({"id": "k-1", "type": "correction", "agreement": other, "corrects": "u-9", "void": True})
    assert outcome.status == "rejected"
    assert outcome.reason.startswith("corrects 'u-9': no applied utilization or revenue event of this agreement")
