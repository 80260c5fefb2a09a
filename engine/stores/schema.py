"""The tables of a store, written once for every backend (docs/stores.md describes them).

Each backend fills in its own column types: `{int}` is a 64-bit integer and `{bytes}` a byte
string (SQLite's INTEGER and BLOB, PostgreSQL's BIGINT and BYTEA). Event lines and ledger
entries are kept as bytes, never as text, so that no database encoding can change a byte of
them. The schema's version is recorded in `store_meta`; a store of another version is
refused, never half-read.
"""

from __future__ import annotations

#: The version of these tables; a store records it when it is created.
SCHEMA_VERSION = 1

TABLES = (
    """CREATE TABLE store_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE documents (
        agreement TEXT NOT NULL,
        version {int} NOT NULL,
        sha256 TEXT NOT NULL,
        name TEXT NOT NULL,
        content {bytes} NOT NULL,
        PRIMARY KEY (agreement, version)
    )""",
    """CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        bytes {int} NOT NULL,
        lines {int} NOT NULL,
        sha256 TEXT NOT NULL,
        open_end {int} NOT NULL
    )""",
    """CREATE TABLE log (
        seq {int} PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('lines', 'close')),
        source TEXT,
        source_line {int},
        first_line {int} NOT NULL,
        physical_lines {int} NOT NULL,
        lines {int} NOT NULL,
        lines_total {int} NOT NULL,
        data {bytes},
        through TEXT
    )""",
    """CREATE TABLE outcomes (
        line {int} PRIMARY KEY,
        log_seq {int} NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('duplicate', 'rejected')),
        event_id TEXT,
        code TEXT,
        reason TEXT,
        raw {bytes}
    )""",
    """CREATE TABLE ledger (
        position {int} PRIMARY KEY,
        agreement TEXT NOT NULL,
        seq {int} NOT NULL,
        entry_id TEXT NOT NULL,
        hash TEXT NOT NULL,
        log_seq {int} NOT NULL,
        line {int},
        entry {bytes} NOT NULL,
        UNIQUE (agreement, seq)
    )""",
    """CREATE TABLE checkpoint (
        id {int} PRIMARY KEY CHECK (id = 1),
        log_seq {int} NOT NULL,
        lines {int} NOT NULL,
        ledger_position {int} NOT NULL,
        snapshot {bytes} NOT NULL
    )""",
)


def table_statements(*, integer: str, byte_string: str) -> tuple[str, ...]:
    """The CREATE TABLE statements with a backend's column types."""
    return tuple(table.format(int=integer, bytes=byte_string) for table in TABLES)


def table_names() -> tuple[str, ...]:
    """The tables' names, in the order they are created."""
    return tuple(table.split()[2] for table in TABLES)
