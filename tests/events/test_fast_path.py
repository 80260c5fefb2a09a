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
