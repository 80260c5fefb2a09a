"""Snapshots: the engine's state as explicit, versioned data, safe to store and read back.

A snapshot lets a settlement system (or a store) stop an engine and go on later without
replaying the past. It is data, never code, and it is read as untrusted input: the bytes are

    b"backstop-snapshot/3\\n" + zlib(one JSON document, keys sorted)

Why this encoding:

- JSON, because a person (or another program) can read what a store kept, with nothing but
  `zlib` and a JSON parser, and because reading it constructs only dicts, lists, strings and
  numbers: no class named by the input is ever built, and no code runs (a pickle does both).
  Amounts are decimal strings in their exact form (`"1.50"` stays `"1.50"`), dates ISO,
  fractions `p/q`, share counts strings (they may pass 64 bits), bytes base64.
- Columns for what grows with the log. An engine without `lock_after_periods` remembers
  every input it applied (see `engine.replay.inputs`); written one JSON object per input, a
  million inputs took longer to read back than to replay. So the inputs are three columns:
  their ids, the sizes of their records and the records themselves as one base64 text; each
  key's inputs come next in the columns, in order, and the key says how many they are. The
  records are the engine's packed form, verbatim: that is why a snapshot is read only by the
  engine version that wrote it.
- zlib, at level 1: the document of a million inputs (about 100 MiB of text) shrinks
  about eightfold at a fraction of what the stronger levels cost, and its checksum catches a
  damaged or truncated file before anything is read.
- Keys sorted and every collection in a fixed order: the same state always gives the same
  bytes (for one build of zlib; the document itself is canonical everywhere).

The document has a header, which says what the state belongs to, and a body, the state:

- `format`, `engine` ({name, version}), `semantics`;
- `agreements`: per agreement, `versions` ({number: sha256}), `head` and `entries` of its
  hash chain;
- `position`: `lines` (non-blank lines fed, also the log order of the last), `last_line`
  (the caller's number of the last line), `duplicates`, `rejected`;
- `ids`: every id in use. `inputs` holds the applied utilization and revenue events as the
  columns `ids`, `sizes` and `records` (base64 of the records one after another); `events`
  every other event as `[id, fingerprint, line, agreement, lock_periods]`;
- `rejections`: `[line, id, reason, code]` for each rejected line;
- `state`: per agreement, what can still change, in sections (`SECTIONS`): `periods`
  (closed, locked_below, restated), `inputs` (pools, spans, keys), `caps` (per capped kind,
  E and I), `books` (per direction), `totals`, `warrants`, `guarantee`.

Caches that the engine learns again (spans by start, pool capacities, observation dates) are
not stored. Anything else the engine comes to remember is a new section or field, and so a
new `FORMAT`: an older snapshot is refused with a message that says to replay the log (a
store rebuilds it). docs/snapshots.md describes every field and what `restore` checks.
"""

from __future__ import annotations

import array
import base64
import binascii
import itertools
import operator
import struct
import sys
import zlib
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Callable

import orjson

from engine.events.reader import FINGERPRINT_BYTES, ID_CHARS_MAX
from engine.rejection_codes import CODES, Code
from engine.replay.agreement import OBLIGATION_KINDS, SHARE_KINDS, AgreementReplay
from engine.replay.guarantee import DebtService
from engine.replay.inputs import (
    INPUT_HEAD, NO_PERIOD, PLAIN_FLAGS, REVENUE_FLAGS, REVENUE_KEY, TOP_UP_KEY, UTILIZATION_FLAGS, IdRecord, Key,
    input_order,
)
from engine.replay.rejected import Rejection
from engine.replay.settlement import Book, Obligation
from engine.replay.warrants import Observation, TrancheState

FORMAT = "backstop-snapshot/3"
MAGIC = FORMAT.encode("ascii") + b"\n"
LEVEL = 1  # zlib's: see the module's docstring
_HEX = frozenset("0123456789abcdef")
#: Kinds of entry a total may be kept for: every kind the replay issues.
TOTAL_KINDS = OBLIGATION_KINDS | SHARE_KINDS | {"payment", "discharge"}


class SnapshotError(ValueError):
    """A snapshot that cannot be restored: not a snapshot, damaged, of another format, engine
    or semantics, or of other documents. The message says what differs."""


# ---- writing --------------------------------------------------------------------------------


