"""The fast path for plain lines reads a line exactly as the general decoder would.

For every line the fast path takes, the parsed result (id, fingerprint, event, reason) must
equal what the general path gives; lines it cannot vouch for must fall back.
"""

import json

from hypothesis import given, strategies as st

from engine.events import reader

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
TIMESTAMPS = st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "2026-01-01T01:00:00+01:00",
                              "2026-01-01T00:00:00", "2026-02-30T00:00:00Z", "x"])
DECIMALS = st.sampled_from(["0", "1", "10", "64", "38.40", "-1", "1.5", "007", "1e3", "", " 1", "123456789012345678901"])
VALUES = st.one_of(TEXT, st.integers(-10**25, 10**25), TIMESTAMPS, DECIMALS)


def general(raw: bytes):
    original = reader._parsed_plain
    reader._parsed_plain = lambda number, raw: None
    try:
        return reader.parse_line(1, raw)
    finally:
        reader._parsed_plain = original


def utilization_like(draw_values: dict) -> dict:
    base = {"id": "u1", "type": "utilization", "agreement": "a", "pool": "p", "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T01:00:00Z", "available_gpu_hours": "64", "sold_gpu_hours": "38.40"}
    base.update(draw_values)
    return base


@given(st.dictionaries(st.sampled_from(["id", "type", "pool", "start", "end", "available_gpu_hours",
                                        "sold_gpu_hours", "agreement", "extra"]), VALUES, max_size=4),
       st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
def test_fast_path_equals_general_path(changes, separators):
    raw = json.dumps(utilization_like(changes), separators=separators, ensure_ascii=False).encode("utf-8")
    assert reader.parse_line(1, raw) == general(raw)


@given(st.dictionaries(TEXT, VALUES, max_size=6))
def test_any_flat_object_reads_the_same_either_way(obj):
    raw = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    assert reader.parse_line(1, raw) == general(raw)


def test_lines_the_fast_path_does_not_take():
    for raw in [b'{"id":"a","id":"b"}', b'{"id":"a\\u0041"}', b'{"a":1.5}', b'{"a":1.0}', b'{"a":{"b":"c"}}',
                b'{"a":-0}', b'{"a":true}', b'{"a": "b"}', b'\xef\xbb\xbf{"a":"b"}', b'{"a":"b"}x']:
        assert reader._parsed_plain(1, raw) is None, raw
        assert reader.parse_line(1, raw) == general(raw)


# --- The replay's lane: `read_plain_utilization` and `plain_fingerprint` ------------------

REPEATED = st.lists(st.sampled_from(["id", "pool", "start", "sold_gpu_hours"]), max_size=2)


def with_repeats(obj: dict, repeated: list[str], separators: tuple[str, str]) -> bytes:
    """The object's JSON with some members written twice (the first copy loses)."""
    item, key = separators
    members = [json.dumps(name) + key + json.dumps("shadowed") for name in repeated]
    members += [json.dumps(name, ensure_ascii=False) + key + json.dumps(value, ensure_ascii=False)
                for name, value in obj.items()]
    return ("{" + item.join(members) + "}").encode("utf-8")


@given(st.dictionaries(st.sampled_from(["id", "type", "pool", "start", "end", "available_gpu_hours",
                                        "sold_gpu_hours", "agreement", "extra"]), VALUES, max_size=4),
       REPEATED, st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
def test_plain_utilization_reads_what_the_general_path_types(changes, repeated, separators):
    raw = with_repeats(utilization_like(changes), repeated, separators)
    plain = reader.read_plain_utilization(raw)
    parsed = general(raw)
    if plain is None:
        return
    plain = reader.PlainUtilization(*plain)
    moment_start, _ = reader.timestamp_from_text(plain.start)
    moment_end, _ = reader.timestamp_from_text(plain.end)
    if moment_start is None or moment_end is None or not moment_start < moment_end:
        assert parsed.problem is not None  # timestamps are the replay's to check (see the docstring)
        return
    event = parsed.event
    assert parsed.problem is None, parsed.problem
    assert (plain.id, plain.agreement, plain.pool) == (event.id, event.agreement, event.pool)
    assert (plain.available_gpu_hours, plain.sold_gpu_hours) == (event.available_gpu_hours, event.sold_gpu_hours)
    assert str(plain.available_gpu_hours) == str(event.available_gpu_hours)
    assert str(plain.sold_gpu_hours) == str(event.sold_gpu_hours)
    assert (moment_start, moment_end) == (event.start, event.end)
    fingerprint = reader.plain_fingerprint(plain.id, plain.agreement, plain.pool, plain.start, plain.end, plain.values)
    assert fingerprint == parsed.fingerprint


def test_lines_the_plain_lane_leaves_to_the_general_path():
    good = utilization_like({})
    assert reader.read_plain_utilization(json.dumps(good).encode()) is not None
    escaped = reader.read_plain_utilization(json.dumps({**good, "id": "u\u00e9\n"}).encode())
    assert escaped is not None and escaped[0] == "u\u00e9\n"  # other escapes are read as any reader would
    for raw in [
        with_repeats(good, ["pool"], (",", ":")),  # a repeated key
        json.dumps({**good, "id": 'u"1'}).encode(),  # an escaped quote
        json.dumps({**good, "sold_gpu_hours": 38.4}).encode(),  # a number
        json.dumps({**good, "sold_gpu_hours": "65"}).encode(),  # sold above available
        json.dumps({**good, "sold_gpu_hours": "-1"}).encode(),
        json.dumps({**good, "available_gpu_hours": "1e3"}).encode(),
        json.dumps({**good, "meta": {}}).encode(),
        json.dumps({**good, "type": "revenue"}).encode(),
        json.dumps({**good, "id": ""}).encode(),
        json.dumps({**good, "id": "x" * 129}, ensure_ascii=False).encode(),
        json.dumps({**good, "pool": ["p"]}).encode(),
        b"[" + json.dumps(good).encode() + b"]",
    ]:
        assert reader.read_plain_utilization(raw) is None, raw


@given(st.sampled_from(["2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z", "2026-01-01T24:00:00Z",
                        "2026-02-29T00:00:00Z", "2028-02-29T00:00:00Z", "2026-01-01T00:60:00Z",
                        "2026-01-01T00:00:60Z", "2026-13-01T00:00:00Z", "0000-01-01T00:00:00Z"]))
def test_utc_seconds_read_in_c_as_the_general_reading_does(text):
    fast = reader.timestamp_from_text.__wrapped__(text)
    original = reader._UTC_SECONDS_TEXT
    reader._UTC_SECONDS_TEXT = reader.re.compile("(?!)")  # never matches: the general reading only
    try:
        slow = reader.timestamp_from_text.__wrapped__(text)
    finally:
        reader._UTC_SECONDS_TEXT = original
    assert fast == slow
