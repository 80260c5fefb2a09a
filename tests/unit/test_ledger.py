import hashlib
import json

from engine.ledger import GENESIS, Chain, canonical_json


def test_canonical_json_escapes_only_what_spec_says():
    text = canonical_json({"b": "é/\u2028\x1f\n\"\\", "a": 1})
    assert text == '{"a":1,"b":"é/\u2028\\u001f\\n\\"\\\\"}'


def test_chain_links_each_entry_to_the_previous_and_hashes_without_hash():
    chain = Chain("a1")
    first = chain.seal({"id": "x", "agreement": "a1"})
    second = chain.seal({"id": "y", "agreement": "a1"})
    assert first.fields["prev"] == GENESIS and first.fields["seq"] == 1
    assert second.fields["prev"] == first.fields["hash"] and second.fields["seq"] == 2
    body = {k: v for k, v in second.fields.items() if k != "hash"}
    assert second.fields["hash"] == hashlib.sha256(canonical_json(body).encode()).hexdigest()
    assert json.loads(second.line) == second.fields and second.line.endswith(b"\n")
