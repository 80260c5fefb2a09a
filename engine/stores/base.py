"""A durable store: the event log, the ledger and the engine's state, in a database.

The ingestion algorithm is written here once; a backend (`sqlite`, `postgres`) supplies the
connection, its column types, its transactions and its writer lock. The SQL statements are
standard and shared, written with `?` placeholders that a backend may translate.

What makes ingestion exactly-once: a source is read in batches of whole lines, and each
batch is one transaction holding the batch's lines (the log), the outcome of every line that
was not applied (duplicates, rejections with code and reason), the ledger entries the batch
issued and the position reached in its source (bytes committed and their SHA-256). A crash
loses at most the batch in flight, which nothing had acknowledged; the same ingest run again
skips the committed bytes, after checking that they are unchanged, and goes on after them.

The engine's state is checkpointed (`Engine.snapshot`, a versioned format, never a pickle)
and restored on the next run; the log after the checkpoint is replayed, and every entry that
replay issues must be the stored one, byte for byte. A checkpoint that does not match the
store (format, engine version, semantics, documents, ledger heads, input position) is not
used: the whole stored log is replayed instead, under the same check.
"""

from __future__ import annotations

import hashlib
import io
import os
import select
import stat
import time
import zlib
from abc import ABC, abstractmethod
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO, Callable, ClassVar, Iterable, Iterator, NamedTuple

import orjson

from engine.documents.loader import load_agreements, load_agreements_from_files
from engine.events.reader import iter_lines
from engine.ledger.chain import IssuedEntry
from engine.replay import Engine, LineOutcome, SnapshotError
from engine.stores.schema import SCHEMA_VERSION, table_names

BATCH_LINES = 16_384  # lines per transaction when the source has more ready
CHECKPOINT_LINES = 1 << 20  # a checkpoint at least this often, and at the end of every call
WAIT_SECONDS = 10.0  # how long a second writer waits for the first by default
_LOG_COMPRESSION = 1  # zlib level of stored log batches: JSON Lines shrink ~15×, at ~500 MB/s
_LEDGER_PAGE = 256  # ledger rows read per query
_LOG_PAGE = 8  # log items read per query (each up to a batch of lines, compressed)


class StoreError(Exception):
    """A store that cannot do what was asked; the message says why and what to do."""


class StoreBusy(StoreError):
    """Another writer holds the store for longer than this one would wait."""


class SourceChanged(StoreError):
    """A source whose committed part differs from what the store took from it."""


class DocumentsChanged(StoreError):
    """CONTRACTS differ from the documents the store's ledger was issued under."""


class LedgerWouldChange(StoreError):
    """A replay (`--rebuild`, or an engine of another version) would change an entry already issued."""


class RejectedInput(NamedTuple):
    """A line an ingest rejected: its number in the store's log and in its source."""

    line: int
    source_line: int
    id: str | None
    reason: str
    code: str


@dataclass(frozen=True)
class IngestReport:
    """What one `ingest` call did."""

    source: str | None
    skipped_bytes: int  # the source's part committed before, checked unchanged and skipped
    lines: int  # non-blank lines taken in this call
    duplicates: int
    rejected: tuple[RejectedInput, ...]
    entries: int

    @property
    def applied(self) -> int:
        return self.lines - self.duplicates - len(self.rejected)


class LogItem(NamedTuple):
    """One item of the stored log: a batch of lines, or a close."""

    seq: int
    kind: str  # "lines" | "close"
    source: str | None
    source_line: int | None  # the source's number of the batch's first line
    first_line: int  # the log's number of its first line (a close: of the next line)
    physical_lines: int  # every line of the batch, blank ones too
    lines: int  # its non-blank lines
    lines_total: int  # non-blank lines of the log up to and including this item
    data: bytes | None  # the batch's lines, each ending in LF, zlib-compressed
    through: str | None  # a close's date

    @property
    def next_line(self) -> int:
        return self.first_line + self.physical_lines


class SourcePosition(NamedTuple):
    """How much of a source the store has committed."""

    bytes: int
    lines: int  # physical lines
    sha256: str  # of those bytes
    open_end: bool  # the last line committed had no line end


class LedgerRow(NamedTuple):
    position: int  # in the whole ledger, from 1, in issue order
    agreement: str
    seq: int
    entry_id: str
    hash: str
    log_seq: int  # the log item that issued it
    line: int | None  # the line that issued it (None: a close)
    entry: bytes  # the canonical line, ending in LF

    def holds(self, entry: IssuedEntry) -> bool:
        """Whether this row is the entry, in every column that names it."""
        return (self.entry == entry.line and self.hash == entry.fields["hash"] and self.entry_id == entry.id
                and self.agreement == entry.agreement and self.seq == entry.fields["seq"])


class Checkpoint(NamedTuple):
    log_seq: int
    lines: int
    ledger_position: int
    snapshot: bytes


@dataclass
class _Head:
    """Where the log and the ledger end: what an engine at the head has taken and issued."""

    seq: int = 0
    next_line: int = 1
    lines: int = 0
    ledger_position: int = 0

    def after(self, item: LogItem, entries: int) -> _Head:
        return _Head(item.seq, item.next_line, item.lines_total, self.ledger_position + entries)


