"""Snapshots are explicit, versioned data: they carry an engine across restarts byte for byte,
and anything that is not exactly a snapshot of these documents by this engine is refused."""

from __future__ import annotations

import base64
import json
import pickle
import shutil
import struct
import zlib
from datetime import date
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import __version__
from engine.documents.loader import load_agreements, load_agreements_from_mappings
from engine.replay import SEMANTICS, Engine, SnapshotError
from engine.replay.inputs import INPUT_HEAD, NO_PERIOD, pack_input, plain_utilization_head
from engine.replay.snapshot import _HEAD_FIELDS, FORMAT, MAGIC, SECTIONS, _head_columns
from engine.testing import agreements_with_logs, bad_lines

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
LINES = (ROOT / "examples" / "all.jsonl").read_bytes().splitlines()
BAD = b'{"id":"bad-1","type":"close","agreement":"gb300-monthly","period":"2099-01"}'  # a rejected line


def replayed(lines, engine: Engine | None = None) -> tuple[Engine, list[bytes]]:
    engine = engine or Engine.from_path(CONTRACTS)
    return engine, [entry.line for outcome in engine.feed_lines(lines) for entry in outcome.entries]


# ---- going on where it stopped ---------------------------------------------------------------


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


def split_replay(loaded, raws: list[bytes], cut: int) -> None:
    """Feed `raws` whole, and cut at `cut` with a snapshot and a restore in between; then close
    every period: the ledgers, summaries and final snapshots must be the same bytes."""
    through = date(2200, 1, 1)
    whole = Engine(loaded)
    expected = [entry.line for outcome in whole.feed_lines(raws) for entry in outcome.entries]
    expected += [entry.line for entry in whole.close_through(through)]
    first = Engine(loaded)
    ledger = [entry.line for outcome in first.feed_lines(raws[:cut]) for entry in outcome.entries]
    snapshot = first.snapshot()
    restored = Engine.restore(snapshot, loaded)
    assert restored.snapshot() == snapshot
    ledger += [entry.line for outcome in restored.feed_lines(raws[cut:]) for entry in outcome.entries]
    ledger += [entry.line for entry in restored.close_through(through)]
    assert ledger == expected
    assert restored.summary() == whole.summary()
    assert document_of(restored.snapshot()) == document_of(whole.snapshot())  # the state, told apart readably
    assert restored.snapshot() == whole.snapshot()


@pytest.mark.parametrize("pins", [{}, {"warrants": True, "lock_after_periods": 0}, {"lock_after_periods": 1},
                                  {"revenue_floor": True, "guarantee": True, "lock_after_periods": 1}],
                         ids=["any", "warrants-locked-at-once", "locked-after-one", "floor-and-guarantee"])
@given(data=st.data())
def test_a_snapshot_anywhere_in_a_generated_log_changes_nothing(pins, data):
    """Cut anywhere, also right after a close, in logs with corrections, payments, true-ups,
    warrant events, locks, guarantee calls, revenue under a floor and rejected lines: the two
    parts give the one run's bytes."""
    documents, lines = data.draw(agreements_with_logs(**pins), label="agreement and log")
    raws = [line.encode("utf-8") for line in lines]
    for place, bad in data.draw(st.lists(st.tuples(st.integers(0, len(raws)), bad_lines(agreement=documents[0]["agreement"])),
                                         max_size=3), label="rejected lines"):
        raws.insert(place, bad)
    after_closes = [place + 1 for place, raw in enumerate(raws) if b'"close"' in raw]
    cuts = st.integers(0, len(raws)) | st.sampled_from(after_closes) if after_closes else st.integers(0, len(raws))
    split_replay(load_agreements_from_mappings(documents), raws, data.draw(cuts, label="cut"))


@pytest.mark.parametrize("agreement", ["dc-guarantee", "floor-partnership"])
def test_the_v2_samples_cut_anywhere_give_their_whole_replay(agreement):
    """The state of semantics v2 (top-up sums and keys, six directions, debt service and calls)
    crosses a restart at every line of the two v2 sample logs."""
    loaded = [a for a in load_agreements(CONTRACTS) if a.id == agreement]
    raws = (ROOT / "examples" / f"{agreement}.jsonl").read_bytes().splitlines()
    for cut in range(len(raws) + 1):
        split_replay(loaded, raws, cut)


