"""Snapshots: the engine's state as explicit, versioned data, safe to store and read back.

A snapshot lets a settlement system (or a store, `engine.stores`) stop an engine and go on
later without replaying the past. It is data, never code: the bytes are

    b"backstop-snapshot/2\\n" + zlib(canonical JSON document)

and reading them back runs no constructor named by the input and trusts nothing: every field
is checked for its type and range, and the document must match the engine version, the
semantics and every agreement version (by SHA-256) that the reader is given.

The document has a header, which says what the state belongs to, and a body, the state:

- `format`, `engine` ({name, version}), `semantics`;
- `agreements`: per agreement, `versions` ({number: sha256}), `head` and `entries` of its
  hash chain;
- `position`: `lines` (non-blank lines fed, also the log order of the last), `last_line`
  (the caller's number of the last line), `duplicates`, `rejected`;
- `ids`: every id in use, in the order it came into use: `[id, "input", base64]` for an
  applied utilization or revenue event (its record in the engine's packed form, see
  `engine.replay.inputs`: this is why a snapshot is read only by the engine version that
  wrote it) or `[id, "event", {fingerprint, line, agreement, lock_periods}]`;
- `rejections`: `[line, id, reason, code]` for each rejected line (a code of semantics §7);
- `state`: per agreement, what can still change: `closed`, `locked_below`, `keys` (per
  period and pool: the sums, the inputs in force and corrections, the last issued target),
  `pools` (their numbering), `spans` (per period, the spans plain records name), `restated`,
  `entitled` and `issued` (the cap's sums), `top_up_entitled` and `top_up_issued` (the top-up
  cap's, v2), `books` (per direction: open obligations, the queue in heap order, outstanding,
  unapplied credit), `totals`, `warrants`, `guarantee` (v2: the debt service issued, the
  obligations called and by which event, the sum of the calls).

Caches that the engine learns again (spans by start, pool capacities) are not stored. A
new kind of state is a new format version: `FORMAT` changes, and older snapshots are refused
with a message that says to replay the log (or, for a store, that the store rebuilds them).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Callable

import orjson

from engine.replay.agreement import AgreementReplay
from engine.replay.guarantee import DebtService
from engine.replay.inputs import IdRecord, Key, input_agreement
from engine.replay.rejected import Rejection
from engine.replay.settlement import Book, Obligation
from engine.replay.warrants import Observation, TrancheState
from engine.rejection_codes import CODES, Code

FORMAT = "backstop-snapshot/2"
MAGIC = FORMAT.encode("ascii") + b"\n"
DECOMPRESSED_BYTES_MAX = 16 << 30  # far above any real engine; a bound on what a reader inflates


class SnapshotError(ValueError):
    """A snapshot that cannot be restored: not a snapshot, damaged, of another format, engine
    or semantics, or of other documents. The message says what differs."""


# ---- writing --------------------------------------------------------------------------------


def snapshot_bytes(engine, *, engine_name: str, engine_version: str, semantics: str) -> bytes:
    """The engine's state as snapshot bytes (the same state always gives the same bytes)."""
    if engine._issued:
        raise RuntimeError("a snapshot is taken between lines, when every issued entry was handed out")
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
        "ids": [_id_entry(event_id, record) for event_id, record in engine.ids.items()],
        "rejections": [[r.line, r.id, r.reason, r.code] for r in engine.rejections],
        "state": {agreement_id: _agreement_state(replay) for agreement_id, replay in engine.agreements.items()},
    }
    return MAGIC + zlib.compress(orjson.dumps(document, option=orjson.OPT_SORT_KEYS), 6)


def _id_entry(event_id: str, record) -> list:
    if type(record) is bytes:
        return [event_id, "input", base64.b64encode(record).decode("ascii")]
    return [event_id, "event", {
        "fingerprint": base64.b64encode(record.fingerprint).decode("ascii"), "line": record.line,
        "agreement": record.agreement, "lock_periods": list(record.lock_periods),
    }]