@dataclass(frozen=True)
class _Mismatch:
    """A replayed entry that differs from the stored one at `position` (either may be None)."""

    position: int
    stored: LedgerRow | None
    replayed: IssuedEntry | None

    def describe(self) -> str:
        if self.replayed is None:
            return f"entry {self.position} of the ledger ({self.stored.entry_id}, seq {self.stored.seq} of " \
                   f"{self.stored.agreement}) would no longer be issued"
        if self.stored is None:
            return f"entry {self.position} of the ledger would be a new {self.replayed.id} where the stored ledger ends"
        old = orjson.loads(self.stored.entry)
        new = self.replayed.fields
        if old.get("id") != new.get("id"):
            return f"entry {self.position} of the ledger ({self.stored.entry_id}, seq {self.stored.seq} of " \
                   f"{self.stored.agreement}) would be {self.replayed.id} instead"
        changed = sorted(key for key in set(old) | set(new) if key not in ("hash", "prev") and old.get(key) != new.get(key))
        details = ", ".join(f"{key} {_short(old.get(key))} → {_short(new.get(key))}" for key in changed[:4])
        return f"entry {self.position} of the ledger ({self.stored.entry_id}, seq {self.stored.seq} of " \
               f"{self.stored.agreement}) would change: " + (details or "its hash")


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode("utf-8") if value is not None else "(none)"
    return text if len(text) <= 24 else text[:23] + "…"


class _LongLines:
    """Keeps each over-long line whole (it is always rejected), to store it byte for byte."""

    def __init__(self) -> None:
        self.lines: dict[int, bytes] = {}  # by the log's line number
        self._pieces: list[bytes] = []

    def write(self, number: int, piece: bytes) -> None:
        self._pieces.append(piece)

    def end(self, number: int, blank: bool) -> None:
        if not blank:
            self.lines[number] = b"".join(self._pieces)
        self._pieces = []


