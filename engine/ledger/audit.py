"""Auditing a written ledger: chain checks and plain-words explanations of entries.

`check_chain` needs only the ledger's lines: it recomputes every hash and follows each
agreement's `prev` links and `seq` numbers, so a changed, removed or inserted line is
found and named. `explain` turns one entry's `basis` and `events` into sentences.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from engine.ledger.chain import GENESIS, canonical_bytes, entry_hash


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int
    heads: dict[str, str]  # agreement → hash of its last entry
    problem: str | None = None
    line: int | None = None


def check_chain(lines: Iterable[bytes], heads_expected: dict[str | None, str] | None = None) -> ChainReport:
    """Check every agreement's chain in a ledger; the first break is reported with its line.

    `heads_expected` maps an agreement id (or None: "the only agreement") to the head hash
    the summary gave, which catches a ledger cut short after its last intact entry.
    """
    heads: dict[str, str] = {}
    lengths: dict[str, int] = {}
    count = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        count += 1
        try:
            entry = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            return ChainReport(False, count, heads, f"line {number} is not a JSON entry: {error}", number)
        if not isinstance(entry, dict) or not {"agreement", "seq", "prev", "hash"} <= entry.keys():
            return ChainReport(False, count, heads, f"line {number} lacks agreement, seq, prev or hash", number)
        agreement = entry["agreement"]
        if raw.rstrip(b"\r\n") != canonical_bytes(entry):
            return ChainReport(False, count, heads, f"line {number} is not in canonical JSON form (it was edited)", number)
        if entry_hash(entry) != entry["hash"]:
            return ChainReport(False, count, heads, f"line {number}: hash does not match the entry's content (it was changed)", number)
        expected_seq = lengths.get(agreement, 0) + 1
        if entry["seq"] != expected_seq:
            return ChainReport(
                False, count, heads,
                f"line {number}: {agreement} entry has seq {entry['seq']}, expected {expected_seq} "
                "(an entry was removed or inserted before it)", number,
            )
        expected_prev = heads.get(agreement, GENESIS)
        if entry["prev"] != expected_prev:
            return ChainReport(
                False, count, heads,
                f"line {number}: {agreement} entry's prev does not link to the previous entry "
                "(an entry was removed, inserted or replaced)", number,
            )
        heads[agreement] = entry["hash"]
        lengths[agreement] = expected_seq
    for agreement, expected in (heads_expected or {}).items():
        if agreement is None:
            if len(heads) != 1:
                return ChainReport(False, count, heads, "--head without an agreement id needs a ledger of exactly one agreement")
            agreement = next(iter(heads))
        if heads.get(agreement) != expected:
            return ChainReport(
                False, count, heads,
                f"{agreement}: the last entry's hash is {heads.get(agreement)}, not the expected head {expected} "
                "(the ledger was cut short or extended)",
            )
    return ChainReport(True, count, heads)


def find_entry(lines: Iterable[bytes], entry_id: str) -> dict | None:
    for raw in lines:
        if raw.strip():
            entry = json.loads(raw)
            if entry.get("id") == entry_id:
                return entry
    return None


DIRECTION_WORDS = {
    "lease_back": "lease-back the guarantor owes the provider for idle capacity",
    "revenue_share": "revenue share the provider owes the guarantor",
    "adjustment": "adjustment of an issued amount after its period's inputs changed",
    "payment": "payment",
    "late_interest": "late interest on an amount paid after it fell due",
    "warrant_vested": "warrant tranche vested",
    "split_adjustment": "change of a vested tranche's shares by a stock split",
    "exercise_price": "exercise price the guarantor owes for shares subscribed for cash",
    "share_delivery": "shares the provider delivers on an exercise",
    "cash_in_lieu": "cash the provider pays instead of a fraction of a share",
}


def explain(entry: dict) -> str:
    """One entry's derivation in plain words."""
    basis = entry.get("basis", {})
    lines = [
        f"{entry['id']}  (seq {entry['seq']} of {entry['agreement']})",
        f"  what:     {DIRECTION_WORDS.get(entry['kind'], entry['kind'])}"
        + (f" (of {entry['of']})" if "of" in entry else ""),
        f"  amount:   {entry['amount']} {entry['unit']}, owed by {entry['debtor']} to {entry['creditor']}",
        f"  dated:    {entry['date']}" + (f", due {entry['due']}" if entry.get("due") else "")
        + (f", for period {entry['period']}" if entry.get("period") else ""),
        f"  terms:    version {entry['version']} (document sha256 {entry['document']}), rule {basis.get('rule')}",
        f"  formula:  {basis.get('formula')}",
    ]
    for name, value in basis.get("inputs", {}).items():
        lines.append(f"            {name} = {value}")
    if "uncapped" in entry:
        lines.append(f"  cap:      the uncapped change was {entry['uncapped']}; the cap cut it to {entry['amount']}")
    if entry.get("adjusts") is not None or "adjusts" in entry:
        lines.append(f"  adjusts:  {entry.get('adjusts') or 'nothing issued earlier for this key'}")
    if "applied" in entry:
        for applied in entry["applied"]:
            lines.append(f"  applied:  {applied['amount']} to {applied['entry']}")
        lines.append(f"  unapplied credit left: {entry.get('unapplied')}")
    if "credit_applied" in entry:
        lines.append(f"  settled at once by unapplied credit: {entry['credit_applied']}")
    events = entry.get("events", [])
    lines.append(f"  events:   {', '.join(events) if events else '(none: issued by --close-through)'}")
    return "\n".join(lines)
