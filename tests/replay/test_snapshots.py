"""Snapshots are explicit, versioned data: they carry an engine across restarts byte for byte,
and anything that is not exactly a snapshot of these documents by this engine is refused."""

from __future__ import annotations

import json
import pickle
import shutil
import zlib
from pathlib import Path

import orjson
import pytest

from engine import __version__
from engine.documents.loader import load_agreements
from engine.replay import Engine, SnapshotError
from engine.replay.snapshot import FORMAT, MAGIC

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
LINES = (ROOT / "examples" / "all.jsonl").read_bytes().splitlines()


def replayed(lines, engine: Engine | None = None) -> tuple[Engine, list[bytes]]:
    engine = engine or Engine.from_path(CONTRACTS)
    return engine, [entry.line for outcome in engine.feed_lines(lines) for entry in outcome.entries]


@pytest.mark.parametrize("cut", [0, 1, 37, len(LINES) // 2, len(LINES) - 1, len(LINES)])
def test_a_restored_engine_goes_on_byte_for_byte(cut):
    whole, expected = replayed(LINES)
    first, ledger = replayed(LINES[:cut])
    snapshot = first.snapshot()
    restored = Engine.restore(snapshot, load_agreements(CONTRACTS))
    assert restored.snapshot() == snapshot
    restored, rest = replayed(LINES[cut:], restored)
    assert ledger + rest == expected
    assert restored.summary() == whole.summary()
    assert restored.snapshot() == whole.snapshot()


def test_the_same_state_gives_the_same_bytes():
    assert replayed(LINES)[0].snapshot() == replayed(LINES)[0].snapshot()


def document_of(snapshot: bytes) -> dict:
    return orjson.loads(zlib.decompress(snapshot[len(MAGIC):]))


def snapshot_of(document: dict) -> bytes:
    return MAGIC + zlib.compress(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))


@pytest.fixture(scope="module")
def saved() -> bytes:
    return replayed(LINES[: len(LINES) // 2])[0].snapshot()


def refusal(snapshot: bytes, contracts: Path = CONTRACTS) -> str:
    with pytest.raises(SnapshotError) as raised:
        Engine.restore(snapshot, load_agreements(contracts))
    return str(raised.value)


def test_a_pickle_is_not_a_snapshot_and_is_never_unpickled(saved):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('executed')",))

    assert "not a backstop snapshot" in refusal(pickle.dumps(Boom()))
    assert "not a backstop snapshot" in refusal(b"")


def test_a_snapshot_cut_short_is_damaged(saved):
    assert "damaged" in refusal(saved[: len(saved) // 2]) or "cut short" in refusal(saved[: len(saved) // 2])


def test_another_format_version_is_refused_with_the_way_out(saved):
    message = refusal(b"backstop-snapshot/0\n" + saved[len(MAGIC):])
    assert "format backstop-snapshot/0" in message and FORMAT in message and "replay the event log" in message


def test_another_engine_version_is_refused(saved):
    document = document_of(saved)
    document["engine"]["version"] = "0.0.1"
    message = refusal(snapshot_of(document))
    assert "written by backstop 0.0.1" in message and __version__ in message


def test_other_semantics_are_refused(saved):
    document = document_of(saved)
    document["semantics"] = "backstop/v0"
    assert "semantics backstop/v0" in refusal(snapshot_of(document))


def copied_contracts(tmp_path: Path) -> Path:
    target = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, target)
    return target


def test_a_changed_document_is_refused_naming_the_version(saved, tmp_path):
    contracts = copied_contracts(tmp_path)
    path = contracts / "gb300-monthly" / "v1.yaml"
    path.write_text(path.read_text() + "\n# an edit\n")
    message = refusal(saved, contracts)
    assert "agreement gb300-monthly version 1 has sha256" in message and "in the snapshot" in message


def test_an_added_version_is_refused(saved, tmp_path):
    contracts = copied_contracts(tmp_path)
    v1 = (contracts / "residual-quarterly" / "v1.yaml").read_text()
    start = next(line for line in v1.splitlines() if line.startswith("  start:")).split(":", 1)[1].strip()
    amended = v1.replace("version: 1", "version: 2").replace(f"effective: {start}", "effective: 2027-01-01")
    (contracts / "residual-quarterly" / "v2.yaml").write_text(amended)
    assert "residual-quarterly version 2 is in the documents but not in the snapshot" in refusal(saved, contracts)


def test_a_removed_agreement_is_refused(saved, tmp_path):
    contracts = copied_contracts(tmp_path)
    shutil.rmtree(contracts / "warrants-milestones")
    assert "in the snapshot but not in the documents: warrants-milestones" in refusal(saved, contracts)


@pytest.mark.parametrize("path, value, words", [
    (("state", "gb300-monthly", "closed"), "3", "snapshot.state.gb300-monthly.closed is '3'; expected an integer"),
    (("state", "gb300-monthly", "closed"), 10**6, "expected an integer from 0 to"),
    (("state", "gb300-monthly", "entitled"), "NaN", "where a finite decimal is due"),
    (("position", "rejected"), 10**6, "counts a different number of rejections"),
    (("ids",), [["x", "pickle", {}]], "has kind 'pickle'"),
    (("ids",), [["x", "input", "not base64!"]], "is not base64"),
    (("ids",), [["x", "event", {"fingerprint": "", "line": 1, "agreement": "elsewhere", "lock_periods": []}]],
     "names agreement 'elsewhere'"),
])
def test_a_damaged_field_is_refused_naming_its_path(saved, path, value, words):
    document = document_of(saved)
    target = document
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    message = refusal(snapshot_of(document))
    assert "the snapshot is damaged" in message and words in message


def test_a_book_whose_balance_does_not_add_up_is_refused(saved):
    document = document_of(saved)
    book = next(book for _, _, book in document["state"]["gb300-monthly"]["books"] if book["open"])
    book["outstanding"] = "1"
    assert "not the sum of its open obligations" in refusal(snapshot_of(document))


def test_the_snapshot_is_data_a_person_can_read(saved):
    document = document_of(saved)
    assert document["format"] == FORMAT
    assert set(document) == {"format", "engine", "semantics", "agreements", "position", "ids", "rejections", "state"}
    assert json.loads(json.dumps(document)) == document


def test_a_restated_period_survives_a_restart():
    spec9 = ROOT / "tests" / "golden" / "spec9" / "contracts"
    lines = (ROOT / "tests" / "golden" / "spec9" / "events.jsonl").read_bytes().splitlines()
    close = next(index for index, raw in enumerate(lines) if b'"type":"close"' in raw)
    correction = (b'{"id":"fix-jan","type":"correction","agreement":"spec9","corrects":"u-jan","replacement":'
                  b'{"pool":"p1","start":"2026-01-01T00:00:00Z","end":"2026-02-01T00:00:00Z",'
                  b'"available_gpu_hours":"74400","sold_gpu_hours":"40000"}}')
    head, tail = lines[: close + 1] + [correction], lines[close + 1:]
    whole, expected = replayed(head + tail, Engine.from_path(spec9))
    first, ledger = replayed(head, Engine.from_path(spec9))
    assert first.agreements["spec9"].restated  # an adjustment is pending at the cut
    restored, rest = replayed(tail, Engine.restore(first.snapshot(), load_agreements(spec9)))
    assert ledger + rest == expected
    assert any(b'"kind":"adjustment"' in line for line in rest)