def _numbered(lines: bytes, first_line: int, long_lines: _LongLines | None) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of a batch with their numbers in the whole log."""
    return iter_lines(io.BytesIO(lines), long_lines, first=first_line)


# ---- the store --------------------------------------------------------------------------------


class Store(ABC):
    """A durable store of one event log, its ledger and the engine's state.

    `Store.open(url)` opens (and creates) one; `ingest` appends lines, `close_through`
    closes periods, `ledger` and `summary` read. One writer at a time: a call that writes
    holds the store's writer lock for its whole length; readers see a consistent snapshot
    while a writer works.
    """

    #: URL schemes a backend serves; each backend registers itself by defining them.
    schemes: ClassVar[tuple[str, ...]] = ()
    _backends: ClassVar[dict[str, type[Store]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for scheme in cls.schemes:
            Store._backends[scheme] = cls

    @staticmethod
    def open(url: str, *, create: bool = True) -> Store:
        """The store at `url`: `sqlite:///FILE` (also a plain path) or `postgresql://…`.

        With `create` (the default) a missing store is created; without it, a URL where no
        store is raises `StoreError` (readers use this, so that a typo creates nothing).
        """
        scheme, separator, _ = url.partition("://")
        if not separator:
            scheme, url = "sqlite", "sqlite:///" + url
        backend = Store._backends.get(scheme)
        if backend is None:
            raise StoreError(f"unknown store URL {url!r}: expected sqlite:///FILE, a plain file path or "
                             "postgresql://USER@HOST/DATABASE")
        store = backend(url, create=create)
        try:
            store._prepare(create)
        except BaseException:
            store.close()
            raise
        return store

    def __init__(self, name: str) -> None:
        self.name = name  # the URL, as shown in messages (without a password)
        self._engine: Engine | None = None  # the engine at `_head`, kept between calls
        self._engine_documents: frozenset = frozenset()  # (agreement, version, sha256) of its documents
        self._head = _Head()
        self._checkpoint_seq = 0  # the log item the last checkpoint this object wrote or read is at

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- what a backend supplies ----------------------------------------------------------------

    @abstractmethod
    def close(self) -> None:
        """Close the connection; an engine kept in memory is dropped."""

    @abstractmethod
    def _execute(self, sql: str, parameters: tuple = ()) -> None: ...

    @abstractmethod
    def _execute_many(self, sql: str, rows: list[tuple]) -> None: ...

    @abstractmethod
    def _query(self, sql: str, parameters: tuple = ()) -> list[tuple]: ...

    @abstractmethod
    def _begin_write(self) -> None:
        """Start a transaction that writes (SQLite: takes its write lock, waiting up to the busy timeout)."""

    @abstractmethod
    def _begin_read(self) -> None:
        """Start a read-only transaction that sees one consistent snapshot of the store."""

    @abstractmethod
    def _claim_writer(self) -> bool:
        """Take the store's writer lock if no one holds it; False if someone does."""

    @abstractmethod
    def _release_writer(self) -> None: ...

    @abstractmethod
    def _has_tables(self) -> bool: ...

    @abstractmethod
    def _table_statements(self) -> tuple[str, ...]:
        """CREATE TABLE statements with the backend's column types (`schema.table_statements`)."""

    # ---- transactions -------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One write transaction: committed whole, or rolled back with the engine in memory dropped."""
        self._begin_write()
        try:
            yield
            self._execute("COMMIT")
        except BaseException:
            self._engine = None  # it may have taken lines that were not committed
            self._rollback()
            raise

    @contextmanager
    def _reading(self) -> Iterator[None]:
        self._begin_read()
        try:
            yield
        finally:
            self._rollback()

    def _rollback(self) -> None:
        try:
            self._execute("ROLLBACK")
        except Exception:  # the transaction may be gone with the connection; the error in flight says why
            pass

    @contextmanager
    def _writer(self, wait: float) -> Iterator[None]:
        """The writer lock for a whole call, waiting up to `wait` seconds for another writer."""
        deadline = time.monotonic() + wait
        pause = 0.01
        while not self._claim_writer():
            if time.monotonic() >= deadline:
                raise StoreBusy(f"another writer is working on the store {self.name} (waited {wait:g} s); "
                                "try again when it has finished, or give --wait SECONDS")
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
        try:
            yield
        finally:
            self._release_writer()

    # ---- opening --------------------------------------------------------------------------------

    def _prepare(self, create: bool) -> None:
        """Create the tables of a new store; refuse a store of another schema version."""
        if not self._has_tables():
            if not create:
                raise StoreError(f"{self.name} is not a backstop store (it has no store_meta table); "
                                 "`backstop ingest --store URL CONTRACTS EVENTS` creates one")
            with self._writer(WAIT_SECONDS), self._writing():
                if not self._has_tables():  # another process may have created them meanwhile
                    for statement in self._table_statements():
                        self._execute(statement)
                    self._execute("INSERT INTO store_meta (key, value) VALUES (?, ?)", ("schema", str(SCHEMA_VERSION)))
        rows = self._query("SELECT value FROM store_meta WHERE key = ?", ("schema",))
        version = int(rows[0][0]) if rows and rows[0][0].isdigit() else None
        if version != SCHEMA_VERSION:
            newer = version is not None and version > SCHEMA_VERSION
            raise StoreError(
                f"the store {self.name} has schema version {version if version is not None else '(unreadable)'}; "
                f"this backstop reads version {SCHEMA_VERSION}"
                + (": upgrade backstop to use it" if newer else "")
            )

    # ---- writing: ingest ------------------------------------------------------------------------

    def ingest(
        self,
        lines: BinaryIO | Iterable[bytes | str],
        *,
        source: str | None = None,
        contracts: str | os.PathLike[str] | None = None,
        rebuild: bool = False,
        batch_lines: int = BATCH_LINES,
        wait: float = WAIT_SECONDS,
        progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """Append lines to the log and apply them; every batch is committed whole.

        `lines` is a binary stream of JSON Lines or an iterable of lines without their line
        ends. With `source`, the store remembers how much of it was committed: the stream
        (or the lines) must then start at the source's beginning each time, the committed
        part is checked unchanged (`SourceChanged` if not) and skipped. `contracts` gives
        the agreement documents: recorded by the first ingest, checked by later ones
        (`DocumentsChanged` if they differ, unless `rebuild`). `progress(lines, position)`
        is called after each batch with this call's lines and the source's bytes committed.
        """
        if batch_lines < 1:
            raise ValueError(f"batch_lines must be at least 1; got {batch_lines}")
        agreements, files = _documents_at(contracts) if contracts is not None else (None, None)
        with self._writer(wait):
            engine = self._writer_engine(agreements, files, rebuild)
            blocks, idle = _blocks(lines, batch_lines)
            position = hasher = None
            skipped = 0
            if source is not None:
                position, hasher, blocks = self._resumed(source, blocks)
                skipped = position.bytes
            taken = _Taken()
            # A helper thread compresses each batch and hashes its bytes (both let go of the GIL)
            # while the engine takes its lines.
            with ThreadPoolExecutor(1, thread_name_prefix="backstop-pack") as helper:
                for batch, physical, added_line_end in _batches(blocks, idle, batch_lines):
                    raw = batch[:-1] if added_line_end else batch
                    packing = helper.submit(_packed, batch, raw, hasher)
                    if position is not None:
                        position = position._replace(bytes=position.bytes + len(raw), lines=position.lines + physical,
                                                     open_end=added_line_end)
                    self._commit_batch(engine, batch, physical, source, position, packing, taken)
                    if progress is not None:
                        progress(taken.lines, position.bytes if position is not None else 0)
            self._checkpoint_if_behind()
        return IngestReport(source, skipped, taken.lines, taken.duplicates, tuple(taken.rejected), taken.entries)

    def _writer_engine(self, agreements, files, rebuild: bool) -> Engine:
        """The engine at the head of the log, under the documents given (recorded if the store has
        none yet) or those stored; `--rebuild` replays the log under new ones first."""
        with self._writing():
            stored = {(agreement, version): sha256
                      for agreement, version, sha256 in self._query("SELECT agreement, version, sha256 FROM documents")}
            if agreements is None:
                if rebuild:
                    raise StoreError("--rebuild needs CONTRACTS: the documents to replay the stored log with")
                return self._engine_at_head()
            given = {(agreement.id, version.number): version.sha256 for agreement in agreements
                     for version in agreement.versions}
            if not stored:
                self._record_documents(files)
                return self._engine_at_head(agreements)
            if given == stored:  # also after a rebuild that committed, when the same command runs again
                return self._engine_at_head(agreements)
            if not rebuild:
                raise DocumentsChanged(
                    f"the documents differ from those of the store {self.name}: {_difference(stored, given)}; "
                    "to replay the stored log with them, run the same ingest with --rebuild (it is accepted only "
                    "if the ledger already issued stays a prefix of the new one)"
                )
            return self._rebuild(agreements, files)

    def _resumed(self, source: str, blocks: Iterator[bytes]):
        """The source's committed position, a hash of its bytes so far, and its blocks after them;
        `SourceChanged` when the committed part is not what the store took."""
        rows = self._query("SELECT bytes, lines, sha256, open_end FROM sources WHERE name = ?", (source,))
        position = SourcePosition(0, 0, hashlib.sha256().hexdigest(), False)
        if rows:
            position = SourcePosition(rows[0][0], rows[0][1], rows[0][2], bool(rows[0][3]))
        hasher = hashlib.sha256()
        missing = position.bytes
        rest = b""
        for block in blocks:
            hasher.update(block[:missing])
            rest = block[missing:]
            missing -= len(block) - len(rest)
            if not missing:
                break
        if missing:
            raise SourceChanged(
                f"source {source}: the store has taken its first {position.bytes:,} bytes ({position.lines:,} lines), "
                f"but it now has only {position.bytes - missing:,}; a source may only grow at its end"
            )
        if hasher.hexdigest() != position.sha256:
            raise SourceChanged(
                f"source {source}: its first {position.bytes:,} bytes ({position.lines:,} lines), which the store "
                f"has taken, have changed since (sha256 {position.sha256[:12]}… in the store, {hasher.hexdigest()[:12]}… "
                "now); a source may only grow at its end: send changed lines as new lines under another --source name"
            )
        remaining = _prefixed(rest, blocks)
        if position.open_end:
            first = next(remaining, b"")
            if first[:1] not in (b"", b"\n"):
                raise SourceChanged(
                    f"source {source}: its line {position.lines:,}, which the store took without a line end, has "
                    "grown since; a source may only grow by whole lines"
                )
            if first:
                hasher.update(b"\n")
                position = SourcePosition(position.bytes + 1, position.lines, hasher.hexdigest(), False)
                remaining = _prefixed(first[1:], remaining)
        return position, hasher, remaining

    def _commit_batch(self, engine: Engine, batch: bytes, physical: int, source: str | None,
                      position: SourcePosition | None, packing: Future, taken: _Taken) -> None:
        """Apply one batch of whole lines and commit it with its outcomes, entries and position
        (`packing` gives the batch compressed and the SHA-256 of the source up to its end)."""
        head = self._head
        item_seq = head.seq + 1
        long_lines = _LongLines()
        before = engine.lines
        try:
            outcomes = list(engine.feed_numbered(_numbered(batch, head.next_line, long_lines), duplicates=True))
        except BaseException:
            self._engine = None  # it took part of the batch, which will not be committed
            raise
        data, digest = packing.result()
        source_line = None
        if position is not None:
            position = position._replace(sha256=digest)
            source_line = position.lines - physical + 1
        item = LogItem(item_seq, "lines", source, source_line, head.next_line, physical, engine.lines - before,
                       engine.lines, data, None)
        entries = [(outcome.line, entry) for outcome in outcomes for entry in outcome.entries]
        with self._writing():
            self._check_head()
            self._insert_item(item)
            self._insert_outcomes(item_seq, outcomes, long_lines)
            self._insert_entries(item_seq, head.ledger_position, entries)
            if position is not None:
                self._execute(
                    "INSERT INTO sources (name, bytes, lines, sha256, open_end) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes, lines = excluded.lines, "
                    "sha256 = excluded.sha256, open_end = excluded.open_end",
                    (source, position.bytes, position.lines, position.sha256, int(position.open_end)),
                )
            if engine.lines - self._checkpoint_lines() >= CHECKPOINT_LINES:
                self._write_checkpoint(engine, head.after(item, len(entries)))
        self._head = head.after(item, len(entries))
        taken.add(item, outcomes, len(entries))

    # ---- writing: closes, rebuilds, checkpoints -------------------------------------------------

    def close_through(self, day: date, *, wait: float = WAIT_SECONDS) -> tuple[IssuedEntry, ...]:
        """Close, per agreement in id order, every open period ending by `day` (like
        `backstop replay --close-through`), recorded in the log at this point."""
        with self._writer(wait):
            with self._writing():
                engine = self._engine_at_head()
            head = self._head
            try:
                entries = engine.close_through(day)
            except BaseException:
                self._engine = None
                raise
            item = LogItem(head.seq + 1, "close", None, None, head.next_line, 0, 0, engine.lines, None, day.isoformat())
            with self._writing():
                self._check_head()
                self._insert_item(item)
                self._insert_entries(item.seq, head.ledger_position, [(None, entry) for entry in entries])
                self._write_checkpoint(engine, head.after(item, len(entries)))
            self._head = head.after(item, len(entries))
        return entries

    def _rebuild(self, agreements, files) -> Engine:
        """Replay the whole stored log under new documents; accepted, in the caller's transaction,
        only if the stored ledger is a prefix of the new one (`LedgerWouldChange` names the first
        entry that would change)."""
        engine = Engine(agreements)
        self._execute("DELETE FROM outcomes")
        stored = self._stored_ledger(after=0)
        head = _Head()
        position = 0
        for item, outcomes, entries, long_lines in self._replay_items(engine, after=0, long_lines=True):
            self._insert_outcomes(item.seq, outcomes, long_lines)
            new = []
            for line, entry in entries:
                position += 1
                row = next(stored, None)
                if row is None:
                    new.append((line, entry))
                elif not row.holds(entry):
                    raise LedgerWouldChange(
                        f"the new documents would change the ledger already issued: "
                        f"{_Mismatch(position, row, entry).describe()}; nothing was changed"
                    )
            self._insert_entries(item.seq, position - len(new), new)
            head = head.after(item, 0)
        row = next(stored, None)
        if row is not None:
            raise LedgerWouldChange(f"the new documents would change the ledger already issued: "
                                    f"{_Mismatch(row.position, row, None).describe()}; nothing was changed")
        head.ledger_position = position
        self._execute("DELETE FROM documents")
        self._record_documents(files)
        self._write_checkpoint(engine, head)
        self._engine, self._head, self._engine_documents = engine, head, _document_set(files)
        return engine

    def _checkpoint_if_behind(self) -> None:
        if self._engine is not None and self._checkpoint_seq != self._head.seq:
            with self._writing():
                self._check_head()
                self._write_checkpoint(self._engine, self._head)

    def _write_checkpoint(self, engine: Engine, head: _Head) -> None:
        self._execute("DELETE FROM checkpoint")
        self._execute("INSERT INTO checkpoint (id, log_seq, lines, ledger_position, snapshot) VALUES (1, ?, ?, ?, ?)",
                      (head.seq, engine.lines, head.ledger_position, engine.snapshot()))
        self._checkpoint_seq = head.seq

    def _checkpoint_lines(self) -> int:
        rows = self._query("SELECT lines FROM checkpoint")
        return rows[0][0] if rows else 0

    def _check_head(self) -> None:
        """The log ends where this writer's engine is: the writer lock guarantees it, and a
        store changed behind its back must not be written on."""
        last = self._last_item()
        if (last.seq if last else 0) != self._head.seq:
            self._engine = None
            raise StoreError(f"the log of {self.name} was changed by another writer during this one; run it again")

    def _record_documents(self, files: list[tuple[str, str, int, str, bytes]]) -> None:
        self._execute_many("INSERT INTO documents (name, agreement, version, sha256, content) VALUES (?, ?, ?, ?, ?)",
                           files)

    def _insert_item(self, item: LogItem) -> None:
        self._execute(
            "INSERT INTO log (seq, kind, source, source_line, first_line, physical_lines, lines, lines_total, data, "
            "through) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tuple(item),
        )

    def _insert_outcomes(self, item_seq: int, outcomes: list[LineOutcome], long_lines: _LongLines | None) -> None:
        rows = [
            (outcome.line, item_seq, outcome.status, outcome.id, outcome.code, outcome.reason,
             None if outcome.status == "duplicate" else (long_lines.lines.get(outcome.line) or outcome.raw))
            for outcome in outcomes if outcome.status != "applied"
        ]
        if rows:
            self._execute_many("INSERT INTO outcomes (line, log_seq, status, event_id, code, reason, raw) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def _insert_entries(self, item_seq: int, position: int, entries: list[tuple[int | None, IssuedEntry]]) -> None:
        rows = [
            (position + offset, entry.agreement, entry.fields["seq"], entry.id, entry.fields["hash"], item_seq, line,
             entry.line)
            for offset, (line, entry) in enumerate(entries, start=1)
        ]
        if rows:
            self._execute_many("INSERT INTO ledger (position, agreement, seq, entry_id, hash, log_seq, line, entry) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    # ---- the engine at the head of the log -----------------------------------------------------

    def _engine_at_head(self, agreements=None) -> Engine:
        """The engine in the state of the whole stored log (inside a transaction).

        The engine kept from an earlier call if it has the store's documents, else the
        checkpoint's if it matches the store, else a new one; then the log after it is
        replayed, each entry checked against the stored one.
        """
        last = self._last_item()
        documents = frozenset(self._query("SELECT agreement, version, sha256 FROM documents"))
        engine, head = self._engine, self._head
        self._engine = None
        if engine is None or documents != self._engine_documents or head.seq > (last.seq if last else 0):
            if agreements is None:
                agreements = self._stored_agreements()
            engine, head = self._restored(agreements)
        stored = self._stored_ledger(after=head.ledger_position)
        for item, _, entries, _ in self._replay_items(engine, after=head.seq):
            for line, entry in entries:
                position = head.ledger_position + 1
                row = next(stored, None)
                if row is None or not row.holds(entry):
                    raise LedgerWouldChange(self._replay_differs(_Mismatch(position, row, entry)))
                head.ledger_position = position
            head = head.after(item, 0)
        row = next(stored, None)
        if row is not None:
            raise LedgerWouldChange(self._replay_differs(_Mismatch(row.position, row, None)))
        if last is not None and engine.lines != last.lines_total:
            raise StoreError(f"the store {self.name} is damaged: its log counts {last.lines_total} lines, "
                             f"a replay of it {engine.lines}")
        self._engine, self._head, self._engine_documents = engine, head, documents
        return engine

    def _replay_differs(self, mismatch: _Mismatch) -> str:
        return (f"a replay of the stored log does not give the stored ledger: {mismatch.describe()}; "
                "the store was changed outside backstop, or was written by another version of the engine "
                "(use that version with this store)")

    def _restored(self, agreements) -> tuple[Engine, _Head]:
        """The engine of the checkpoint and where it stands, if the checkpoint matches the store
        in every respect; otherwise a new engine at the start of the log."""
        rows = self._query("SELECT log_seq, lines, ledger_position, snapshot FROM checkpoint")
        if rows:
            checkpoint = Checkpoint(rows[0][0], rows[0][1], rows[0][2], bytes(rows[0][3]))
            try:
                engine = Engine.restore(checkpoint.snapshot, agreements)
                head = self._checked_checkpoint(engine, checkpoint)
            except SnapshotError:
                pass  # another format, engine, semantics or documents, or damaged: replay the log instead
            else:
                if head is not None:
                    self._checkpoint_seq = checkpoint.log_seq
                    return engine, head
        self._checkpoint_seq = -1  # no usable checkpoint: the next write makes one
        return Engine(agreements), _Head()

    def _checked_checkpoint(self, engine: Engine, checkpoint: Checkpoint) -> _Head | None:
        """Where a restored checkpoint stands, if its input position and every ledger head match
        the stored log and ledger; None if anything differs."""
        if checkpoint.log_seq == 0:
            item = None
        else:
            item = self._item(checkpoint.log_seq)
            if item is None:
                return None
        lines = item.lines_total if item else 0
        if not engine.lines == checkpoint.lines == lines:
            return None
        heads = {agreement: (seq, digest) for agreement, seq, digest in self._query(
            "SELECT agreement, seq, hash FROM ledger WHERE position IN (SELECT MAX(position) FROM ledger "
            "WHERE position <= ? GROUP BY agreement)", (checkpoint.ledger_position,))}
        for agreement_id, replay in engine.agreements.items():
            if heads.pop(agreement_id, (0, None)) != (replay.chain.length, replay.chain.head):
                return None
        counted = self._query("SELECT COUNT(*) FROM ledger WHERE position <= ?", (checkpoint.ledger_position,))
        if heads or counted[0][0] != checkpoint.ledger_position:
            return None
        if item is None:
            return _Head(0, 1, 0, checkpoint.ledger_position)
        return _Head(item.seq, item.next_line, item.lines_total, checkpoint.ledger_position)

    def _replay_items(self, engine: Engine, *, after: int, long_lines: bool = False):
        """Feed the stored log after item `after` to `engine`; per item: (item, outcomes,
        [(line, entry)] issued (the line None for a close), over-long lines kept whole)."""
        for item in self._items(after):
            if item.kind == "close":
                entries = engine.close_through(date.fromisoformat(item.through))
                yield item, [], [(None, entry) for entry in entries], None
                continue
            kept = _LongLines() if long_lines else None
            lines = _numbered(zlib.decompress(item.data), item.first_line, kept)
            outcomes = list(engine.feed_numbered(lines, duplicates=True))
            yield item, outcomes, [(outcome.line, entry) for outcome in outcomes for entry in outcome.entries], kept

    def _stored_agreements(self):
        files = self._query("SELECT name, content FROM documents")
        if not files:
            raise StoreError(f"the store {self.name} holds no agreement documents yet: "
                             "`backstop ingest --store URL CONTRACTS EVENTS` records them")
        return load_agreements_from_files((name, bytes(content)) for name, content in files)

    # ---- reading the tables ---------------------------------------------------------------------

    _ITEM_COLUMNS = "seq, kind, source, source_line, first_line, physical_lines, lines, lines_total, data, through"

    def _last_item(self) -> LogItem | None:
        rows = self._query(f"SELECT {self._ITEM_COLUMNS} FROM log ORDER BY seq DESC LIMIT 1")
        return _item(rows[0]) if rows else None

    def _item(self, seq: int) -> LogItem | None:
        rows = self._query(f"SELECT {self._ITEM_COLUMNS} FROM log WHERE seq = ?", (seq,))
        return _item(rows[0]) if rows else None

    def _items(self, after: int) -> Iterator[LogItem]:
        while True:
            rows = self._query(f"SELECT {self._ITEM_COLUMNS} FROM log WHERE seq > ? ORDER BY seq LIMIT ?",
                               (after, _LOG_PAGE))
            for row in rows:
                yield _item(row)
            if len(rows) < _LOG_PAGE:
                return
            after = rows[-1][0]

    def _stored_ledger(self, *, after: int) -> Iterator[LedgerRow]:
        """The ledger rows after position `after`, in order, as they were when this was called."""
        rows = self._query("SELECT MAX(position) FROM ledger")
        return self._ledger_pages(after, rows[0][0] or 0)

    def _ledger_pages(self, after: int, end: int) -> Iterator[LedgerRow]:
        while after < end:
            rows = self._query("SELECT position, agreement, seq, entry_id, hash, log_seq, line, entry FROM ledger "
                               "WHERE position > ? AND position <= ? ORDER BY position LIMIT ?", (after, end, _LEDGER_PAGE))
            if not rows:
                return
            for row in rows:
                yield LedgerRow(*row[:7], bytes(row[7]))
            after = rows[-1][0]

    # ---- reading: the public face ---------------------------------------------------------------

    def ledger(self, agreement: str, *, since_seq: int = 0) -> Iterator[IssuedEntry]:
        """The agreement's entries after `since_seq`, in order. Entries are never changed or
        removed, so each page is read in a short transaction of its own."""
        while True:
            with self._reading():
                rows = self._query("SELECT seq, entry_id, entry FROM ledger WHERE agreement = ? AND seq > ? "
                                   "ORDER BY seq LIMIT ?", (agreement, since_seq, _LEDGER_PAGE))
            for seq, entry_id, line in rows:
                line = bytes(line)
                yield IssuedEntry(agreement, entry_id, orjson.loads(line), line)
            if len(rows) < _LEDGER_PAGE:
                return
            since_seq = rows[-1][0]

    def summary(self) -> dict:
        """The JSON summary of `backstop replay` (semantics §8), for the whole stored log."""
        with self._reading():
            return self._engine_at_head().summary()

    def export(self, *, ledger: BinaryIO | None = None, rejected: BinaryIO | None = None) -> dict:
        """Write the ledger and the rejected lines, as `backstop replay` writes them for the log,
        and return the summary, all from one consistent snapshot of the store."""
        with self._reading():
            summary = self._engine_at_head().summary()
            if ledger is not None:
                for row in self._stored_ledger(after=0):
                    ledger.write(row.entry)
            if rejected is not None:
                after = 0
                while True:
                    rows = self._query("SELECT line, raw FROM outcomes WHERE status = 'rejected' AND line > ? "
                                       "ORDER BY line LIMIT ?", (after, _LEDGER_PAGE))
                    for _, raw in rows:
                        rejected.write(bytes(raw) + b"\n")
                    if len(rows) < _LEDGER_PAGE:
                        break
                    after = rows[-1][0]
        return summary

    def status(self) -> dict:
        """Counts, per agreement its head and last closed period, the documents, the sources and
        where the checkpoint stands; from one consistent snapshot."""
        with self._reading():
            documents = [
                {"agreement": agreement, "version": version, "sha256": sha256, "name": name}
                for agreement, version, sha256, name in self._query(
                    "SELECT agreement, version, sha256, name FROM documents ORDER BY agreement, version")
            ]
            sources = [{"name": name, "bytes": size, "lines": lines} for name, size, lines in
                       self._query("SELECT name, bytes, lines FROM sources ORDER BY name")]
            checkpoint = self._query("SELECT log_seq, lines FROM checkpoint")
            last = self._last_item()
            status = {"store": self.name, "schema": SCHEMA_VERSION, "documents": documents, "sources": sources,
                      "log_items": last.seq if last else 0,
                      "checkpoint": {"log_item": checkpoint[0][0], "lines": checkpoint[0][1]} if checkpoint else None}
            if not documents:
                return {**status, "lines": 0, "applied": 0, "duplicates": 0, "rejected": 0, "agreements": {}}
            engine = self._engine_at_head()
            agreements = {
                agreement_id: {
                    "head": replay.chain.head, "entries": replay.chain.length,
                    "closed_through": replay.terms.periods[replay.closed - 1].id if replay.closed else None,
                }
                for agreement_id, replay in engine.agreements.items()
            }
            return {**status, "lines": engine.lines, "applied": engine.applied, "duplicates": engine.duplicates,
                    "rejected": len(engine.rejections), "agreements": agreements}


# ---- helpers ----------------------------------------------------------------------------------


@dataclass
class _Taken:
    """The counts of one ingest call."""

    lines: int = 0
    duplicates: int = 0
    rejected: list[RejectedInput] = field(default_factory=list)
    entries: int = 0

    def add(self, item: LogItem, outcomes: list[LineOutcome], entries: int) -> None:
        self.lines += item.lines
        self.entries += entries
        to_source = (item.source_line or item.first_line) - item.first_line
        for outcome in outcomes:
            if outcome.status == "duplicate":
                self.duplicates += 1
            elif outcome.status == "rejected":
                self.rejected.append(RejectedInput(outcome.line, outcome.line + to_source, outcome.id, outcome.reason,
                                                   outcome.code))


def _item(row: tuple) -> LogItem:
    return LogItem(*row[:8], None if row[8] is None else bytes(row[8]), row[9])


def _packed(batch: bytes, raw: bytes, hasher) -> tuple[bytes, str | None]:
    """A batch compressed for the log, and the source's SHA-256 once its bytes `raw` are added."""
    if hasher is None:
        return zlib.compress(batch, _LOG_COMPRESSION), None
    hasher.update(raw)
    return zlib.compress(batch, _LOG_COMPRESSION), hasher.hexdigest()


def _document_set(files: list[tuple[str, str, int, str, bytes]]) -> frozenset:
    return frozenset((agreement, version, sha256) for _, agreement, version, sha256, _ in files)


def _documents_at(contracts: str | os.PathLike[str]):
    """The agreements under CONTRACTS, and each version file as (name, agreement, version,
    sha256, bytes) with its name relative to CONTRACTS, for the store to keep."""
    agreements = load_agreements(contracts)
    root = os.fspath(contracts)
    files = []
    for agreement in agreements:
        for version in agreement.versions:
            try:
                with open(version.path, "rb") as stream:
                    data = stream.read()
            except OSError as error:
                raise StoreError(f"cannot read {version.path}: {error.strerror}") from None
            if hashlib.sha256(data).hexdigest() != version.sha256:
                raise StoreError(f"{version.path} changed while it was being read; run the command again")
            name = os.path.relpath(version.path, root).replace(os.sep, "/")
            files.append((name, agreement.id, version.number, version.sha256, data))
    return agreements, files


def _difference(stored: dict, given: dict) -> str:
    """How two document sets differ, version by version."""
    parts = []
    for agreement, version in sorted(set(stored) | set(given)):
        was, now = stored.get((agreement, version)), given.get((agreement, version))
        if was is None:
            parts.append(f"agreement {agreement} version {version} is new (sha256 {now[:12]}…)")
        elif now is None:
            parts.append(f"agreement {agreement} version {version} is gone")
        elif was != now:
            parts.append(f"agreement {agreement} version {version} has changed (sha256 {was[:12]}… in the store, "
                         f"{now[:12]}… now)")
    return "; ".join(parts)


def _prefixed(first: bytes, blocks: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from blocks


def _blocks(lines: BinaryIO | Iterable[bytes | str], batch_lines: int) -> tuple[Iterator[bytes], Callable[[], bool]]:
    """The input as blocks of bytes, and a test of whether no more is ready yet (for a pipe, so
    that lines arriving slowly are committed as they come rather than when a batch is full)."""
    if hasattr(lines, "read"):
        return _stream_blocks(lines), _idle_test(lines)
    return _line_blocks(lines, batch_lines), lambda: False


def _stream_blocks(stream: BinaryIO) -> Iterator[bytes]:
    read = getattr(stream, "read1", None) or stream.read
    while True:
        block = read(1 << 20)
        if not block:
            return
        yield block


def _idle_test(stream: BinaryIO) -> Callable[[], bool]:
    try:
        descriptor = stream.fileno()
        regular = stat.S_ISREG(os.fstat(descriptor).st_mode)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return lambda: False
    if regular:
        return lambda: False
    return lambda: not select.select([descriptor], [], [], 0)[0]


def _line_blocks(lines: Iterable[bytes | str], batch_lines: int) -> Iterator[bytes]:
    group: list[bytes] = []
    for line in lines:
        group.append(line.encode("utf-8") if isinstance(line, str) else line)
        group.append(b"\n")
        if len(group) >= 2 * batch_lines:
            yield b"".join(group)
            group = []
    if group:
        yield b"".join(group)


def _batches(blocks: Iterator[bytes], idle: Callable[[], bool], batch_lines: int) -> Iterator[tuple[bytes, int, bool]]:
    """Whole lines in batches of about `batch_lines`, each line ending in LF: (batch, its lines,
    whether the last line had no line end in the source and was given one)."""
    parts: list[bytes] = []
    count = 0
    carry: list[bytes] = []  # the start of a line whose end has not been read
    for block in blocks:
        cut = block.rfind(b"\n") + 1
        if not cut:
            carry.append(block)
            continue
        parts.extend(carry)
        parts.append(block[:cut])
        carry = [block[cut:]] if cut < len(block) else []
        count += block.count(b"\n", 0, cut)
        if count >= batch_lines or idle():
            yield b"".join(parts), count, False
            parts, count = [], 0
    if carry:
        parts.extend(carry)
        parts.append(b"\n")
        count += 1
    if parts:
        yield b"".join(parts), count, bool(carry)
