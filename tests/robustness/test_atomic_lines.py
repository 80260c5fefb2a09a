"""Every line takes effect whole or not at all: should anything unexpected go wrong while a
line is applied, its changes are rolled back and the engine says which line it was."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from engine.cli import main
from engine.replay import Engine, InternalError
from engine.replay import rules

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "tests" / "golden" / "spec9" / "contracts"
EVENTS = (ROOT / "tests" / "golden" / "spec9" / "events.jsonl").read_text().splitlines()


def fed(lines) -> Engine:
    engine = Engine.from_path(CONTRACTS)
    for raw in lines:
        engine.feed_line(raw)
    return engine


def close_line_index() -> int:
    return next(index for index, raw in enumerate(EVENTS) if json.loads(raw)["type"] == "close")


def fail_on_call(monkeypatch, module, name: str, call: int) -> None:
    """Make `module.name` raise on its `call`-th call from now on (1-based)."""
    original, calls = getattr(module, name), []

    def failing(*args, **kwargs):
        calls.append(None)
        if len(calls) == call:
            raise RuntimeError("injected fault")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


def ledger_of(engine: Engine, lines) -> list[bytes]:
    return [entry.line for outcome in engine.feed_lines(lines) for entry in outcome.entries]


def test_a_close_that_fails_after_issuing_entries_is_rolled_back_whole(monkeypatch):
    cut = close_line_index()
    engine, reference = fed(EVENTS[:cut]), fed(EVENTS[:cut])
    # The close issues the lease-back first, then fails while computing the revenue share.
    fail_on_call(monkeypatch, rules, "revenue_share_target", 1)
    with pytest.raises(InternalError) as raised:
        engine.feed_line(EVENTS[cut])
    assert raised.value.line == cut + 1
    assert f"internal error at line {cut + 1}: RuntimeError: injected fault; please report it" == str(raised.value)
    assert engine.summary() == reference.summary()
    monkeypatch.undo()
    # The same lines again: the engine goes on exactly as one that never saw the failure.
    assert ledger_of(engine, EVENTS[cut:]) == ledger_of(reference, EVENTS[cut:])
    assert engine.summary() == reference.summary()


def test_a_payment_that_fails_after_settling_is_rolled_back_whole(monkeypatch):
    payment = next(index for index, raw in enumerate(EVENTS) if json.loads(raw)["type"] == "payment")
    engine, reference = fed(EVENTS[:payment]), fed(EVENTS[:payment])
    # The payment entry is sealed and applied to January's lease-back before late interest fails.
    fail_on_call(monkeypatch, rules, "late_interest", 1)
    with pytest.raises(InternalError):
        engine.feed_line(EVENTS[payment])
    assert engine.summary() == reference.summary()
    monkeypatch.undo()
    assert ledger_of(engine, EVENTS[payment:]) == ledger_of(reference, EVENTS[payment:])


def test_an_input_that_fails_half_way_is_rolled_back_and_its_id_stays_free(monkeypatch):
    engine, reference = fed(EVENTS[:1]), fed(EVENTS[:1])
    line = EVENTS[1]
    assert json.loads(line)["type"] == "revenue"  # revenue always takes the general path
    replay = engine.agreements["spec9"]
    fail_on_call(monkeypatch, replay, "_mark_restated", 1)  # after the key's sums changed
    with pytest.raises(InternalError):
        engine.feed_line(line)
    assert engine.summary() == reference.summary()
    assert set(engine.ids) == set(reference.ids)
    keys = {index: {pool: (key.available, key.sold, key.revenue, list(key.inputs)) for pool, key in period.items()}
            for index, period in replay.keys.items()}
    expected = {index: {pool: (key.available, key.sold, key.revenue, list(key.inputs)) for pool, key in period.items()}
                for index, period in reference.agreements["spec9"].keys.items()}
    assert keys == expected


def test_close_through_that_fails_is_rolled_back_for_every_agreement(monkeypatch):
    engine, reference = fed(EVENTS), fed(EVENTS)
    fail_on_call(monkeypatch, rules, "lease_back_target", 1)
    with pytest.raises(InternalError) as raised:
        engine.close_through(date(2027, 1, 1))
    assert raised.value.line is None and "--close-through 2027-01-01" in str(raised.value)
    assert engine.summary() == reference.summary()
    monkeypatch.undo()
    day = date(2027, 1, 1)
    assert [e.line for e in engine.close_through(day)] == [e.line for e in reference.close_through(day)]


def test_the_command_stops_with_status_2_names_the_line_and_changes_no_output(monkeypatch, tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(EVENTS) + "\n")
    ledger, summary = tmp_path / "ledger.jsonl", tmp_path / "summary.json"
    ledger.write_bytes(b"the ledger of an earlier run\n")
    fail_on_call(monkeypatch, rules, "revenue_share_target", 1)
    status = main(["replay", str(CONTRACTS), str(events), "--ledger", str(ledger), "--summary", str(summary)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"backstop: internal error at line {close_line_index() + 1}: RuntimeError: injected fault; please report it" in err
    assert "Traceback" not in err
    assert ledger.read_bytes() == b"the ledger of an earlier run\n"
    assert not summary.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["events.jsonl", "ledger.jsonl"]
