"""Canonical JSON (SPEC §6) is exactly what SPEC's `json.dumps(...)` call writes."""

import json

from hypothesis import given, strategies as st

from engine.ledger import Chain, canonical_json, entry_hash

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)


def spec_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@given(JSON)
def test_canonical_json_is_specs_json_dumps(value):
    assert canonical_json(value) == spec_json(value)


@given(st.dictionaries(TEXT, JSON, max_size=6))
def test_a_sealed_line_is_the_canonical_entry_and_its_hash(fields):
    fields = {key: value for key, value in fields.items() if key not in ("seq", "prev", "hash")}
    fields["id"] = "e1"
    sealed = Chain("a").seal(fields)
    assert sealed.line == (spec_json(sealed.fields) + "\n").encode("utf-8")
    assert sealed.fields["hash"] == entry_hash(sealed.fields)