def _agreement_state(replay: AgreementReplay) -> dict:
    return {
        "closed": replay.closed,
        "locked_below": replay.locked_below,
        "keys": [
            [index, pool, _key_state(key)]
            for index, period_keys in replay.keys.items() for pool, key in period_keys.items()
        ],
        "pools": list(replay.pool_names),
        "spans": [[index, [list(span) for span in spans]] for index, (_, spans) in replay.period_spans.items()],
        "restated": sorted(replay.restated),
        "entitled": _decimal_text(replay.entitled),
        "issued": _decimal_text(replay.issued),
        "top_up_entitled": _decimal_text(replay.top_up_entitled),
        "top_up_issued": _decimal_text(replay.top_up_issued),
        "books": [[debtor, creditor, _book_state(book)] for (debtor, creditor), book in replay.books.items()],
        "totals": {kind: total if type(total) is int else _decimal_text(total) for kind, total in replay.totals.items()},
        "warrants": None if replay.warrants is None else _warrant_state(replay.warrants),
        "guarantee": None if replay.guarantee is None else _guarantee_state(replay.guarantee),
    }


def _guarantee_state(guarantee) -> dict:
    return {
        "debt_service": [[entry_id, d.period, d.due.isoformat()] for entry_id, d in guarantee.debt_service.items()],
        "called": [[entry_id, event_id] for entry_id, event_id in guarantee.called.items()],
        "called_total": _decimal_text(guarantee.called_total),
    }


def _key_state(key: Key) -> dict:
    return {
        "available": _decimal_text(key.available), "sold": _decimal_text(key.sold),
        "revenue": _decimal_text(key.revenue), "inputs": list(key.inputs),
        "changes": None if key.changes is None else [[event_id, order] for event_id, order in key.changes.items()],
        "last_target": _decimal_text(key.last_target), "first_entry": key.first_entry,
        "adjustments": key.adjustments,
    }


def _book_state(book: Book) -> dict:
    return {
        "open": [
            [o.entry_id, o.seq, o.due.isoformat(), o.kind, _decimal_text(o.outstanding)] for o in book.open.values()
        ],
        "queue": [[due.isoformat(), seq, entry_id] for due, seq, entry_id in book.queue],
        "outstanding": _decimal_text(book.outstanding),
        "unapplied": _decimal_text(book.unapplied),
    }


def _warrant_state(warrants) -> dict:
    return {
        "tranches": [[tranche_id, state.vested, state.remaining] for tranche_id, state in warrants.tranches.items()],
        "observations": [
            [o.date.isoformat(), _decimal_text(o.price), _decimal_text(o.volume), _fraction_text(o.factor)]
            for o in warrants.observations
        ],
        "factor": _fraction_text(warrants.factor),
    }


def _decimal_text(value: Decimal) -> str:
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
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(snapshot[len(MAGIC):], DECOMPRESSED_BYTES_MAX)
        if inflater.unconsumed_tail or not inflater.eof:
            raise SnapshotError("the snapshot is cut short or too large")
        document = orjson.loads(text)
    except (zlib.error, orjson.JSONDecodeError) as error:
        raise SnapshotError(f"the snapshot is damaged: {error}") from None
    if not isinstance(document, dict):
        raise SnapshotError("the snapshot is damaged: its document is not an object")
    return document