def snapshot_bytes(engine, *, engine_name: str, engine_version: str, semantics: str) -> bytes:
    """The engine's state as snapshot bytes (the same state always gives the same bytes)."""
    if engine._issued or any(replay._savepoint is not None for replay in engine.agreements.values()):
        raise RuntimeError("a snapshot is taken between lines, not while one is applied")
    ids = engine.ids
    column: list[str] = []  # the input ids: each key's inputs in turn (see `_write_inputs`), then the rest
    state = {
        agreement_id: {name: write(replay, column) for name, (write, _) in SECTIONS.items()}
        for agreement_id, replay in engine.agreements.items()
    }
    events = [
        [event_id, base64.b64encode(record.fingerprint).decode("ascii"), record.line, record.agreement,
         list(record.lock_periods)]
        for event_id, record in ids.items() if type(record) is not bytes
    ]
    records = list(map(ids.__getitem__, column))
    if len(column) + len(events) != len(ids):
        # Inputs no key lists (corrected into a later period, their first one locked), in log
        # order: their order in the id map depends on whether the engine was restored since.
        listed = set(column)
        rest = sorted((input_order(record), event_id) for event_id, record in ids.items()
                      if type(record) is bytes and event_id not in listed)
        column += [event_id for _, event_id in rest]
        records += [ids[event_id] for _, event_id in rest]
    document = {
        "format": FORMAT,
        "engine": {"name": engine_name, "version": engine_version},
        "semantics": semantics,
        "agreements": {
            agreement_id: {
                "versions": {str(version.number): version.sha256 for version in replay.terms.versions},
                "head": replay.chain.head,
                "entries": replay.chain.length,
            }
            for agreement_id, replay in engine.agreements.items()
        },
        "position": {
            "lines": engine.lines, "last_line": engine._last_line, "duplicates": engine.duplicates,
            "rejected": len(engine.rejections),
        },
        "ids": {
            "inputs": {
                "ids": column,
                "sizes": list(map(len, records)),
                "records": base64.b64encode(b"".join(records)).decode("ascii"),
            },
            "events": events,
        },
        "rejections": [[r.line, r.id, r.reason, r.code] for r in engine.rejections],
        "state": state,
    }
    return MAGIC + zlib.compress(orjson.dumps(document, option=orjson.OPT_SORT_KEYS), LEVEL)


def _write_periods(replay: AgreementReplay, column: list[str]) -> dict:
    return {"closed": replay.closed, "locked_below": replay.locked_below, "restated": sorted(replay.restated)}


def _write_inputs(replay: AgreementReplay, column: list[str]) -> dict:
    """Pools, spans and keys. A key's inputs are not listed by id: they go, in order, to the
    snapshot's column of input ids, and the key says how many it took (an input is listed by
    the one key it was first applied to, so every id is written once, and read back as a slice)."""
    keys = []
    for index, period_keys in replay.keys.items():
        for slot, key in period_keys.items():
            column += key.inputs
            keys.append([index, slot, _key_state(key)])
    return {
        "pools": list(replay.pool_names),
        "spans": [[index, [list(span) for span in spans]] for index, (_, spans) in replay.period_spans.items()],
        "keys": keys,
    }


def _key_state(key: Key) -> dict:
    return {
        "available": _decimal_text(key.available), "sold": _decimal_text(key.sold),
        "revenue": _decimal_text(key.revenue), "inputs": len(key.inputs),
        "changes": None if key.changes is None else [[event_id, order] for event_id, order in key.changes.items()],
        "last_target": _decimal_text(key.last_target), "first_entry": key.first_entry,
        "adjustments": key.adjustments,
    }


def _write_caps(replay: AgreementReplay, column: list[str]) -> dict:
    return {
        "lease_back": {"entitled": _decimal_text(replay.entitled), "issued": _decimal_text(replay.issued)},
        "revenue_top_up": {"entitled": _decimal_text(replay.top_up_entitled), "issued": _decimal_text(replay.top_up_issued)},
    }


def _write_books(replay: AgreementReplay, column: list[str]) -> list:
    return [[debtor, creditor, _book_state(book)] for (debtor, creditor), book in replay.books.items()]


def _book_state(book: Book) -> dict:
    return {
        "open": [
            [o.entry_id, o.seq, o.due.isoformat(), o.kind, _decimal_text(o.outstanding)] for o in book.open.values()
        ],
        "queue": [[due.isoformat(), seq, entry_id] for due, seq, entry_id in book.queue],
        "outstanding": _decimal_text(book.outstanding),
        "unapplied": _decimal_text(book.unapplied),
    }


def _write_totals(replay: AgreementReplay, column: list[str]) -> dict:
    return {kind: str(total) if kind in SHARE_KINDS else _decimal_text(total) for kind, total in replay.totals.items()}


def _write_warrants(replay: AgreementReplay, column: list[str]) -> dict | None:
    warrants = replay.warrants
    if warrants is None:
        return None
    return {
        "tranches": [[tranche_id, state.vested, str(state.remaining)] for tranche_id, state in warrants.tranches.items()],
        "observations": [
            [o.date.isoformat(), _decimal_text(o.price), _decimal_text(o.volume), _fraction_text(o.factor)]
            for o in warrants.observations
        ],
        "factor": _fraction_text(warrants.factor),
    }


