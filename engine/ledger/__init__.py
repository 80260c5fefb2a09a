"""The ledger (SPEC §6): canonical JSON entries in one hash chain per agreement (`chain`),
and the audit of a written ledger (`audit`: chain checks, explanations)."""

from engine.ledger.chain import GENESIS, Chain, IssuedEntry, canonical_bytes, canonical_json, entry_hash

__all__ = ["GENESIS", "Chain", "IssuedEntry", "canonical_bytes", "canonical_json", "entry_hash"]