def test_the_same_state_gives_the_same_bytes():
    assert replayed(LINES)[0].snapshot() == replayed(LINES)[0].snapshot()


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


def test_share_counts_beyond_64_bits_are_kept_exactly():
    engine, _ = replayed(LINES)
    warrants = engine.agreements["warrants-milestones"]
    warrants.totals["split_adjustment"] = 10**30 + 7
    next(iter(warrants.warrants.tranches.values())).remaining = 3**70
    restored = Engine.restore(engine.snapshot(), load_agreements(CONTRACTS))
    assert restored.agreements["warrants-milestones"].totals["split_adjustment"] == 10**30 + 7
    assert next(iter(restored.agreements["warrants-milestones"].warrants.tranches.values())).remaining == 3**70
    assert restored.snapshot() == engine.snapshot()


def test_restore_from_path_reads_the_documents_itself():
    engine, _ = replayed(LINES[:100])
    assert Engine.restore_from_path(engine.snapshot(), CONTRACTS).snapshot() == engine.snapshot()


# ---- the format ----------------------------------------------------------------------------


def document_of(snapshot: bytes) -> dict:
    return orjson.loads(zlib.decompress(snapshot[len(MAGIC):]))


def snapshot_of(document: dict) -> bytes:
    return MAGIC + zlib.compress(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))