def _write_guarantee(replay: AgreementReplay, column: list[str]) -> dict | None:
    guarantee = replay.guarantee
    if guarantee is None:
        return None
    return {
        "debt_service": [[entry_id, d.period, d.due.isoformat()] for entry_id, d in guarantee.debt_service.items()],
        "called": [[entry_id, event_id] for entry_id, event_id in guarantee.called.items()],
        "called_total": _decimal_text(guarantee.called_total),
    }


def _decimal_text(value: Decimal) -> str:
    """The text that reads back to the very same Decimal (exponent and sign of zero included)."""
    return format(value, "f") if value.as_tuple().exponent <= 0 else str(value)


def _fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


# ---- reading --------------------------------------------------------------------------------


def read_document(snapshot: bytes) -> dict:
    """The snapshot's document, decompressed and parsed; `SnapshotError` if it is not one."""
    if not isinstance(snapshot, (bytes, bytearray, memoryview)):
        raise SnapshotError(f"a snapshot is bytes; got {type(snapshot).__name__}")
    snapshot = bytes(snapshot)
    if not snapshot.startswith(MAGIC):
        known = snapshot.split(b"\n", 1)[0][:40]
        if known.startswith(b"backstop-snapshot/"):
            raise SnapshotError(
                f"this snapshot has format {known.decode('ascii', 'replace')}; this engine reads {FORMAT}: "
                "replay the event log to rebuild the state"
            )
        raise SnapshotError(f"not a backstop snapshot: it does not start with {FORMAT!r}")
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(snapshot[len(MAGIC):])
    except zlib.error as error:
        raise SnapshotError(f"the snapshot is damaged: {error}") from None
    if not inflater.eof:
        raise SnapshotError("the snapshot is damaged: it is cut short")
    if inflater.unused_data:
        raise SnapshotError(f"the snapshot is damaged: {len(inflater.unused_data)} bytes follow its end")
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise SnapshotError(f"the snapshot is damaged: {error}") from None
    if not isinstance(document, dict):
        raise SnapshotError("the snapshot is damaged: its document is not an object")
    return document


_TOP = {"format", "engine", "semantics", "agreements", "position", "ids", "rejections", "state"}


def check_header(document: dict, agreements: dict[str, AgreementReplay], *, engine_name: str,
                 engine_version: str, semantics: str) -> None:
    """Refuse a snapshot of another format, engine, semantics or set of documents, saying what differs."""
    reader = _Reader(document, "snapshot")
    written_format = reader.text("format")
    if written_format != FORMAT:
        raise SnapshotError(f"this snapshot has format {written_format!r}; this engine reads {FORMAT}")
    reader.fields(_TOP)
    engine = reader.mapping("engine", {"name", "version"})
    written_by = (engine.text("name"), engine.text("version"))
    if written_by != (engine_name, engine_version):
        raise SnapshotError(
            f"this snapshot was written by {written_by[0]} {written_by[1]}; this is {engine_name} {engine_version}: "
            "replay the event log to rebuild the state"
        )
    written_semantics = reader.text("semantics")
    if written_semantics != semantics:
        raise SnapshotError(f"this snapshot has semantics {written_semantics}; this engine has {semantics}")
    written = reader.mapping("agreements")
    given = set(agreements)
    if set(written.value) != given:
        missing, extra = sorted(set(written.value) - given), sorted(given - set(written.value))
        parts = []
        if missing:
            parts.append(f"agreements in the snapshot but not in the documents: {', '.join(missing)}")
        if extra:
            parts.append(f"agreements in the documents but not in the snapshot: {', '.join(extra)}")
        raise SnapshotError("the snapshot does not match the documents: " + "; ".join(parts))
    for agreement_id, replay in agreements.items():
        versions = written.mapping(agreement_id, {"versions", "head", "entries"}).mapping("versions")
        expected = {str(version.number): version.sha256 for version in replay.terms.versions}
        for number in sorted(set(versions.value) | set(expected), key=lambda number: (len(number), number)):
            was, now = versions.value.get(number), expected.get(number)
            if was != now:
                raise SnapshotError(
                    f"the snapshot does not match the documents: agreement {agreement_id} version {number} "
                    + (f"has sha256 {now} now but {was} in the snapshot" if was and now else
                       "is in the documents but not in the snapshot" if now else
                       "is in the snapshot but not in the documents")
                )


class _Inputs:
    """The snapshot's input columns as they are read back: ids and records, and how far the
    keys have taken them (each key takes the next ones, in the order they were written)."""

    __slots__ = ("reader", "names", "records", "taken", "segments")

    def __init__(self, reader: _Reader, names: list[str], records: list[bytes]) -> None:
        self.reader = reader
        self.names = names
        self.records = records
        self.taken = 0
        self.segments: list[tuple[int, int, bool, int, int]] = []  # (agreement, period, revenue, start, stop)

    def take(self, reader: _Reader, count: int, agreement: int, index: int, slot: str) -> list[str]:
        start, stop = self.taken, self.taken + count
        if stop > len(self.names):
            raise reader.error(f"takes inputs past the {len(self.names)} the snapshot lists")
        self.taken = stop
        self.segments.append((agreement, index, slot == REVENUE_KEY, start, stop))
        return self.names[start:stop]


