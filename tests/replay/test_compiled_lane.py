"""The compiled plain lane (engine/replay/_lane.c) is the Python reference lane, only faster.

For every line, the compiled `read_plain_utilization` gives what the Python one gives, and an
engine running the compiled `_plain` ends in the same state as one running `_plain_reference`:
the same outcomes, reasons, ledger and summary, and the same record of every input in use,
byte for byte. Where the extension was not built these tests cannot run; the first test
fails then, unless `BACKSTOP_PURE_PYTHON` says the reference alone is wanted.
"""

from __future__ import annotations

import inspect
import json
import os
from functools import partial
from pathlib import Path

import orjson
import pytest
from hypothesis import given, strategies as st

from engine.events import reader
from engine.numbers import EXACT
from engine.replay import lane
from engine.replay import Engine
from engine.replay.agreement import AgreementReplay
from engine.replay.inputs import Key
from engine.testing import agreements_with_logs
from engine.testing.invariants import loaded_agreements
from tests.events.test_fast_path import REPEATED, TEXT, VALUES, utilization_like, with_repeats
from tests.replay.test_plain_lane import mixed_log

compiled = pytest.mark.skipif(lane.COMPILED is None, reason="the replay runs the Python reference lane")


def test_the_compiled_lane_is_built_unless_the_reference_is_asked_for():
    if os.environ.get("BACKSTOP_PURE_PYTHON"):
        assert lane.COMPILED is None and lane.name() == "Python"
        assert Engine._plain is Engine._plain_reference
    else:
        assert lane.COMPILED is not None, "engine.replay._lane was not built: is a C compiler installed?"
        assert lane.name() == "compiled"


def same_reading(raw: bytes) -> None:
    expected, got = reader.read_plain_utilization(raw), lane.COMPILED.read_plain_utilization(raw)
    assert got == expected, raw
    if got is not None:
        assert [type(part) for part in got] == [type(part) for part in expected]
        assert str(got[5]) == str(expected[5]) and str(got[6]) == str(expected[6])  # the same digits


