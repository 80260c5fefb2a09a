"""Durable stores: the event log, the ledger and the engine's state in a database.

    from engine.stores import Store

    with Store.open("sqlite:///books.db") as store:        # or postgresql://user@host/db
        store.ingest(open("events.jsonl", "rb"), source="events.jsonl", contracts="contracts")
        store.close_through(date(2026, 6, 30))
        for entry in store.ledger("spec9", since_seq=10):
            ...
        store.summary()

SQLite (`sqlite`) is the default, one file and nothing to start; PostgreSQL (`postgres`) is
for production. Both run the one algorithm of `base`: crash-safe, exactly-once ingestion,
one writer at a time, readers on a consistent snapshot. docs/stores.md describes the tables.
"""

from engine.stores import postgres, sqlite  # noqa: F401  (each backend registers its URL schemes)
from engine.stores.base import (
    DocumentsChanged,
    IngestReport,
    LedgerWouldChange,
    RejectedInput,
    SourceChanged,
    Store,
    StoreBusy,
    StoreError,
)
from engine.stores.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "DocumentsChanged",
    "IngestReport",
    "LedgerWouldChange",
    "RejectedInput",
    "SourceChanged",
    "Store",
    "StoreBusy",
    "StoreError",
]
