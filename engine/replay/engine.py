"""The replay: lines in, entries out, every line accounted for (SPEC §5, §7).

`Engine` is the embeddable entry point. Feed it JSON Lines one at a time (or a whole
stream); each line is applied, ignored as a duplicate, or rejected with a reason, and the
entries it issues are returned at once. Agreements replay independently; ids are shared.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import BinaryIO, Callable, Iterable, Iterator, Mapping, NamedTuple

from engine.replay import snapshot as snapshots
from engine.replay.agreement import AgreementReplay
from engine.rejection_codes import Code
from engine.replay.rejected import Rejected, Rejection
from engine.documents.loader import load_agreements, load_agreements_from_mappings
from engine.events import model as ev
from engine.events.reader import LongLines, iter_lines, parse_line, read_plain_utilization
from engine.replay.inputs import IdRecord, unpack_input
from engine.replay.lane import COMPILED, EngineLane
from engine.ledger.chain import IssuedEntry
from engine.replay.terms import AgreementTerms

ENGINE_NAME = "backstop"
SEMANTICS = "backstop/v2"
_PROGRESS_MASK = 2**14 - 1  # feed_log reports progress every 16,384 lines


def _json_text(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot send a {type(value).__name__} in an event; use str, int, Decimal or date")


class LineOutcome(NamedTuple):
    """What became of one non-blank line."""

    line: int
    id: str | None
    status: str  # "applied" | "duplicate" | "rejected"
    reason: str | None
    raw: bytes
    entries: tuple[IssuedEntry, ...]
    code: Code | None = None  # a rejected line's rejection code (semantics §7); None otherwise


class RejectedLine(Exception):
    """Raised by `feed_line(..., strict=True)` for a line that was rejected; the message is the reason."""

    def __init__(self, outcome: LineOutcome) -> None:
        super().__init__(
            f"line {outcome.line}" + (f" ({outcome.id})" if outcome.id else "") + f" [{outcome.code}]: {outcome.reason}"
        )
        self.outcome = outcome
        self.code = outcome.code  # the rejection code (semantics §7), to route on


class InternalError(Exception):
    """Something unexpected went wrong while a line was applied: a bug, never the input's fault.

    The line's changes were rolled back: the engine is as it was before the line, and the
    message names the line. `line` is None for `close_through`.
    """

    def __init__(self, line: int | None, error: BaseException, where: str | None = None) -> None:
        place = f"line {line}" if line is not None else where
        super().__init__(f"internal error at {place}: {type(error).__name__}: {error}; please report it")
        self.line = line
        self.error = error


class _CompiledLane:
    """`Engine._plain` where the compiled lane is built: `engine.replay._lane.plain` handed the
    engine and the Python method that decides the lines it leaves (an engine's own `_plain`,
    as tests set, still comes first)."""

    def __get__(self, engine: Engine | None, owner: type | None = None):
        return self if engine is None else partial(COMPILED.plain, engine, AgreementReplay.plain_utilization)


class Engine(EngineLane):
    """Replays events against loaded agreements and issues their ledger entries.

    The engine holds only what can still change, so it can run for as long as a settlement
    system feeds it; `snapshot()` and `restore()` carry it across process restarts without
    replaying the past.
    """

    @classmethod
    def from_path(cls, contracts: str | os.PathLike[str]) -> Engine:
        """An engine for the agreements under CONTRACTS; raises `DocumentErrors` listing every problem."""
        return cls(load_agreements(contracts))

    @classmethod
    def from_mappings(cls, documents: Iterable[Mapping]) -> Engine:
        """An engine for version documents given as Python mappings (see `load_agreements_from_mappings`)."""
        return cls(load_agreements_from_mappings(documents))

    def __init__(self, agreements: Iterable) -> None:
        self.ids: dict[str, bytes | IdRecord] = {}  # every id in use: an input record, or an IdRecord
        self._issued: list[IssuedEntry] = []
        self.agreements: dict[str, AgreementReplay] = {}
        for number, loaded in enumerate(sorted(agreements, key=lambda agreement: agreement.id)):
            terms = AgreementTerms(loaded.id, tuple(loaded.versions))
            self.agreements[loaded.id] = AgreementReplay(terms, self.ids, self._issued.append, number)
        self._replays = list(self.agreements.values())  # by number, as input records name them
        self.lines = 0  # non-blank lines fed: also each line's log order, whatever numbers the caller gives them
        self.duplicates = 0
        self.rejections: list[Rejection] = []
        self._last_line = 0

    # ---- feeding -------------------------------------------------------------------------

    def feed_stream(self, stream: BinaryIO, long_lines: LongLines | None = None) -> Iterator[LineOutcome]:
        """Replay a JSON Lines stream; yields one outcome per non-blank line.

        A line over 1 MiB reaches its outcome cut short (it is rejected for its length); give
        `long_lines` to receive such lines whole as they stream by.
        """
        plain = self._plain
        for number, raw in iter_lines(stream, long_lines):
            self._last_line = number
            event_id = plain(raw, number)
            if event_id is not None:
                yield LineOutcome(number, event_id, "applied", None, raw, ())
            else:
                yield self._feed(raw, number)

    def feed_log(
        self, stream: BinaryIO, long_lines: LongLines | None = None, progress: Callable[[], None] | None = None,
    ) -> Iterator[LineOutcome]:
        """Replay a JSON Lines stream, yielding only the outcomes a ledger writer needs: of the
        lines that issued entries or were rejected. `progress` is called every 16,384 lines.

        This is `feed_stream` for whole logs: an applied utilization line, nearly every line of
        a real log, costs no outcome.
        """
        return self.feed_numbered(iter_lines(stream, long_lines), progress)

    def feed_numbered(
        self, lines: Iterable[tuple[int, bytes]], progress: Callable[[], None] | None = None, *,
        duplicates: bool = False,
    ) -> Iterator[LineOutcome]:
        """`feed_log` for non-blank lines given with their numbers, as `iter_lines` gives them:
        a part of a log keeps the numbers of the whole (`backstop replay --workers`, a store's
        log). With `duplicates`, the outcomes of duplicate lines are yielded too (a store
        records every line that was not applied)."""
        plain = self._plain
        number = self._last_line
        try:
            for number, raw in lines:
                if plain(raw, number) is None:
                    self._last_line = number
                    outcome = self._feed(raw, number)
                    if outcome.entries or outcome.status == "rejected" or duplicates and outcome.status == "duplicate":
                        yield outcome
                if progress is not None and not self.lines & _PROGRESS_MASK:
                    progress()
        except InternalError:
            number -= 1  # as `_feed` says: the lines before the failed one were fed
            raise
        finally:
            self._last_line = number  # also when the caller stops early
        if progress is not None:
            progress()

    def feed_lines(self, lines: Iterable[bytes | str]) -> Iterator[LineOutcome]:
        """Replay lines given one by one (each without its line end); blank ones are skipped."""
        for raw in lines:
            if isinstance(raw, str):
                raw = raw.encode("utf-8")
            outcome = self.feed_line(raw)
            if outcome is not None:
                yield outcome

    def feed_event(self, event: Mapping, *, strict: bool = False) -> LineOutcome:
        """Replay one event given as a mapping; Decimal and date values are sent as strings."""
        return self.feed_line(json.dumps(event, default=_json_text, ensure_ascii=False), strict=strict)

    def feed_line(self, raw: bytes | str, number: int | None = None, *, strict: bool = False) -> LineOutcome | None:
        """Replay one line (without its line end); None for a blank line, which is skipped.

        `number` is the line's number in the caller's log, for reports; it defaults to one
        past the last line fed. Log order is the order of calls, whatever the numbers. With
        `strict`, a rejected line raises `RejectedLine` (it is still counted and has no effect).
        """
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        number = self._last_line + 1 if number is None else number
        self._last_line = number
        if not raw.strip(b" \t"):
            return None
        event_id = self._plain(raw, number)
        if event_id is not None:
            return LineOutcome(number, event_id, "applied", None, raw, ())
        outcome = self._feed(raw, number)
        if strict and outcome.status == "rejected":
            raise RejectedLine(outcome)
        return outcome

    def _plain_reference(self, raw: bytes, number: int) -> str | None:
        """Apply a plain utilization line that breaks no rule, returning its id; None, with
        nothing changed, to leave the line to `_feed`. Utilization issues no entries.

        This is `_plain` in Python; where the compiled lane is built, `_plain` runs it
        instead (see `engine.replay.lane`)."""
        line = read_plain_utilization(raw)
        if line is None:
            return None
        event_id = line[0]
        replay = self.agreements.get(line[1])
        order = self.lines + 1
        if replay is None or event_id in self.ids or not replay.plain_utilization(line, order, number):
            return None
        self.lines = order
        return event_id

    _plain = _plain_reference if COMPILED is None else _CompiledLane()

    def _feed(self, raw: bytes, number: int) -> LineOutcome:
        """Replay one non-blank line the general way. Should anything unexpected go wrong, the
        line is rolled back and `InternalError` raised: the engine is as before the line, the
        lines before it fed, so that the next line fed without a number takes its number."""
        self.lines += 1
        try:
            parsed = parse_line(number, raw)
            status, reason, code = self._judge(parsed, self.lines)
        except BaseException as error:
            self.lines -= 1
            self._last_line = number - 1
            if isinstance(error, Exception):
                raise InternalError(number, error) from error
            raise  # an interrupt: the line was rolled back all the same
        if status == "duplicate":
            self.duplicates += 1
        elif status == "rejected":
            self.rejections.append(Rejection(number, parsed.id, reason, code))
        entries = ()
        if self._issued:
            entries, self._issued[:] = tuple(self._issued), []
        return LineOutcome(number, parsed.id, status, reason, raw, entries, code)

    def close_through(self, day: date) -> tuple[IssuedEntry, ...]:
        """After the last event: close, per agreement in id order, every open period ending by `day`."""
        savepoints = [(replay, replay.savepoint(inputs_only=False)) for replay in self.agreements.values()]
        where = f"--close-through {day}"
        try:
            for replay, _ in savepoints:
                period = replay.next_open()
                while period is not None and period.end <= day:
                    where = f"the close of {replay.terms.id} period {period.id} (--close-through {day})"
                    replay.close(period, None)
                    period = replay.next_open()
        except BaseException as error:
            for replay, savepoint in savepoints:
                replay.rollback(savepoint)
            self._issued.clear()
            if isinstance(error, Exception):
                raise InternalError(None, error, where) from error
            raise
        for replay, _ in savepoints:
            replay.release()
        entries, self._issued[:] = tuple(self._issued), []
        return entries

    # ---- judging a line ----------------------------------------------------------------

    def _judge(self, parsed: ev.ParsedLine, order: int) -> tuple[str, str | None, Code | None]:
        """(status, reason, code) of one line."""
        record = self.ids.get(parsed.id) if parsed.id is not None else None
        if record is not None:
            return self._judge_repeat(parsed, record)
        if parsed.problem is not None:
            return "rejected", str(parsed.problem), parsed.problem.code
        event = parsed.event
        replay = self.agreements.get(event.agreement)
        if replay is None:
            known = ", ".join(self.agreements) or "none"
            return "rejected", f"unknown agreement {event.agreement!r} (agreements: {known})", Code.UNKNOWN_AGREEMENT
        try:
            self._apply(replay, parsed, order)
        except Rejected as rejection:
            return "rejected", str(rejection), rejection.code
        return "applied", None, None

    def _judge_repeat(self, parsed: ev.ParsedLine, record: bytes | IdRecord) -> tuple[str, str | None, Code | None]:
        if type(record) is bytes:
            applied = unpack_input(record)
            replay = self._replays[applied.agreement]
            fingerprint, line = replay.fingerprint(parsed.id, applied), applied.line
            lock_periods: tuple[int, ...] = (applied.first_period,)
        else:
            fingerprint, line, replay = record.fingerprint, record.line, self.agreements[record.agreement]
            lock_periods = record.lock_periods
        if fingerprint != parsed.fingerprint:
            return "rejected", f"id {parsed.id!r} was already applied from line {line} with different content", Code.CONFLICT
        for index in lock_periods:
            if replay.is_locked(index):
                return "rejected", f"period {replay.terms.periods[index].id} is locked", Code.LOCKED
        return "duplicate", None, None

    def _apply(self, replay: AgreementReplay, parsed: ev.ParsedLine, order: int) -> None:
        """Apply one event and record its id as in use: all of it, or nothing (a savepoint
        puts back whatever it changed if anything raises)."""
        event = parsed.event
        kind = type(event)
        savepoint = replay.savepoint(inputs_only=kind is ev.Utilization or kind is ev.Revenue or kind is ev.Correction)
        savepoint.keep_id(self.ids, event.id)
        if kind is ev.Correction:
            savepoint.keep_id(self.ids, event.corrects)
        issued = len(self._issued)
        try:
            self._apply_event(replay, parsed, order)
        except Rejected as rejection:
            wrote = len(self._issued) > issued
            replay.rollback(savepoint)
            del self._issued[issued:]
            if wrote:  # rules check before they change anything: this is a bug, not a rejection
                raise AssertionError(f"line {parsed.number} was rejected after issuing entries: {rejection}") from rejection
            raise
        except BaseException:
            replay.rollback(savepoint)
            del self._issued[issued:]
            raise
        replay.release()

    def _apply_event(self, replay: AgreementReplay, parsed: ev.ParsedLine, order: int) -> None:
        event = parsed.event
        kind = type(event)
        if kind is ev.Utilization or kind is ev.Revenue:
            replay.apply_input(event, order, parsed.fingerprint, parsed.number)
            return  # the input record holds what judges a repeat
        lock_periods: tuple[int, ...] = ()
        if kind is ev.Correction:
            lock_periods = replay.apply_correction(event, order)
        elif kind is ev.Close:
            replay.close(replay.check_close(event), event.id)
        elif kind is ev.TrueUp:
            replay.check_true_up(event)
            replay.true_up(event)
        elif kind is ev.Payment:
            replay.check_payment(event)
            replay.check_late_interest_due(event)
            replay.pay(event)
        elif kind is ev.GuaranteeCall:
            replay.call(event)
        else:
            if replay.warrants is None:
                raise Rejected(
                    f"agreement {replay.terms.id} has no warrants; a {type(event).__name__} event does not apply",
                    code=Code.NOT_APPLICABLE,
                )
            replay.warrants.apply(event)
        self.ids[event.id] = IdRecord(parsed.fingerprint, parsed.number, event.agreement, lock_periods)

    # ---- keeping going later -------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The engine's state as explicit, versioned bytes, to `restore` later and go on where
        it stopped (see `engine.replay.snapshot` for the format). Take it between lines."""
        from engine import __version__

        return snapshots.snapshot_bytes(self, engine_name=ENGINE_NAME, engine_version=__version__, semantics=SEMANTICS)

    @classmethod
    def restore(cls, snapshot: bytes, agreements: Iterable) -> Engine:
        """An engine of `agreements` (as loaded from the documents) in the state of `snapshot`.

        Raises `SnapshotError`, saying what differs, for bytes that are not a snapshot, are
        damaged, or were written in another format, by another engine version or semantics,
        or for other documents (an agreement or version added or removed, a file changed).
        """
        from engine import __version__

        document = snapshots.read_document(snapshot)
        engine = cls(agreements)
        snapshots.check_header(document, engine.agreements, engine_name=ENGINE_NAME, engine_version=__version__,
                               semantics=SEMANTICS)
        snapshots.fill(engine, document)
        return engine

    @classmethod
    def restore_from_path(cls, snapshot: bytes, contracts: str | os.PathLike[str]) -> Engine:
        """`restore` with the agreements loaded from CONTRACTS."""
        return cls.restore(snapshot, load_agreements(contracts))

    # ---- reading the state ---------------------------------------------------------------

    @property
    def applied(self) -> int:
        """Lines applied: every non-blank line is applied, a duplicate or rejected (SPEC §7)."""
        return self.lines - self.duplicates - len(self.rejections)

    def summary(self, *, engine_version: str | None = None) -> dict:
        """The JSON summary of SPEC §8, as of now."""
        from engine import __version__

        return {
            "engine": {"name": ENGINE_NAME, "version": engine_version or __version__},
            "semantics": SEMANTICS,
            "lines": self.lines,
            "applied": self.applied,
            "duplicates": self.duplicates,
            "rejected": [{"line": r.line, "id": r.id, "reason": r.reason, "code": r.code} for r in self.rejections],
            "agreements": {agreement_id: replay.summary() for agreement_id, replay in self.agreements.items()},
        }