@compiled
@given(st.dictionaries(st.sampled_from(["id", "type", "pool", "start", "end", "available_gpu_hours",
                                        "sold_gpu_hours", "agreement", "extra"]), VALUES, max_size=4),
       REPEATED, st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
def test_the_compiled_reader_reads_as_the_reference(changes, repeated, separators):
    same_reading(with_repeats(utilization_like(changes), repeated, separators))


@compiled
@given(st.binary(max_size=300))
def test_the_compiled_reader_reads_any_bytes_as_the_reference(raw):
    same_reading(raw)


@compiled
def test_the_compiled_reader_on_lines_near_the_edges():
    good = utilization_like({})
    for raw in [
        json.dumps(good, separators=(",", ":")).encode(),
        json.dumps({**good, "id": "x" * 128}).encode(),
        json.dumps({**good, "id": "x" * 129}).encode(),
        json.dumps({**good, "id": "é" * 128}, ensure_ascii=False).encode(),
        json.dumps({**good, "sold_gpu_hours": "0", "available_gpu_hours": "0"}).encode(),
        json.dumps({**good, "sold_gpu_hours": "64.0000"}).encode(),
        json.dumps({**good, "sold_gpu_hours": "64.0001"}).encode(),
        json.dumps({**good, "sold_gpu_hours": "-0"}).encode(),
        json.dumps({**good, "type": "utilisation"}).encode(),
        json.dumps({**good, "pool": None}).encode(),
        json.dumps(good).encode()[:-1],  # not JSON
        json.dumps(good).encode() + b" ",
        b'{"id":"u1","type":"utilization","agreement":"a","pool":"p","start":"s","end":"e","x":"1","y":"2"}',
        # eight members, one of them twice and one missing
        b'{"id":"u1","id":"u2","agreement":"a","pool":"p","start":"s","end":"e","available_gpu_hours":"1",'
        b'"sold_gpu_hours":"0"}',
        b'{"id":"u1","type":"utilization","agreement":"a","pool":"p","start":"s","end":"e",'
        b'"available_gpu_hours":"1","available_gpu_hours":"0"}',
    ]:
        same_reading(raw)


@compiled
def test_the_compiled_reader_takes_bytes_only():
    with pytest.raises(TypeError):
        lane.COMPILED.read_plain_utilization("{}")
    with pytest.raises(TypeError):
        lane.COMPILED.plain(Engine([]), b"{}")


def replay(documents, raws: list[bytes], *, compiled_lane: bool):
    engine = Engine(loaded_agreements(documents))
    if not compiled_lane:
        engine._plain = engine._plain_reference
    outcomes = [engine.feed_line(raw, number) for number, raw in enumerate(raws, start=1)]
    views = [(o.line, o.id, o.status, o.reason) for o in outcomes if o is not None]
    ledger = b"".join(entry.line for o in outcomes if o is not None for entry in o.entries)
    keys = {
        (agreement, index, pool): (str(key.available), str(key.sold), list(key.inputs), key.changes)
        for agreement, replay_ in engine.agreements.items()
        for index, period_keys in replay_.keys.items()
        for pool, key in period_keys.items()
    }
    return views, ledger, engine.summary(), dict(engine.ids), keys, engine.lines


@pytest.mark.slow
@compiled
@given(agreements_with_logs(versions=st.integers(1, 2)), st.data())
def test_an_engine_on_the_compiled_lane_ends_as_one_on_the_reference(case, data):
    documents, lines = case
    raws = mixed_log(data, lines)
    assert replay(documents, raws, compiled_lane=True) == replay(documents, raws, compiled_lane=False)


def gb300_line(identifier: str, hour: int, sold: str = "40.5", available: str = "64", day: int = 1) -> bytes:
    """A plainly written utilization line of the bundled agreement gb300-monthly."""
    return json.dumps({
        "id": identifier, "type": "utilization", "agreement": "gb300-monthly", "pool": "gb300-a",
        "start": f"2026-01-{day:02d}T{hour:02d}:00:00Z", "end": f"2026-01-{day:02d}T{hour + 1:02d}:00:00Z",
        "available_gpu_hours": available, "sold_gpu_hours": sold,
    }, separators=(",", ":")).encode()


@compiled
def test_the_compiled_lane_leaves_what_it_does_not_settle_to_the_reference():
    """New keys, unlearnt spans, over-capacity sums and locked periods go to the Python method."""
    documents = "contracts/gb300-monthly"
    line = gb300_line

    raws = [line("u-1", 0), line("u-2", 0), line("u-3", 1), line("u-4", 1, available="1000000000"),
            line("u-5", 1, sold="64", available="64"), line("u-1", 0), line("u-1", 0, sold="1")]
    engines = []
    for compiled_lane in (True, False):
        engine = Engine.from_path(documents)
        if not compiled_lane:
            engine._plain = engine._plain_reference
        engines.append((engine, [engine.feed_line(raw) for raw in raws]))
    (fast, fast_outcomes), (reference, reference_outcomes) = engines
    assert [(o.status, o.reason) for o in fast_outcomes] == [(o.status, o.reason) for o in reference_outcomes]
    assert [o.status for o in fast_outcomes] == ["applied"] * 3 + ["rejected", "applied", "duplicate", "rejected"]
    assert fast.ids == reference.ids and fast.summary() == reference.summary()


# --- `route`, for the routing pass of `backstop replay --workers` -------------------------

MEMBER_NAMES = st.sampled_from(["id", "agreement", "type", "period", "amount", "x", "ID", "agreement "])


def same_route(raw: bytes) -> None:
    routed = lane.COMPILED.route(raw)
    if routed is None:
        return
    obj = orjson.loads(raw)  # what it routes is valid JSON, and orjson reads the same two members
    assert type(obj) is dict and routed == (obj["agreement"], obj["id"]), raw


@compiled
@given(st.lists(st.tuples(MEMBER_NAMES, st.one_of(TEXT, st.integers(), st.none())), max_size=8),
       st.sampled_from([(",", ":"), (", ", ": ")]))
def test_route_reads_agreement_and_id_as_orjson(members, separators):
    item, key = separators
    raw = ("{" + item.join(json.dumps(name) + key + json.dumps(value, ensure_ascii=False)
                           for name, value in members) + "}").encode("utf-8")
    same_route(raw)
    names = [name for name, _ in members]
    plain = (separators == (",", ":") and all(type(value) is str and value.isascii() and value.isprintable()
                                              and '"' not in value and "\\" not in value for _, value in members))
    if plain and names.count("id") == 1 and names.count("agreement") == 1:
        assert lane.COMPILED.route(raw) is not None, raw
    if names.count("id") != 1 or names.count("agreement") != 1:
        assert lane.COMPILED.route(raw) is None, raw


@compiled
@given(st.binary(max_size=120).map(lambda raw: b'{"id":"a","agreement":"b"' + raw))
def test_route_reads_any_bytes_as_orjson_would(raw):
    same_route(raw)


@compiled
@given(st.lists(st.lists(st.integers(-2**63, 2**63 - 1) | st.integers(-3, 3), max_size=12), max_size=5))
def test_ids_apart_decides_as_the_reference(owned):
    from array import array

    from engine.replay import parallel

    arrays = [array("q", ids) for ids in owned]
    assert lane.COMPILED.ids_apart(arrays) == parallel.ids_apart_reference(arrays)


def test_the_version_says_which_lane_runs(capsys):
    from engine.cli import main

    with pytest.raises(SystemExit):
        main(["--version"])
    assert f"{lane.name()} plain lane" in capsys.readouterr().out


def test_the_constants_the_c_file_copies_are_the_python_ones():
    import re
    from pathlib import Path

    from engine.replay import inputs

    source = (Path(lane.__file__).parent / "_lane.c").read_text()
    defined = dict(re.findall(r"#define (\w+) (\d+)", source))
    assert int(defined["HEAD_BYTES"]) == inputs._HEAD.size
    assert int(defined["UTILIZATION"]) == inputs.UTILIZATION
    assert int(defined["ID_CHARS_MAX"]) == reader.ID_CHARS_MAX
    assert int(defined["PLAIN_MEMBERS"]) == reader._PLAIN_MEMBERS


# ---- the seam: what the compiled lane is handed --------------------------------------------


def configure(engine_fields=lane.ENGINE_FIELDS, agreement_fields=lane.AGREEMENT_FIELDS, key_fields=lane.KEY_FIELDS):
    lane.COMPILED.configure(orjson.loads, orjson.JSONDecodeError, reader._QUANTITIES, reader._quantity,
                            reader._ZERO, EXACT.add, engine_fields, agreement_fields, key_fields)


@compiled
def test_the_compiled_lane_refuses_slots_laid_out_otherwise():
    class Renamed:
        __slots__ = ("_spans", "locked_below", "_capacities", "keys", "closed", "pending", "number")

    try:
        with pytest.raises(RuntimeError, match="another layout of an agreement .its slot restated expected"):
            configure(agreement_fields=tuple(getattr(Renamed, name) for name in Renamed.__slots__))
        with pytest.raises(RuntimeError, match="another layout of the engine .its slot agreements expected"):
            configure(engine_fields=lane.ENGINE_FIELDS[::-1])
        with pytest.raises(RuntimeError, match="another layout of a key .its slot inputs expected"):
            configure(key_fields=(Key.available, Key.sold, Renamed.keys))  # a slot of another class
        with pytest.raises(TypeError, match="the descriptor of a key's slot available"):
            configure(key_fields=("available", Key.sold, Key.inputs))
        with pytest.raises(TypeError, match="expected 7 descriptors of an agreement's slots"):
            configure(agreement_fields=lane.AGREEMENT_FIELDS[:-1])
        # A refused layout leaves the lane as it was.
        engine = Engine.from_path("contracts/gb300-monthly")
        assert engine.feed_line(gb300_line("u-1", 0)).status == "applied"
        assert engine.feed_line(gb300_line("u-2", 0)).status == "applied"
    finally:
        configure()  # as engine.replay.lane left it


@compiled
def test_the_compiled_lane_takes_an_engine_only():
    with pytest.raises(TypeError, match="descriptor 'agreements' for 'EngineLane' objects doesn't apply"):
        lane.COMPILED.plain(object(), AgreementReplay.plain_utilization, gb300_line("u-1", 0), 1)


@pytest.mark.parametrize("renamed, error", [
    ({'"closed", "restated"': '"closed_count", "restated"'}, "type object 'AgreementLane' has no attribute 'closed'"),
    ({'"agreements", "ids"': '"replays", "ids"'}, "type object 'EngineLane' has no attribute 'agreements'"),
    ({'"closed", "restated"': '"closed_count", "restated"', "AgreementLane.closed,": "AgreementLane.closed_count,"},
     "another layout of an agreement"),
])
def test_a_slot_renamed_in_python_alone_fails_at_import(renamed, error):
    """engine/replay/lane.py, edited as a rename would edit it, fails as it is imported: where
    it names the slot's descriptor, or, renamed there too, where the C file checks it."""
    source = Path(lane.__file__).read_text()
    for old, new in renamed.items():
        assert source.count(old) == 1
        source = source.replace(old, new)
    if error.startswith("another layout") and lane.COMPILED is None:
        pytest.skip("only the compiled lane checks the layout it was built for")
    try:
        with pytest.raises((AttributeError, RuntimeError), match=error):
            exec(compile(source, lane.__file__, "exec"), {"__name__": "engine.replay.renamed_lane"})
    finally:
        if lane.COMPILED is not None:
            configure()


@pytest.mark.parametrize("owner, fields", [(Engine, lane.ENGINE_FIELDS), (AgreementReplay, lane.AGREEMENT_FIELDS),
                                           (Key, lane.KEY_FIELDS)])
def test_the_slots_handed_to_the_compiled_lane_are_the_ones_python_reads(owner, fields):
    for field in fields:
        assert inspect.getattr_static(owner, field.__name__) is field  # nothing shadows the slot


def test_the_slots_hold_the_live_state():
    golden = Path(__file__).resolve().parents[1] / "golden" / "spec9"
    engine = Engine.from_path(golden / "contracts")
    engine.feed_lines((golden / "events.jsonl").read_text().splitlines())
    replay = engine.agreements["spec9"]
    for owner, fields in [(engine, lane.ENGINE_FIELDS), (replay, lane.AGREEMENT_FIELDS)]:
        for field in fields:
            assert field.__get__(owner) is getattr(owner, field.__name__)  # each slot filled
    assert engine.ids is replay.ids  # the id map the compiled lane is handed is the agreements' own


@compiled
def test_the_compiled_lane_settles_the_common_line_itself_from_the_live_state():
    """Only what C cannot settle reaches the Python method, and C reads the state as Python
    last assigned it: were it reading other objects, other lines would reach Python, or other
    bytes be remembered."""
    engine, reference = Engine.from_path("contracts/gb300-monthly"), Engine.from_path("contracts/gb300-monthly")
    reference._plain = reference._plain_reference
    replay, replay_reference = engine.agreements["gb300-monthly"], reference.agreements["gb300-monthly"]
    reached: list[str] = []

    def decide(replay_, line, order, number):
        assert replay_ is replay
        reached.append(line[0])
        return AgreementReplay.plain_utilization(replay_, line, order, number)

    engine._plain = partial(lane.COMPILED.plain, engine, decide)

    def feed(*raws: bytes) -> None:
        for raw in raws:
            assert engine.feed_line(raw) == reference.feed_line(raw)

    feed(*(gb300_line(f"u-{n}", n % 3) for n in range(30)))
    assert reached == ["u-0", "u-1", "u-2"]  # each span learnt, and its key made, once
    replay._spans, replay_reference._spans = {}, {}  # other maps: C reads the new one, so the span is learnt again
    feed(gb300_line("u-30", 0), gb300_line("u-31", 0))
    assert reached[3:] == ["u-30"]
    replay.locked_below = replay_reference.locked_below = 1  # January locked: C sees it and leaves the line
    feed(gb300_line("u-32", 0))
    assert reached[4:] == ["u-32"] and "u-32" not in engine.ids
    assert engine.ids == reference.ids and engine.lines == reference.lines == 33
    assert engine.summary() == reference.summary()