def check_header(document: dict, agreements: dict[str, AgreementReplay], *, engine_name: str,
                 engine_version: str, semantics: str) -> None:
    """Refuse a snapshot of another engine, semantics or set of documents, saying what differs."""
    reader = _Reader(document, "snapshot")
    if reader.text("format") != FORMAT:
        raise SnapshotError(f"this snapshot has format {document['format']!r}; this engine reads {FORMAT}")
    engine = reader.mapping("engine")
    written_by = (engine.text("name"), engine.text("version"))
    if written_by != (engine_name, engine_version):
        raise SnapshotError(
            f"this snapshot was written by {written_by[0]} {written_by[1]}; this is {engine_name} {engine_version}: "
            "replay the event log to rebuild the state"
        )
    if reader.text("semantics") != semantics:
        raise SnapshotError(f"this snapshot has semantics {document['semantics']}; this engine has {semantics}")
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
        versions = written.mapping(agreement_id).mapping("versions")
        expected = {str(version.number): version.sha256 for version in replay.terms.versions}
        for number in sorted(set(versions.value) | set(expected), key=int):
            was, now = versions.value.get(number), expected.get(number)
            if was != now:
                raise SnapshotError(
                    f"the snapshot does not match the documents: agreement {agreement_id} version {number} "
                    + (f"has sha256 {now} now but {was} in the snapshot" if was and now else
                       "is in the documents but not in the snapshot" if now else
                       "is in the snapshot but not in the documents")
                )


def fill(engine, document: dict) -> None:
    """Give a new engine (of the same documents, checked by `check_header`) the snapshot's state."""
    reader = _Reader(document, "snapshot")
    position = reader.mapping("position")
    engine.lines = position.count("lines")
    engine._last_line = position.count("last_line")
    engine.duplicates = position.count("duplicates")
    numbers = {replay.number for replay in engine.agreements.values()}
    ids = engine.ids
    for item in reader.items("ids"):
        event_id, kind, value = item.tuple_of(3)
        event_id, kind = event_id.text(), kind.text()
        if event_id in ids:
            raise item.error(f"id {event_id!r} is listed twice")
        if kind == "input":
            record = value.base64()
            if len(record) < 40 or input_agreement(record) not in numbers:
                raise value.error("is not an input record of these agreements")
            ids[event_id] = record
        elif kind == "event":
            agreement = value.text("agreement")
            if agreement not in engine.agreements:
                raise value.error(f"names agreement {agreement!r}, which is not in the documents")
            ids[event_id] = IdRecord(
                value.base64_field("fingerprint"), value.count("line"), agreement,
                tuple(period.count() for period in value.items("lock_periods")),
            )
        else:
            raise item.error(f"has kind {kind!r}; expected 'input' or 'event'")
    rejections = [item.rejection() for item in reader.items("rejections")]
    if len(rejections) != position.count("rejected"):
        raise position.error("counts a different number of rejections than the snapshot lists")
    engine.rejections = [Rejection(*rejection) for rejection in rejections]
    if engine.lines < engine.duplicates + len(engine.rejections):
        raise position.error("counts more duplicates and rejections than lines")
    state = reader.mapping("state")
    heads = reader.mapping("agreements")
    for agreement_id, replay in engine.agreements.items():
        _fill_agreement(replay, state.mapping(agreement_id))
        chain = heads.mapping(agreement_id)
        replay.chain.length = chain.count("entries")
        replay.chain.head = chain.optional_text("head")
        if (replay.chain.head is None) != (replay.chain.length == 0):
            raise chain.error("has a head without entries, or entries without a head")


