"""The ledger of SPEC §6: canonical JSON lines, one hash chain per agreement.

An entry is a plain mapping of the SPEC's fields. `Chain.seal` stamps `seq`, `prev` and
`hash` and returns the entry's canonical line; nothing else in the engine serializes
entries, so the bytes an auditor hashes are the bytes we write.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """SPEC §6 canonical JSON: sorted keys, no white space, only `"`, `\\` and controls escaped."""
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
        body = canonical_json(entry)
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        entry["hash"] = digest
        # The sealed line is the body with the hash added; re-serializing keeps key order canonical.
        line = canonical_json(entry)
        self.length += 1
        self.head = digest
        return IssuedEntry(self.agreement, entry["id"], entry, (line + "\n").encode("utf-8"))
