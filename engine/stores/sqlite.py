"""The SQLite store: one file, nothing to start; the default.

`sqlite:///books.db` is the file `books.db` (relative to the working folder),
`sqlite:////var/lib/backstop/books.db` an absolute path; a plain path means the same.

The database runs in WAL mode with `synchronous=FULL`, so a committed batch survives a power
cut and readers see a consistent snapshot while a writer works. Each batch takes SQLite's
write lock (`BEGIN IMMEDIATE`, waiting up to the busy timeout). A whole ingest or close also
holds the writer lock, an exclusive `flock` on the file `FILE-writer` beside the database,
which the operating system releases when the writer's process ends, however it ends.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3

from engine.stores.base import WAIT_SECONDS, Store, StoreError
from engine.stores.schema import table_statements


class SQLiteStore(Store):
    schemes = ("sqlite",)

    def __init__(self, url: str, *, create: bool = True) -> None:
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
        if not path:
            raise StoreError(f"expected a SQLite URL like sqlite:///books.db (a relative path) or "
                             f"sqlite:////var/lib/books.db (an absolute one); got {url!r}")
        super().__init__(url)
        self.path = path
        self._writer_file: int | None = None
        if not create and not os.path.isfile(path):
            raise StoreError(f"no store at {path}: the file does not exist; "
                             "`backstop ingest --store URL CONTRACTS EVENTS` creates one")
        try:
            self._connection = sqlite3.connect(path, timeout=WAIT_SECONDS, isolation_level=None, check_same_thread=False)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the store {path}: {error}") from None

    def close(self) -> None:
        self._engine = None
        self._connection.close()
        if self._writer_file is not None:
            os.close(self._writer_file)
            self._writer_file = None

    def _execute(self, sql: str, parameters: tuple = ()) -> None:
        try:
            self._connection.execute(sql, parameters)
        except sqlite3.Error as error:
            raise StoreError(f"the store {self.path}: {error}") from None

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        try:
            self._connection.executemany(sql, rows)
        except sqlite3.Error as error:
            raise StoreError(f"the store {self.path}: {error}") from None

    def _query(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        try:
            return self._connection.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"the store {self.path}: {error}") from None

    def _begin_write(self) -> None:
        self._execute("BEGIN IMMEDIATE")

    def _begin_read(self) -> None:
        self._execute("BEGIN")

    def _claim_writer(self) -> bool:
        if self._writer_file is None:
            try:
                self._writer_file = os.open(self.path + "-writer", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise StoreError(f"cannot create the writer lock {self.path}-writer: {error.strerror}") from None
        try:
            fcntl.flock(self._writer_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _release_writer(self) -> None:
        fcntl.flock(self._writer_file, fcntl.LOCK_UN)

    def _has_tables(self) -> bool:
        return bool(self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_meta'"))

    def _table_statements(self) -> tuple[str, ...]:
        return table_statements(integer="INTEGER", byte_string="BLOB")