def _fill_agreement(replay: AgreementReplay, state: _Reader) -> None:
    periods = len(replay.terms.periods)
    replay.closed = state.count("closed", maximum=periods)
    replay.locked_below = state.integer("locked_below", minimum=-periods - 1, maximum=periods)
    pools = [item.text() for item in state.items("pools")]
    if pools[: len(replay.pool_names)] != replay.pool_names:
        raise state.error("numbers the pools differently from the documents")
    for pool in pools[len(replay.pool_names):]:
        replay.pool_numbers[pool] = len(replay.pool_names)
        replay.pool_names.append(pool)
    for item in state.items("keys"):
        index, pool, fields = item.tuple_of(3)
        index = index.count(maximum=periods - 1)
        replay.keys.setdefault(index, {})[pool.text()] = _key(fields)
    for item in state.items("spans"):
        index, spans = item.tuple_of(2)
        index = index.count(maximum=periods - 1)
        listed = [tuple(span.text_pair()) for span in spans.items()]
        replay.period_spans[index] = ({span: number for number, span in enumerate(listed)}, listed)
    replay.restated = {item.count(maximum=periods - 1) for item in state.items("restated")}
    replay.entitled = state.decimal("entitled")
    replay.issued = state.decimal("issued")
    replay.top_up_entitled = state.decimal("top_up_entitled")
    replay.top_up_issued = state.decimal("top_up_issued")
    books = {}
    for item in state.items("books"):
        debtor, creditor, book = item.tuple_of(3)
        debtor, creditor = debtor.text(), creditor.text()
        if (debtor, creditor) not in replay.books:
            raise item.error(f"names direction {debtor} → {creditor}, which the agreement does not have")
        books[(debtor, creditor)] = _book(book)
    if set(books) != set(replay.books):
        raise state.error("does not list a book for every direction of the agreement")
    replay.books = {direction: books[direction] for direction in replay.books}
    replay.totals = {
        kind: value.whole() if kind in ("warrant_vested", "split_adjustment", "share_delivery") else value.decimal()
        for kind, value in state.mapping("totals").entries()
    }
    warrants = state.optional_mapping("warrants")
    if (warrants is None) != (replay.warrants is None):
        raise state.error("has warrant state for an agreement without warrants, or none for one with them")
    if warrants is not None:
        _fill_warrants(replay.warrants, warrants)
    guarantee = state.optional_mapping("guarantee")
    if (guarantee is None) != (replay.guarantee is None):
        raise state.error("has guarantee state for an agreement without a guarantee, or none for one with it")
    if guarantee is not None:
        _fill_guarantee(replay.guarantee, guarantee)


def _fill_guarantee(guarantee, fields: _Reader) -> None:
    for item in fields.items("debt_service"):
        entry_id, period, due = item.tuple_of(3)
        guarantee.debt_service[entry_id.text()] = DebtService(period.text(), due.date())
    for item in fields.items("called"):
        entry_id, event_id = item.text_pair()
        if entry_id not in guarantee.debt_service:
            raise item.error(f"names {entry_id!r} as called, which is no debt service the snapshot lists")
        guarantee.called[entry_id] = event_id
    guarantee.called_total = fields.decimal("called_total")


def _key(fields: _Reader) -> Key:
    changes = fields.optional_items("changes")
    return Key(
        available=fields.decimal("available"), sold=fields.decimal("sold"), revenue=fields.decimal("revenue"),
        inputs=[item.text() for item in fields.items("inputs")],
        changes=None if changes is None else {
            event_id: (None if order is None else order) for event_id, order in (item.id_and_order() for item in changes)
        },
        last_target=fields.decimal("last_target"), first_entry=fields.optional_text("first_entry"),
        adjustments=fields.count("adjustments"),
    )


def _book(fields: _Reader) -> Book:
    book = Book()
    for item in fields.items("open"):
        entry_id, seq, due, kind, outstanding = item.tuple_of(5)
        book.open[entry_id.text()] = Obligation(entry_id.text(), seq.count(), due.date(), kind.text(), outstanding.decimal())
    for item in fields.items("queue"):
        due, seq, entry_id = item.tuple_of(3)
        book.queue.append((due.date(), seq.count(), entry_id.text()))
    book.outstanding = fields.decimal("outstanding")
    book.unapplied = fields.decimal("unapplied")
    if sum((o.outstanding for o in book.open.values()), Decimal(0)) != book.outstanding:
        raise fields.error("has an outstanding balance that is not the sum of its open obligations")
    if any(entry_id not in {e for _, _, e in book.queue} for entry_id in book.open):
        raise fields.error("has an open obligation missing from its queue")
    return book