def fill(engine, document: dict) -> None:
    """Give a new engine (of the same documents, checked by `check_header`) the snapshot's state,
    checking every field's type and range and that the parts agree with one another."""
    reader = _Reader(document, "snapshot")
    position = reader.mapping("position", {"lines", "last_line", "duplicates", "rejected"})
    engine.lines = position.count("lines")
    engine._last_line = position.integer("last_line")
    engine.duplicates = position.count("duplicates")
    engine.rejections = _rejections(reader.reader("rejections"))
    if len(engine.rejections) != position.count("rejected"):
        raise position.error("counts a different number of rejections than the snapshot lists")
    applied = engine.lines - engine.duplicates - len(engine.rejections)
    if applied < 0:
        raise position.error("counts more duplicates and rejections than lines")
    ids = reader.mapping("ids", {"inputs", "events"})
    inputs = _inputs(ids.mapping("inputs", {"ids", "sizes", "records"}))
    engine.ids.update(zip(inputs.names, inputs.records))
    _events(ids.reader("events"), engine)
    if len(engine.ids) != len(inputs.names) + len(ids.value["events"]):
        raise ids.error("lists an id twice")
    if len(engine.ids) > applied:
        raise ids.error(f"lists {len(engine.ids)} ids in use, more than the {applied} lines applied")
    state = reader.mapping("state", set(engine.agreements))
    heads = reader.mapping("agreements")
    for agreement_id, replay in engine.agreements.items():
        chain = heads.mapping(agreement_id)
        replay.chain.length = chain.count("entries")
        replay.chain.head = chain.optional_text("head")
        if (replay.chain.head is None) != (replay.chain.length == 0):
            raise chain.error("has a head without entries, or entries without a head")
        if replay.chain.head is not None and (len(replay.chain.head) != 64 or not _HEX.issuperset(replay.chain.head)):
            raise chain.error(f"has head {replay.chain.head!r}; expected 64 lowercase hex digits")
        sections = state.mapping(agreement_id, set(SECTIONS))
        for name, (_, read) in SECTIONS.items():
            read(replay, sections.reader(name), inputs, engine.ids)
    _check_input_records(inputs, engine)


def _rejections(reader: _Reader) -> list[Rejection]:
    rejections = []
    for item in reader.items():
        line, event_id, reason, code = item.tuple_of(4)
        code = Code(code._typed(str, "a rejection code of semantics §7", CODES.__contains__))
        rejections.append(Rejection(line.integer(), None if event_id.value is None else event_id.text(), reason.text(), code))
    return rejections


def _inputs(columns: _Reader) -> _Inputs:
    """The input columns, checked in bulk: a million inputs must not cost a million readers."""
    names = columns.value["ids"]
    sizes = columns.value["sizes"]
    if type(names) is not list or set(map(type, names)) - {str}:
        raise columns.reader("ids").error("is not a list of strings")
    if names and not 0 < min(map(len, names)) <= max(map(len, names)) <= ID_CHARS_MAX:
        raise columns.reader("ids").error(f"has an id that is empty or longer than {ID_CHARS_MAX} characters")
    if type(sizes) is not list or set(map(type, sizes)) - {int}:
        raise columns.reader("sizes").error("is not a list of integers")
    if len(sizes) != len(names):
        raise columns.error(f"has {len(names)} ids but {len(sizes)} sizes")
    if sizes and min(sizes) < INPUT_HEAD.size:
        raise columns.reader("sizes").error(f"has a size below {INPUT_HEAD.size}, the size of a record's head")
    blob = columns.reader("records").base64()
    if sum(sizes) != len(blob):
        raise columns.error(f"has records of {len(blob)} bytes, not the {sum(sizes)} its sizes add up to")
    ends = itertools.accumulate(sizes)
    return _Inputs(columns, names, [blob[end - size:end] for size, end in zip(sizes, ends)])


def _events(reader: _Reader, engine) -> None:
    ids = engine.ids
    for item in reader.items():
        event_id, fingerprint, line, agreement, lock_periods = item.tuple_of(5)
        event_id, agreement = _event_id(event_id), agreement.text()
        replay = engine.agreements.get(agreement)
        if replay is None:
            raise item.error(f"names agreement {agreement!r}, which is not in the documents")
        fingerprint = fingerprint.base64()
        if len(fingerprint) != FINGERPRINT_BYTES:
            raise item.error(f"has a fingerprint of {len(fingerprint)} bytes; expected {FINGERPRINT_BYTES}")
        last = len(replay.terms.periods) - 1
        ids[event_id] = IdRecord(fingerprint, line.integer(), agreement,
                                 tuple(period.count(maximum=last) for period in lock_periods.items()))


