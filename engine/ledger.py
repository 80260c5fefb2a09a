"""The ledger of SPEC §6: canonical JSON lines, one hash chain per agreement.

An entry is a plain mapping of the SPEC's fields. `Chain.seal` stamps `seq`, `prev` and
`hash` and returns the entry's canonical line; nothing else in the engine serializes
entries, so the bytes an auditor hashes are the bytes we write.
"""

from __future__ import annotations

import hashlib
import json

import orjson
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """SPEC §6 canonical JSON: sorted keys, no white space, only `"`, `\\` and controls escaped.

    orjson writes exactly what SPEC's `json.dumps(...)` does (keys sorted by code point, the
    same escapes) several times faster; a test holds the two to the same text. Integers
    beyond 64 bits, which orjson refuses, take `json.dumps` itself.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict) -> str:
    """SHA-256 of the canonical JSON of the entry without its `hash` field."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedEntry:
    """An entry as written: its fields and its canonical line (UTF-8, ending in LF)."""

    agreement: str
    id: str
    fields: dict
    line: bytes


class Chain:
    """One agreement's hash chain: the next `seq` and the hash of the last entry."""

    __slots__ = ("agreement", "length", "head")

    def __init__(self, agreement: str) -> None:
        self.agreement = agreement
        self.length = 0
        self.head: str | None = None

    def seal(self, fields: dict) -> IssuedEntry:
        """Append an entry: number it, link it to the previous one, hash it."""
        entry = dict(fields)
        entry["seq"] = self.length + 1
        entry["prev"] = self.head or GENESIS
        # The hash covers the entry without `hash`; the line is the same text with `hash` in
        # its sorted place. Written as the members before and after it, the (often long)
        # entry is serialized once.
        before = canonical_json({key: value for key, value in entry.items() if key < "hash"})[1:-1]
        after = canonical_json({key: value for key, value in entry.items() if key > "hash"})[1:-1]
        body = "{" + ",".join(part for part in (before, after) if part) + "}"
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        entry["hash"] = digest
        line = "{" + ",".join(part for part in (before, f'"hash":"{digest}"', after) if part) + "}"
        self.length += 1
        self.head = digest
        return IssuedEntry(self.agreement, entry["id"], entry, (line + "\n").encode("utf-8"))