def _fill_warrants(warrants, fields: _Reader) -> None:
    tranches = {}
    for item in fields.items("tranches"):
        tranche_id, vested, remaining = item.tuple_of(3)
        tranche_id = tranche_id.text()
        if tranche_id not in warrants.tranches:
            raise item.error(f"names tranche {tranche_id!r}, which the agreement does not have")
        tranches[tranche_id] = TrancheState(vested._typed(bool, "true or false"), remaining.count())
    if set(tranches) != set(warrants.tranches):
        raise fields.error("does not list every tranche of the agreement")
    warrants.tranches = {tranche_id: tranches[tranche_id] for tranche_id in warrants.tranches}
    for item in fields.items("observations"):
        day, price, volume, factor = item.tuple_of(4)
        warrants.observations.append(Observation(day.date(), price.decimal(), volume.decimal(), factor.fraction()))
        warrants.observation_dates.append(warrants.observations[-1].date)
    warrants.factor = fields.reader("factor").fraction()


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

    def _typed(self, kind: type | tuple, what: str, check: Callable[[Any], bool] = lambda value: True):
        value = self.value
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool or not check(value):
            raise self.error(f"is {value!r}; expected {what}")
        return value

    def mapping(self, name: str) -> _Reader:
        reader = self.reader(name)
        reader._typed(dict, "an object")
        return reader

    def optional_mapping(self, name: str) -> _Reader | None:
        reader = self.reader(name)
        return None if reader.value is None else self.mapping(name)

    def entries(self):
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

    def integer(self, name: str | None = None, *, minimum: int, maximum: int | None = None) -> int:
        reader = self if name is None else self.reader(name)
        return reader._typed(int, f"an integer from {minimum}" + ("" if maximum is None else f" to {maximum}"),
                             lambda value: value >= minimum and (maximum is None or value <= maximum))

    def whole(self) -> int:
        """An integer of either sign (a share total: split adjustments may be negative)."""
        return self._typed(int, "an integer")

    def count(self, name: str | None = None, *, maximum: int | None = None) -> int:
        return self.integer(name, minimum=0, maximum=maximum)

    def decimal(self, name: str | None = None) -> Decimal:
        text = (self if name is None else self.reader(name)).text()
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise self.error(f"has {text!r} where a decimal is due") from None
        if not value.is_finite():
            raise self.error(f"has {text!r} where a finite decimal is due")
        return value

    def fraction(self) -> Fraction:
        text = self.text()
        numerator, _, denominator = text.partition("/")
        try:
            value = Fraction(int(numerator), int(denominator))
        except (ValueError, ZeroDivisionError):
            raise self.error(f"is {text!r}; expected a fraction like 3/2") from None
        if value <= 0:
            raise self.error(f"is {text!r}; expected a positive fraction")
        return value

    def date(self) -> date:
        text = self.text()
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise self.error(f"has {text!r} where a date is due") from None

    def base64(self) -> bytes:
        try:
            return base64.b64decode(self.text(), validate=True)
        except binascii.Error:
            raise self.error("is not base64") from None

    def base64_field(self, name: str) -> bytes:
        return self.reader(name).base64()

    def tuple_of(self, size: int) -> list[_Reader]:
        items = self.items()
        if len(items) != size:
            raise self.error(f"has {len(items)} members; expected {size}")
        return items

    def text_pair(self) -> tuple[str, str]:
        first, second = self.tuple_of(2)
        return first.text(), second.text()

    def id_and_order(self) -> tuple[str, int | None]:
        event_id, order = self.tuple_of(2)
        return event_id.text(), None if order.value is None else order.count()

    def rejection(self) -> tuple:
        line, event_id, reason, code = self.tuple_of(4)
        return (line.count(), None if event_id.value is None else event_id.text(), reason.text(),
                Code(code._typed(str, "a rejection code of semantics §7", lambda value: value in CODES)))
