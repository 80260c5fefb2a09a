"""The PostgreSQL store, for production: `postgresql://USER@HOST:PORT/DATABASE`.

Any libpq connection URL works (`?sslmode=require`, `?options=-csearch_path%3Dbooks` to keep
the store's tables in a schema of their own). psycopg 3 is an optional extra of backstop
(`pip install 'backstop[postgres]'`) and binds every parameter itself.

A whole ingest or close holds a session-level advisory lock keyed by the database and
schema, which the server releases when the writer's connection ends, however it ends; a
second writer waits for it or fails. Each batch is one transaction; readers use REPEATABLE
READ, READ ONLY transactions, so they see one consistent snapshot while a writer works.
"""

from __future__ import annotations

import urllib.parse
import zlib

from engine.stores.base import Store, StoreError
from engine.stores.schema import table_statements

_LOCK_CLASS = 0x62737470  # "bstp": the first key of backstop's advisory locks
_INSTALL = "pip install 'backstop[postgres]'"


class PostgresStore(Store):
    schemes = ("postgresql", "postgres")

    def __init__(self, url: str, *, create: bool = True) -> None:
        super().__init__(_without_password(url))
        try:
            import psycopg
        except ImportError:
            raise StoreError(f"PostgreSQL stores need psycopg 3, an optional extra of backstop: {_INSTALL}") from None
        self._errors = psycopg.Error
        self._statements: dict[str, str] = {}
        try:
            self._connection = psycopg.connect(url, autocommit=True)
        except psycopg.Error as error:
            raise StoreError(f"cannot connect to {self.name}: {str(error).strip()}") from None
        database, schema = self._query("SELECT current_database(), current_schema()")[0]
        if schema is None:
            self.close()
            raise StoreError(f"{self.name}: no schema of the search_path exists in database {database}; "
                             "create it, or name one that exists with ?options=-csearch_path%3DSCHEMA")
        key = zlib.crc32(f"{database}\0{schema}".encode("utf-8"))
        self._lock_key = (_LOCK_CLASS, key - (1 << 32) if key >= 1 << 31 else key)

    def close(self) -> None:
        self._engine = None
        self._connection.close()

    def _sql(self, sql: str) -> str:
        """The statement in psycopg's placeholders (the shared statements use `?`, and hold no `%`)."""
        translated = self._statements.get(sql)
        if translated is None:
            translated = self._statements[sql] = sql.replace("?", "%s")
        return translated

    def _execute(self, sql: str, parameters: tuple = ()) -> None:
        try:
            self._connection.execute(self._sql(sql), parameters)
        except self._errors as error:
            raise StoreError(f"{self.name}: {str(error).strip()}") from None

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        try:
            with self._connection.cursor() as cursor:
                cursor.executemany(self._sql(sql), rows)
        except self._errors as error:
            raise StoreError(f"{self.name}: {str(error).strip()}") from None

    def _query(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        try:
            return self._connection.execute(self._sql(sql), parameters).fetchall()
        except self._errors as error:
            raise StoreError(f"{self.name}: {str(error).strip()}") from None

    def _begin_write(self) -> None:
        self._execute("BEGIN")

    def _begin_read(self) -> None:
        self._execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def _claim_writer(self) -> bool:
        return self._query("SELECT pg_try_advisory_lock(?, ?)", self._lock_key)[0][0]

    def _release_writer(self) -> None:
        self._query("SELECT pg_advisory_unlock(?, ?)", self._lock_key)

    def _has_tables(self) -> bool:
        return self._query("SELECT to_regclass('store_meta') IS NOT NULL")[0][0]

    def _table_statements(self) -> tuple[str, ...]:
        # Log batches are compressed already: kept out of line, as they are.
        return table_statements(integer="BIGINT", byte_string="BYTEA") + (
            "ALTER TABLE log ALTER COLUMN data SET STORAGE EXTERNAL",
        )


def _without_password(url: str) -> str:
    """The URL as shown in messages: a password replaced by ***."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