def _event_id(reader: _Reader) -> str:
    text = reader.text()
    if not 0 < len(text) <= ID_CHARS_MAX:
        raise reader.error(f"is not an id: ids have 1 to {ID_CHARS_MAX} characters")
    return text


def _read_periods(replay: AgreementReplay, reader: _Reader, inputs: _Inputs, ids: dict) -> None:
    fields = reader.fields({"closed", "locked_below", "restated"})
    replay.closed = fields.count("closed", maximum=len(replay.terms.periods))
    lock = replay.lock
    expected = -1 if lock is None or replay.closed == 0 else replay.closed - lock
    replay.locked_below = fields.integer("locked_below")
    if replay.locked_below != expected:
        raise fields.error(
            f"has locked_below {replay.locked_below}; with {replay.closed} periods closed and lock_after_periods "
            f"{lock} it is {expected}"
        )
    restated = [item.count(maximum=replay.closed - 1) for item in fields.items("restated")]
    if restated != sorted(set(restated)) or restated and restated[0] < replay.locked_below:
        raise fields.error("lists restated periods out of order, twice, or locked")
    replay.restated = set(restated)


def _read_inputs(replay: AgreementReplay, reader: _Reader, inputs: _Inputs, ids: dict) -> None:
    fields = reader.fields({"pools", "spans", "keys"})
    pools = [item.text() for item in fields.items("pools")]
    if pools[: len(replay.pool_names)] != replay.pool_names or len(set(pools)) != len(pools):
        raise fields.error("numbers the pools differently from the documents")
    for pool in pools[len(replay.pool_names):]:
        replay.pool_numbers[pool] = len(replay.pool_names)
        replay.pool_names.append(pool)
    open_from, last = max(replay.locked_below, 0), len(replay.terms.periods) - 1
    for item in fields.items("spans"):  # a plain line may have taught a locked period's span before it was refused
        index, spans = item.tuple_of(2)
        index = index.count(maximum=last)
        listed = spans.value
        if type(listed) is not list or not all(type(span) is list and len(span) == 2 and type(span[0]) is str
                                               and type(span[1]) is str for span in listed):
            raise spans.error("is not a list of spans, each [start, end]")
        listed = [(start, end) for start, end in listed]
        numbers = {span: number for number, span in enumerate(listed)}
        if index in replay.period_spans or len(numbers) != len(listed):
            raise item.error("lists a period, or a span of one, twice")
        replay.period_spans[index] = (numbers, listed)
    slots = set(replay.pool_names) | {REVENUE_KEY, TOP_UP_KEY}
    for item in fields.items("keys"):
        index, slot, state = item.tuple_of(3)
        index, slot = index.integer(minimum=open_from, maximum=last), slot.text()
        if slot not in slots:
            raise item.error(f"names pool {slot!r}, which the agreement does not have")
        period_keys = replay.keys.setdefault(index, {})
        if slot in period_keys:
            raise item.error("lists a key twice")
        state.fields({"available", "sold", "revenue", "inputs", "changes", "last_target", "first_entry", "adjustments"})
        if slot == TOP_UP_KEY and state.value["inputs"] != 0:
            raise state.reader("inputs").error("is not 0: a top-up key's inputs are its period's revenue key's")
        changes = state.optional_items("changes")
        key = period_keys[slot] = Key(
            available=state.decimal("available"), sold=state.decimal("sold"), revenue=state.decimal("revenue"),
            inputs=inputs.take(state, state.count("inputs"), replay.number, index, slot),
            changes=None if changes is None else dict(change.change() for change in changes),
            last_target=state.decimal("last_target"), first_entry=state.optional_text("first_entry"),
            adjustments=state.count("adjustments"),
        )
        if key.changes is not None and (len(key.changes) != len(changes) or not all(map(ids.__contains__, key.changes))):
            raise state.reader("changes").error("names an id twice, or one that is not in use")


def _read_caps(replay: AgreementReplay, reader: _Reader, inputs: _Inputs, ids: dict) -> None:
    caps = reader.fields({"lease_back", "revenue_top_up"})
    lease_back, top_up = caps.mapping("lease_back", {"entitled", "issued"}), caps.mapping("revenue_top_up", {"entitled", "issued"})
    replay.entitled, replay.issued = lease_back.decimal("entitled"), lease_back.decimal("issued")
    replay.top_up_entitled, replay.top_up_issued = top_up.decimal("entitled"), top_up.decimal("issued")


def _read_books(replay: AgreementReplay, reader: _Reader, inputs: _Inputs, ids: dict) -> None:
    books = {}
    for item in reader.items():
        debtor, creditor, book = item.tuple_of(3)
        direction = (debtor.text(), creditor.text())
        if direction not in replay.books or direction in books:
            raise item.error(f"names direction {direction[0]} → {direction[1]}, which the agreement does not have "
                             "or which is listed twice")
        books[direction] = _book(book, replay.chain.length)
    if len(books) != len(replay.books):
        raise reader.error("does not list a book for every direction of the agreement")
    replay.books = {direction: books[direction] for direction in replay.books}