@pytest.fixture(scope="module")
def saved() -> bytes:
    """Half the example log, with a rejected line: every agreement has keys, books and totals."""
    return replayed(LINES[: len(LINES) // 2] + [BAD])[0].snapshot()


def test_the_snapshot_is_data_a_person_can_read(saved):
    assert saved.startswith(b"backstop-snapshot/3\n")
    document = document_of(saved)
    assert document["format"] == FORMAT
    assert set(document) == {"format", "engine", "semantics", "agreements", "position", "ids", "rejections", "state"}
    assert set(document["state"]["gb300-monthly"]) == set(SECTIONS) == {
        "periods", "inputs", "caps", "books", "totals", "warrants", "guarantee"}
    assert json.loads(json.dumps(document)) == document
    inputs = document["ids"]["inputs"]
    assert len(inputs["ids"]) == len(inputs["sizes"]) == sum(
        key[2]["inputs"] for state in document["state"].values() for key in state["inputs"]["keys"])
    assert document["rejections"] == [[len(LINES) // 2 + 1, "bad-1", document["rejections"][0][2], "interval"]]


def test_record_heads_read_as_columns_are_the_heads_unpacked():
    records = [
        pack_input(b"f" * 16, 7, 12, 3, NO_PERIOD, 5, 2, 1, 0, ("10.5", "3")),
        plain_utilization_head(2**40, 2**33, 0, 0, 0, 65535, 0, 0, 2**32 - 1) + b"64 51.23",
        pack_input(b"g" * 16, 1, 1, 0, 0, 0, 0, 0, 1, ("-7.25",)),
    ]
    columns = _head_columns(records, _HEAD_FIELDS)
    assert [tuple(column[place] for column in columns.values()) for place in range(len(records))] == [
        INPUT_HEAD.unpack_from(record) for record in records]


# ---- what restore refuses ------------------------------------------------------------------


def refusal(snapshot, contracts: Path = CONTRACTS) -> str:
    with pytest.raises(SnapshotError) as raised:
        Engine.restore(snapshot, load_agreements(contracts))
    return str(raised.value)


def test_a_pickle_is_not_a_snapshot_and_is_never_unpickled(tmp_path):
    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    crafted = pickle.dumps(Payload())
    assert "not a backstop snapshot" in refusal(crafted)
    assert "the snapshot is damaged" in refusal(MAGIC + crafted)  # a pickle behind the right first line
    assert "the snapshot is damaged" in refusal(MAGIC + zlib.compress(crafted))
    assert not marker.exists()
    assert "not a backstop snapshot" in refusal(b"")
    assert "a snapshot is bytes; got str" in refusal(MAGIC.decode())


def test_a_snapshot_cut_short_is_refused(saved):
    assert "the snapshot is damaged: it is cut short" in refusal(saved[: len(saved) // 2])


def test_a_corrupted_snapshot_is_refused(saved):
    middle = len(saved) // 2
    corrupted = saved[:middle] + bytes([saved[middle] ^ 0x10]) + saved[middle + 1:]
    assert "the snapshot is damaged" in refusal(corrupted)
    assert "the snapshot is damaged: 3 bytes follow its end" in refusal(saved + b"xyz")


def test_another_format_version_is_refused_with_the_way_out(saved):
    message = refusal(b"backstop-snapshot/2\n" + saved[len(MAGIC):])
    assert "format backstop-snapshot/2" in message and FORMAT in message and "replay the event log" in message
    document = document_of(saved)
    document["format"] = "backstop-snapshot/4"
    assert f"this snapshot has format 'backstop-snapshot/4'; this engine reads {FORMAT}" in refusal(snapshot_of(document))


def test_another_engine_version_is_refused(saved):
    document = document_of(saved)
    document["engine"]["version"] = "0.0.1"
    message = refusal(snapshot_of(document))
    assert f"this snapshot was written by backstop 0.0.1; this is backstop {__version__}" in message


def test_other_semantics_are_refused(saved):
    document = document_of(saved)
    document["semantics"] = "backstop/v0"
    assert f"this snapshot has semantics backstop/v0; this engine has {SEMANTICS}" in refusal(snapshot_of(document))


def copied_contracts(tmp_path: Path) -> Path:
    target = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, target)
    return target


def test_a_changed_document_is_refused_naming_the_version(saved, tmp_path):
    contracts = copied_contracts(tmp_path)
    path = contracts / "gb300-monthly" / "v1.yaml"
    path.write_text(path.read_text() + "\n# an edit\n")
    message = refusal(saved, contracts)
    assert "does not match the documents: agreement gb300-monthly version 1 has sha256" in message
    assert "in the snapshot" in message


def amend(contracts: Path) -> None:
    v1 = (contracts / "residual-quarterly" / "v1.yaml").read_text()
    start = next(line for line in v1.splitlines() if line.startswith("  start:")).split(":", 1)[1].strip()
    amended = v1.replace("version: 1", "version: 2").replace(f"effective: {start}", "effective: 2027-01-01")
    (contracts / "residual-quarterly" / "v2.yaml").write_text(amended)


def test_an_added_version_is_refused(saved, tmp_path):
    contracts = copied_contracts(tmp_path)
    amend(contracts)
    assert "residual-quarterly version 2 is in the documents but not in the snapshot" in refusal(saved, contracts)


def test_a_removed_version_is_refused(tmp_path):
    contracts = copied_contracts(tmp_path)
    amend(contracts)
    amended = Engine.from_path(contracts).snapshot()
    assert "residual-quarterly version 2 is in the snapshot but not in the documents" in refusal(amended)


def test_a_removed_agreement_is_refused(saved, tmp_path):
    contracts = copied_contracts(tmp_path)
    shutil.rmtree(contracts / "warrants-milestones")
    assert "agreements in the snapshot but not in the documents: warrants-milestones" in refusal(saved, contracts)


def test_an_added_agreement_is_refused(saved, tmp_path):
    contracts = copied_contracts(tmp_path)
    (contracts / "spec9").mkdir()
    shutil.copy(ROOT / "tests" / "golden" / "spec9" / "contracts" / "example.yaml", contracts / "spec9" / "v1.yaml")
    assert "agreements in the documents but not in the snapshot: spec9" in refusal(saved, contracts)


def record_changed(document: dict, place: int, offset: int, fmt: str, value: int) -> None:
    """Overwrite one field of the head of input record `place`, in the document's columns."""
    inputs = document["ids"]["inputs"]
    blob = bytearray(base64.b64decode(inputs["records"]))
    struct.pack_into(fmt, blob, sum(inputs["sizes"][:place]) + offset, value)
    inputs["records"] = base64.b64encode(bytes(blob)).decode("ascii")


def key_of(document: dict, agreement: str, taking: bool = True) -> dict:
    return next(key[2] for key in document["state"][agreement]["inputs"]["keys"] if key[2]["inputs"] or not taking)


def book_with_two_open(document: dict) -> dict:
    return next(book for state in document["state"].values() for _, _, book in state["books"] if len(book["open"]) > 1)


def unqueued(book: dict) -> None:
    book["queue"] = [item for item in book["queue"] if item[2] != book["open"][0][0]]


DAMAGES = [
    # (what is changed, the words of the refusal)
    (lambda d: d["state"]["gb300-monthly"]["periods"].update(closed="3"),
     "snapshot.state.gb300-monthly.periods.closed is '3'; expected an integer"),
    (lambda d: d["state"]["gb300-monthly"]["periods"].update(closed=10**6), "expected an integer from 0 to"),
    (lambda d: d["state"]["gb300-monthly"]["periods"].update(locked_below=-1),
     "has locked_below -1; with 6 periods closed and lock_after_periods 3 it is 3"),
    (lambda d: d["state"]["gb300-monthly"]["periods"].update(restated=[9]), "restated[0] is 9; expected an integer from 0 to 5"),
    (lambda d: d["state"]["gb300-monthly"]["caps"]["lease_back"].update(entitled="NaN"),
     "caps.lease_back.entitled is 'NaN'; expected a finite decimal"),
    (lambda d: d["state"]["gb300-monthly"]["caps"]["lease_back"].update(issued="1_000.00"),
     "caps.lease_back.issued is '1_000.00'; expected a finite decimal written plainly"),
    (lambda d: d["state"]["gb300-monthly"].update(lender=None), "has fields it should not have: 'lender'"),
    (lambda d: d["state"]["gb300-monthly"].pop("totals"), "gb300-monthly has no field 'totals'"),
    (lambda d: d["position"].update(rejected=10**6), "counts a different number of rejections"),
    (lambda d: d["position"].update(lines=3), "counts more duplicates and rejections than lines"),
    (lambda d: d["rejections"][0].__setitem__(3, "sideways"), "rejections[0][3] is 'sideways'; expected a rejection code of semantics §7"),
    (lambda d: d["ids"]["inputs"].update(records="not base64!"), "snapshot.ids.inputs.records is not base64"),
    (lambda d: d["ids"]["inputs"]["ids"].__setitem__(0, 7), "snapshot.ids.inputs.ids is not a list of strings"),
    (lambda d: d["ids"]["inputs"]["sizes"].pop(), "ids but"),
    (lambda d: d["ids"]["inputs"]["sizes"].__setitem__(0, d["ids"]["inputs"]["sizes"][0] + 1), "not the"),
    (lambda d: d["ids"]["inputs"]["ids"].__setitem__(1, d["ids"]["inputs"]["ids"][0]), "lists an id twice"),
    (lambda d: d["ids"]["events"][0].__setitem__(3, "elsewhere"), "names agreement 'elsewhere'"),
    (lambda d: d["ids"]["events"][0].__setitem__(1, "AAAA"), "has a fingerprint of 3 bytes; expected 16"),
    (lambda d: d["ids"]["events"][0].__setitem__(4, [10**6]), "expected an integer from 0 to"),
    (lambda d: record_changed(d, 0, 16, "<i", 3), "that are not its inputs"),  # its first period, 4
    (lambda d: record_changed(d, 0, 28, "<H", 3), "that are not its inputs"),  # its agreement
    (lambda d: record_changed(d, 0, 0, "<q", 10**9), "whose log order, periods or kind cannot be"),
    (lambda d: key_of(d, "gb300-monthly").update(inputs=10**7), "takes inputs past the"),
    (lambda d: key_of(d, "gb300-monthly").update(changes=[["nobody", 3]]), "names an id twice, or one that is not in use"),
    (lambda d: d["state"]["gb300-monthly"]["inputs"]["keys"][0].__setitem__(1, "gb300-z"), "names pool 'gb300-z'"),
    (lambda d: d["state"]["gb300-monthly"]["inputs"]["keys"][0].__setitem__(0, 0), "expected an integer from 3 to"),
    (lambda d: d["state"]["gb300-monthly"]["inputs"]["pools"].reverse(), "numbers the pools differently"),
    (lambda d: d["state"]["gb300-monthly"]["inputs"]["spans"][0][1].append(7), "is not a list of spans"),
    (lambda d: book_with_two_open(d).update(outstanding="1"), "not the sum of its open obligations"),
    (lambda d: book_with_two_open(d)["queue"].reverse(), "queue out of heap order"),
    (lambda d: unqueued(book_with_two_open(d)), "does not list each open obligation once"),
    (lambda d: book_with_two_open(d)["open"][0].__setitem__(3, "payment"), "is not an open obligation"),
    (lambda d: book_with_two_open(d)["open"][0].__setitem__(2, "2026-1-5"), "is '2026-1-5'; expected a date"),
    (lambda d: book_with_two_open(d)["open"][0].__setitem__(1, 10**6), "expected an integer from 1 to"),
    (lambda d: d["state"]["gb300-monthly"]["books"].pop(), "does not list a book for every direction"),
    (lambda d: d["state"]["gb300-monthly"]["totals"].update(bonus="1.00"), "is a total of 'bonus', which is no kind of entry"),
    (lambda d: d["state"]["warrants-milestones"]["totals"].update(share_delivery="1e6"),
     "is '1e6'; expected a whole number written plainly"),
    (lambda d: d["state"]["warrants-milestones"].update(warrants=None), "is warrant state for an agreement without"),
    (lambda d: d["state"]["gb300-monthly"].update(warrants=d["state"]["warrants-milestones"]["warrants"]),
     "is warrant state for an agreement without warrants"),
    (lambda d: d["state"]["warrants-milestones"]["warrants"].update(factor="8/2"),
     "is '8/2'; expected a positive fraction in lowest terms"),
    (lambda d: d["state"]["warrants-milestones"]["warrants"]["observations"].reverse(),
     "is not dated after the observation before it"),
    (lambda d: d["state"]["warrants-milestones"]["warrants"]["tranches"].pop(), "does not list every tranche"),
    (lambda d: d["state"]["warrants-milestones"]["warrants"]["tranches"][0].__setitem__(1, 1), "expected true or false"),
    (lambda d: d["state"]["gb300-monthly"]["caps"].pop("revenue_top_up"), "caps has no field 'revenue_top_up'"),
    (lambda d: next(key for key in d["state"]["floor-partnership"]["inputs"]["keys"] if key[1] == "/revenue_top_up")[2]
     .update(inputs=1), "is not 0: a top-up key's inputs are its period's revenue key's"),
    (lambda d: d["state"]["gb300-monthly"].update(guarantee=d["state"]["dc-guarantee"]["guarantee"]),
     "is guarantee state for an agreement without a guarantee"),
    (lambda d: d["state"]["dc-guarantee"]["guarantee"]["called"].append(["dc-guarantee/2099-01/debt_service", "bad-1"]),
     "calls 'dc-guarantee/2099-01/debt_service', which is no debt service the snapshot lists"),
    (lambda d: d["state"]["dc-guarantee"]["guarantee"]["debt_service"][0].__setitem__(1, "2099-13"),
     "names period '2099-13', which is not of the term"),
    (lambda d: d["state"]["dc-guarantee"]["guarantee"].update(called_total="-1.00"), "has a negative sum of calls"),
    (lambda d: d["agreements"]["gb300-monthly"].update(head="x" * 64), "expected 64 lowercase hex digits"),
    (lambda d: d["agreements"]["gb300-monthly"].update(head=None), "has a head without entries, or entries without a head"),
]


@pytest.mark.parametrize("damage, words", DAMAGES, ids=[words[:60] for _, words in DAMAGES])
def test_a_damaged_field_is_refused_naming_it(saved, damage, words):
    document = document_of(saved)
    damage(document)
    message = refusal(snapshot_of(document))
    assert message.startswith("the snapshot is damaged: snapshot.") and words in message
