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


def canonical_bytes(value: Any) -> bytes:
    """SPEC §6 canonical JSON, UTF-8: sorted keys, no white space, only `"`, `\\` and controls escaped.

    orjson writes exactly what SPEC's `json.dumps(...)` does (keys sorted by code point, the
    same escapes) several times faster, and as UTF-8 already; a test holds the two to the
    same text. Integers beyond 64 bits, which orjson refuses, take `json.dumps` itself.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical_json(value: Any) -> str:
    """`canonical_bytes` as text."""
    return canonical_bytes(value).decode("utf-8")


def entry_hash(entry: dict) -> str:
    """SHA-256 of the canonical JSON of the entry without its `hash` field."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


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
        # Bytes throughout: the entry is never decoded and encoded again.
        before = canonical_bytes({key: value for key, value in entry.items() if key < "hash"})[1:-1]
        after = canonical_bytes({key: value for key, value in entry.items() if key > "hash"})[1:-1]
        body = b"{" + b",".join(part for part in (before, after) if part) + b"}"
        digest = hashlib.sha256(body).hexdigest()
        entry["hash"] = digest
        line = b"{" + b",".join(part for part in (before, b'"hash":"%s"' % digest.encode("ascii"), after) if part) + b"}\n"
        self.length += 1
        self.head = digest
        return IssuedEntry(self.agreement, entry["id"], entry, line)