def _book(fields: _Reader, entries: int) -> Book:
    fields.fields({"open", "queue", "outstanding", "unapplied"})
    book = Book()
    for item in fields.items("open"):
        entry_id, seq, due, kind, outstanding = item.tuple_of(5)
        obligation = Obligation(entry_id.text(), seq.integer(minimum=1, maximum=entries), due.date(), kind.text(),
                                outstanding.decimal())
        if obligation.kind not in OBLIGATION_KINDS or obligation.outstanding <= 0 or obligation.entry_id in book.open:
            raise item.error("is not an open obligation: its kind is not one, nothing is outstanding, or it is listed twice")
        book.open[obligation.entry_id] = obligation
    for item in fields.items("queue"):
        due, seq, entry_id = item.tuple_of(3)
        book.queue.append((due.date(), seq.integer(minimum=1, maximum=entries), entry_id.text()))
    book.outstanding = fields.decimal("outstanding")
    book.unapplied = fields.decimal("unapplied")
    if sum((o.outstanding for o in book.open.values()), Decimal(0)) != book.outstanding:
        raise fields.error("has an outstanding balance that is not the sum of its open obligations")
    if book.unapplied < 0:
        raise fields.error("has a negative unapplied credit")
    queued = {entry_id: (due, seq) for due, seq, entry_id in book.queue}
    if len(queued) != len(book.queue) or any(queued.get(o.entry_id) != (o.due, o.seq) for o in book.open.values()):
        raise fields.error("has a queue that does not list each open obligation once, by its due date and seq")
    if any(book.queue[(place - 1) // 2] > book.queue[place] for place in range(1, len(book.queue))):
        raise fields.error("has a queue out of heap order")
    return book


def _read_totals(replay: AgreementReplay, reader: _Reader, inputs: _Inputs, ids: dict) -> None:
    totals = {}
    for kind, value in reader.mapping_entries():
        if kind not in TOTAL_KINDS:
            raise value.error(f"is a total of {kind!r}, which is no kind of entry")
        totals[kind] = value.whole() if kind in SHARE_KINDS else value.decimal()
    replay.totals = totals


def _read_warrants(replay: AgreementReplay, reader: _Reader, inputs: _Inputs, ids: dict) -> None:
    warrants = replay.warrants
    if (reader.value is None) != (warrants is None):
        raise reader.error("is warrant state for an agreement without warrants, or none for one with them")
    if warrants is None:
        return
    fields = reader.fields({"tranches", "observations", "factor"})
    tranches = {}
    for item in fields.items("tranches"):
        tranche_id, vested, remaining = item.tuple_of(3)
        tranche_id = tranche_id.text()
        if tranche_id not in warrants.tranches or tranche_id in tranches:
            raise item.error(f"names tranche {tranche_id!r}, which the agreement does not have or which is listed twice")
        remaining = remaining.whole()
        if remaining < 0:
            raise item.error("has fewer than no shares remaining")
        tranches[tranche_id] = TrancheState(vested.boolean(), remaining)
    if len(tranches) != len(warrants.tranches):
        raise fields.error("does not list every tranche of the agreement")
    warrants.tranches = {tranche_id: tranches[tranche_id] for tranche_id in warrants.tranches}
    for item in fields.items("observations"):
        day, price, volume, factor = item.tuple_of(4)
        observation = Observation(day.date(), price.decimal(), volume.decimal(), factor.fraction())
        if observation.price <= 0 or observation.volume <= 0:
            raise item.error("has a price or volume that is not positive")
        if warrants.observation_dates and observation.date <= warrants.observation_dates[-1]:
            raise item.error("is not dated after the observation before it")
        warrants.observations.append(observation)
        warrants.observation_dates.append(observation.date)
    warrants.factor = fields.reader("factor").fraction()


def _read_guarantee(replay: AgreementReplay, reader: _Reader, inputs: _Inputs, ids: dict) -> None:
    guarantee = replay.guarantee
    if (reader.value is None) != (guarantee is None):
        raise reader.error("is guarantee state for an agreement without a guarantee, or none for one with it")
    if guarantee is None:
        return
    fields = reader.fields({"debt_service", "called", "called_total"})
    for item in fields.items("debt_service"):
        entry_id, period, due = item.tuple_of(3)
        entry_id, period = entry_id.text(), period.text()
        if period not in replay.terms.period_by_id or entry_id in guarantee.debt_service:
            raise item.error(f"names period {period!r}, which is not of the term, or a debt service listed twice")
        guarantee.debt_service[entry_id] = DebtService(period, due.date())
    for item in fields.items("called"):
        entry_id, event_id = item.tuple_of(2)
        entry_id, event_id = entry_id.text(), _event_id(event_id)
        if entry_id not in guarantee.debt_service or entry_id in guarantee.called or event_id not in ids:
            raise item.error(f"calls {entry_id!r}, which is no debt service the snapshot lists, or twice, "
                             "or by an event whose id is not in use")
        guarantee.called[entry_id] = event_id
    guarantee.called_total = fields.decimal("called_total")
    if guarantee.called_total < 0:
        raise fields.error("has a negative sum of calls")


#: The sections of an agreement's state, written and read in this order (a section may rely
#: on those before it: keys are checked against the periods' locks, books against the chain).
#: A new kind of state is a new section (or a new field of one) and a new `FORMAT`.
SECTIONS: dict[str, tuple[Callable, Callable]] = {
    "periods": (_write_periods, _read_periods),
    "inputs": (_write_inputs, _read_inputs),
    "caps": (_write_caps, _read_caps),
    "books": (_write_books, _read_books),
    "totals": (_write_totals, _read_totals),
    "warrants": (_write_warrants, _read_warrants),
    "guarantee": (_write_guarantee, _read_guarantee),
}


def _check_input_records(inputs: _Inputs, engine) -> None:
    """Every input record names a log order among the lines fed, an agreement, periods, a pool
    and, for a plain line, a span that exist; one a key lists is of that key's agreement, kind
    and period. The records' heads are read as columns (`_head_columns`), so that checking a
    million of them costs a few passes in C rather than a million steps of Python."""
    records, reader = inputs.records, inputs.reader
    if not records:
        return
    heads = _head_columns(records, ("order", "first", "period", "latest", "agreement", "pool", "flags", "span"))
    orders, firsts, periods, latest, agreements, pools, flags, spans = heads.values()
    if not (0 < min(orders) and max(orders) <= engine.lines and min(firsts) >= 0 and min(periods) >= NO_PERIOD
            and all(map(operator.le, firsts, latest)) and all(map(operator.le, periods, latest))
            and set(flags) <= {PLAIN_FLAGS, UTILIZATION_FLAGS, REVENUE_FLAGS}):
        raise reader.error("has a record whose log order, periods or kind cannot be")
    replays = list(engine.agreements.values())
    for agreement, index, revenue, start, stop in inputs.segments:
        if start == stop:
            continue
        replay, count = replays[agreement], stop - start
        flagged = flags[start:stop]
        plain = flagged.count(PLAIN_FLAGS)
        kinds_ok = flagged.count(REVENUE_FLAGS) == count if revenue else plain + flagged.count(UTILIZATION_FLAGS) == count
        known_spans = len(replay.period_spans.get(index, ((), ()))[1]) if plain else 1
        if (agreements[start:stop].count(agreement) != count or firsts[start:stop].count(index) != count or not kinds_ok
                or max(latest[start:stop]) >= len(replay.terms.periods)
                or max(pools[start:stop]) >= (1 if revenue else len(replay.pool_names))  # revenue names pool 0
                or max(spans[start:stop]) >= known_spans):
            raise reader.error(
                f"has records listed by the key of agreement {replay.terms.id} period {index} that are not its "
                "inputs, or name a pool or span that does not exist"
            )
    for place in range(inputs.taken, len(records)):  # the few no key lists: corrected away from a locked period
        if agreements[place] >= len(replays):
            raise reader.error(f"has record {place} of agreement number {agreements[place]}, which does not exist")
        replay = replays[agreements[place]]
        pools_max = 1 if flags[place] == REVENUE_FLAGS else len(replay.pool_names)
        if latest[place] >= len(replay.terms.periods) or pools[place] >= pools_max or flags[place] == PLAIN_FLAGS:
            raise reader.error(f"has record {place}, which names a period or pool that does not exist, or is not "
                               "fingerprinted though it was corrected")


_HEAD_FIELDS = ("order", "line", "first", "period", "latest", "agreement", "pool", "flags", "span")  # INPUT_HEAD's


def _head_columns(records: list[bytes], names: tuple[str, ...]) -> dict[str, array.array]:
    """The fields `names` of the records' heads, each as a column of integers.

    The heads are joined into one buffer of fixed stride, and each byte of a field is cut out
    of it with one strided slice and laid into its column's buffer with another: all in C, and
    no tuple per record (a million tuples cost more in the garbage collector than to build).
    """
    size = INPUT_HEAD.size
    joined = b"".join(map(operator.itemgetter(slice(0, size)), records))
    columns, offset = {}, 0
    for name, code in zip(_HEAD_FIELDS, INPUT_HEAD.format.lstrip("<")):
        width = struct.calcsize("<" + code)
        if name in names:
            packed = bytearray(width * len(records))
            for byte in range(width):
                packed[byte::width] = joined[offset + byte::size]
            column = array.array(code)  # struct's codes of the head are array's too, of the same sizes in C
            if column.itemsize != width:
                raise RuntimeError(f"array code {code!r} holds {column.itemsize} bytes here, not {width}")
            column.frombytes(packed)
            if sys.byteorder == "big":
                column.byteswap()
            columns[name] = column
        offset += width
    return {name: columns[name] for name in names}


class _Reader:
    """A value of the snapshot's document at a path, with checked accessors: every wrong type
    or range is a `SnapshotError` naming the path."""

    __slots__ = ("value", "path")

    def __init__(self, value: Any, path: str) -> None:
        self.value = value
        self.path = path

    def error(self, message: str) -> SnapshotError:
        return SnapshotError(f"the snapshot is damaged: {self.path} {message}")

    def reader(self, name: str) -> _Reader:
        if not isinstance(self.value, dict) or name not in self.value:
            raise self.error(f"has no field {name!r}")
        return _Reader(self.value[name], f"{self.path}.{name}")

    def _typed(self, kind: type, what: str, check: Callable[[Any], bool] = lambda value: True):
        value = self.value
        if type(value) is not kind or not check(value):
            raise self.error(f"is {value!r}; expected {what}")
        return value

    def fields(self, names: set[str]) -> _Reader:
        """This value, an object with exactly the fields `names`."""
        self._typed(dict, "an object")
        if set(self.value) != names:
            unknown = ", ".join(repr(name) for name in sorted(set(self.value) - names))
            missing = ", ".join(repr(name) for name in sorted(names - set(self.value)))
            parts = (unknown and f"fields it should not have: {unknown}", missing and f"no field {missing}")
            raise self.error("has " + "; ".join(part for part in parts if part))
        return self

    def mapping(self, name: str, names: set[str] | None = None) -> _Reader:
        """The object `name`, with exactly the fields `names` when they are given."""
        reader = self.reader(name)
        if names is None:
            reader._typed(dict, "an object")
            return reader
        return reader.fields(names)

    def mapping_entries(self) -> list[tuple[str, _Reader]]:
        self._typed(dict, "an object")
        return [(key, _Reader(value, f"{self.path}.{key}")) for key, value in self.value.items()]

    def items(self, name: str | None = None) -> list[_Reader]:
        reader = self if name is None else self.reader(name)
        reader._typed(list, "a list")
        return [_Reader(value, f"{reader.path}[{index}]") for index, value in enumerate(reader.value)]

    def optional_items(self, name: str) -> list[_Reader] | None:
        return None if self.reader(name).value is None else self.items(name)

    def text(self, name: str | None = None) -> str:
        return (self if name is None else self.reader(name))._typed(str, "a string")

    def optional_text(self, name: str) -> str | None:
        reader = self.reader(name)
        return None if reader.value is None else reader.text()

    def boolean(self) -> bool:
        return self._typed(bool, "true or false")

    def integer(self, name: str | None = None, *, minimum: int | None = None, maximum: int | None = None) -> int:
        reader = self if name is None else self.reader(name)
        what = "an integer" + ("" if minimum is None else f" from {minimum}") + ("" if maximum is None else f" to {maximum}")
        return reader._typed(int, what, lambda value: (minimum is None or value >= minimum)
                             and (maximum is None or value <= maximum))

    def count(self, name: str | None = None, *, maximum: int | None = None) -> int:
        return self.integer(name, minimum=0, maximum=maximum)

    def whole(self) -> int:
        """A whole number written as text (share counts may pass 64 bits), either sign."""
        text = self.text()
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or str(value) != text:
            raise self.error(f"is {text!r}; expected a whole number written plainly, like 1000")
        return value

    def decimal(self, name: str | None = None) -> Decimal:
        reader = self if name is None else self.reader(name)
        text = reader.text()
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or _decimal_text(value) != text:
            raise reader.error(f"is {text!r}; expected a finite decimal written plainly, like 12.50")
        return value

    def fraction(self) -> Fraction:
        text = self.text()
        numerator, _, denominator = text.partition("/")
        try:
            value = Fraction(int(numerator), int(denominator))
        except (ValueError, ZeroDivisionError):
            value = None
        if value is None or value <= 0 or _fraction_text(value) != text:
            raise self.error(f"is {text!r}; expected a positive fraction in lowest terms, like 3/2")
        return value

    def date(self) -> date:
        text = self.text()
        try:
            value = date.fromisoformat(text)
        except ValueError:
            value = None
        if value is None or value.isoformat() != text:
            raise self.error(f"is {text!r}; expected a date like 2026-01-31")
        return value

    def base64(self) -> bytes:
        try:
            return base64.b64decode(self.text(), validate=True)
        except binascii.Error:
            raise self.error("is not base64") from None

    def tuple_of(self, size: int) -> list[_Reader]:
        items = self.items()
        if len(items) != size:
            raise self.error(f"has {len(items)} members; expected {size}")
        return items

    def change(self) -> tuple[str, int | None]:
        """A key's change: an id and the log order it now counts with, or null once it no longer counts."""
        event_id, order = self.tuple_of(2)
        return _event_id(event_id), None if order.value is None else order.integer(minimum=1)
