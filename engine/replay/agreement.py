"""One agreement's replay: fold its events into state and issue its entries (SPEC §5).

`AgreementReplay` holds what can still change for one agreement (inputs of unlocked
periods, issued targets, the cap's running sums, open obligations, warrant state) and its
hash chain. Each event is first checked against every rule (`check_*`, or the first lines
of `apply_*`), raising `Rejected` with the reason before anything changes; only then does it
change state, so a rejected event has no effect at all. Should anything else go wrong while
the engine applies a line, a savepoint (`savepoint`, `rollback`, `release`) puts back what the
line changed, so that every line takes effect whole or not at all.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Callable

from engine.calendar import Period, add_days, add_days_or_none, contract_year
from engine.events.model import Close, Correction, GuaranteeCall, Payment, Revenue, TrueUp, Utilization
from engine.events.reader import replacement as typed_replacement
from engine.events.reader import TIMESTAMP_CHARS_MAX, plain_fingerprint, timestamp_from_text
from engine.replay.guarantee import GuaranteeBook
from engine.replay.lane import AgreementLane
from engine.replay.inputs import (
    NO_PERIOD, REVENUE, REVENUE_KEY, TOP_UP_KEY, UTILIZATION, IdRecord, Input, Key, decimal_texts, input_agreement,
    input_order, input_period_max, pack_input, plain_utilization_head, unpack_input,
)
from engine.ledger.chain import Chain, IssuedEntry
from engine.numbers import EXACT, ZERO, decimal_text, format_amount, sum_text
from engine.replay import rules
from engine.replay.settlement import Book, Obligation
from engine.rejection_codes import Code
from engine.replay.rejected import Rejected, past_the_calendar
from engine.replay.savepoint import Savepoint
from engine.replay.terms import AgreementTerms
from engine.replay.warrants import WarrantBook, fraction_text

OBLIGATION_KINDS = frozenset(
    {"lease_back", "revenue_share", "adjustment", "late_interest", "exercise_price", "cash_in_lieu",
     "revenue_top_up", "debt_service", "guarantee_call", "reimbursement"}
)
SHARE_KINDS = frozenset({"warrant_vested", "split_adjustment", "share_delivery"})


_add = EXACT.add  # exact sums, bound once: the plain lane adds twice per line
_SPANS_MAX = 65_536  # hourly reports of a few years; the cache starts afresh when full


class AgreementReplay(AgreementLane):
    """State and entries of one agreement (what the compiled lane reads and writes of it in
    the slots of `AgreementLane`)."""

    def __init__(
        self, terms: AgreementTerms, ids: dict[str, bytes | IdRecord], emit: Callable[[IssuedEntry], None],
        number: int = 0,
    ):
        self.terms = terms
        self.ids = ids  # every id in use, shared by the engine's agreements (SPEC §7)
        self.number = number  # this agreement's number in the engine, as input records name it
        self.emit = emit
        self.lock = terms.lock_after_periods
        self.locked_below = -1  # periods with a smaller index are locked
        self.chain = Chain(terms.id)
        self.closed = 0
        self.keys: dict[int, dict[str, Key]] = {}
        self.pool_names: list[str] = []  # input records name pools by their number here
        self.pool_numbers: dict[str, int] = {}
        self.restated: set[int] = set()
        self.entitled = ZERO  # E: every lease-back change issued so far
        self.issued = ZERO  # I: every lease-back amount issued so far
        self.top_up_entitled = ZERO  # (v2) E of the top-ups: every top-up change issued so far
        self.top_up_issued = ZERO  # (v2) I of the top-ups: every top-up amount issued so far
        self.directions = directions(terms)
        self.books = {direction: Book() for direction, _ in self.directions}
        self.totals: dict[str, Decimal | int] = {}
        self.warrants = WarrantBook(self) if terms.first.warrants is not None else None
        self.guarantee = GuaranteeBook(self) if terms.first.guarantee is not None else None
        # For `plain_utilization`: spans already found to lie in one period of the term, and
        # per period the pools of its governing version with their capacity (none: no backstop).
        self._spans: dict[str, tuple[str, int, int]] = {}  # start -> (end, period, span number)
        # The spans plain records name, numbered per period: ({(start, end): number}, [(start, end)]).
        self.period_spans: dict[int, tuple[dict[tuple[str, str], int], list[tuple[str, str]]]] = {}
        self._capacities = [self._period_capacities(period) for period in terms.periods]
        self._savepoint: Savepoint | None = None  # open while a line is applied the general way

    # ---- periods and locks -------------------------------------------------------------

    def is_locked(self, index: int) -> bool:
        return index < self.locked_below

    def next_open(self) -> Period | None:
        periods = self.terms.periods
        return periods[self.closed] if self.closed < len(periods) else None

    def key(self, index: int, pool: str) -> Key:
        period_keys = self.keys.setdefault(index, {})
        found = period_keys.get(pool)
        if found is None:
            found = period_keys[pool] = Key()
            if self._savepoint is not None:
                self._savepoint.keys_created.append((index, pool))
        return found

    def peek_key(self, index: int, pool: str) -> Key | None:
        return self.keys.get(index, {}).get(pool)

    def _lock_newly_locked(self) -> None:
        """Forget a period once it is locked: it can never change again (SPEC §5.1, §7).

        An input's id is released with the last period its values ever counted in, a
        correction's with the last period it touched; each is listed by a key of that period.
        Under a savepoint the period is forgotten when the line takes effect (`release`), so
        that a line rolled back has nothing of it to find again: nothing the rest of the line
        does reads a locked period.
        """
        lock = self.lock
        if lock is None:
            return
        self.locked_below = self.closed - lock
        index = self.closed - 1 - lock
        if index < 0:
            return
        ids = self.ids
        # Groups of ids, each id in one group once: an input is listed by the key it was added
        # to, and by the keys whose `changes` it is in once corrected; those it counted in
        # alone are the ones in no `changes`.
        released: list[list[str] | dict[str, None]] = []
        corrected: dict[str, None] = {}  # in order, once each: a correction may be listed by several keys
        for key in self.keys.get(index, {}).values():
            changes = key.changes
            if not changes:  # nearly every key
                released.append(key.inputs)
                continue
            released.append([event_id for event_id in key.inputs if event_id not in changes])
            for event_id in changes:
                record = ids.get(event_id)
                if record is None:
                    continue
                if type(record) is bytes:
                    if input_agreement(record) == self.number and input_period_max(record) == index:
                        corrected[event_id] = None
                elif record.agreement == self.terms.id and record.lock_periods and max(record.lock_periods) == index:
                    corrected[event_id] = None
        released.append(corrected)
        if self._savepoint is not None:
            self._savepoint.locked.append((index, released))
        else:
            self._forget(index, released)

    def _forget(self, index: int, released: list[list[str] | dict[str, None]]) -> None:
        """Drop a locked period's keys and spans, and release its ids."""
        self.keys.pop(index, None)
        self.period_spans.pop(index, None)
        self._spans.clear()  # it may name spans of the period just locked; the open ones are learnt again
        ids = self.ids
        for group in released:
            for event_id in group:
                del ids[event_id]

    def _pool_number(self, pool: str) -> int:
        number = self.pool_numbers.get(pool)
        if number is None:
            number = self.pool_numbers[pool] = len(self.pool_names)
            self.pool_names.append(pool)
        return number

    def fingerprint(self, event_id: str, applied: Input) -> bytes:
        """The fingerprint of the line that applied an input (SPEC §7: a repeat must equal it)."""
        if applied.fingerprint is not None:
            return applied.fingerprint
        start, end = self.period_spans[applied.first_period][1][applied.span]
        values = " ".join(applied.texts)
        return plain_fingerprint(event_id, self.terms.id, self.pool_names[applied.pool], start, end, values)

    def _order_of(self, event_id: str) -> int:
        return input_order(self.ids[event_id])

    def _input(self, event_id: str) -> Input | None:
        """The applied input of this agreement with that id, or None."""
        record = self.ids.get(event_id)
        if type(record) is bytes and input_agreement(record) == self.number:
            return unpack_input(record)
        return None

    # ---- savepoints ----------------------------------------------------------------------

    def savepoint(self, *, inputs_only: bool) -> Savepoint:
        """Open a savepoint before a line; `inputs_only` for an input or a correction, which
        change keys and the id map but never the books, the chain, the warrants or the guarantee."""
        chain = self.chain
        books = warrants = guarantee = None
        if not inputs_only:
            books = [(book, book.state()) for book in self.books.values()]
            warrants = self.warrants.state() if self.warrants is not None else None
            guarantee = self.guarantee.state() if self.guarantee is not None else None
        self._savepoint = Savepoint(
            scalars=(self.closed, self.locked_below, self.entitled, self.issued, self.top_up_entitled,
                     self.top_up_issued, chain.length, chain.head),
            restated=set(self.restated), totals=dict(self.totals), books=books, warrants=warrants,
            pools=len(self.pool_names), guarantee=guarantee,
        )
        return self._savepoint

    def rollback(self, savepoint: Savepoint) -> None:
        """Put the state back as it was when `savepoint` was opened, and close it. Containers
        are restored in place, so that whoever holds one (the compiled lane) sees the state
        restored."""
        (self.closed, self.locked_below, self.entitled, self.issued, self.top_up_entitled, self.top_up_issued,
         self.chain.length, self.chain.head) = savepoint.scalars
        self.restated.clear()
        self.restated.update(savepoint.restated)
        self.totals.clear()
        self.totals.update(savepoint.totals)
        if savepoint.books is not None:
            for book, state in savepoint.books:
                book.restore(state)
        if savepoint.warrants is not None:
            self.warrants.restore(savepoint.warrants)
        if savepoint.guarantee is not None:
            self.guarantee.restore(savepoint.guarantee)
        savepoint.restore_keys(self.keys)
        savepoint.restore_ids(self.ids)
        for pool in self.pool_names[savepoint.pools:]:
            del self.pool_numbers[pool]
        del self.pool_names[savepoint.pools:]
        self._savepoint = None

    def release(self) -> None:
        """Close the savepoint: the line took effect, and the periods it locked are forgotten."""
        savepoint, self._savepoint = self._savepoint, None
        for index, released in savepoint.locked:
            self._forget(index, released)

    def _keep(self, key: Key) -> None:
        if self._savepoint is not None:
            self._savepoint.keep_key(key)

    # ---- inputs ------------------------------------------------------------------------

    def _period_capacities(self, period: Period) -> dict[str, tuple[int, str, Decimal]]:
        version = self.terms.version_for_period(period)
        if version.document.backstop is None:
            return {}  # no pool takes utilization in this period
        return {
            pool.id: (self._pool_number(pool.id), pool.id, Decimal(pool.gpus * period.hours))  # Decimal: compared per line
            for pool in version.document.pools
        }

    def plain_utilization(self, plain: tuple, order: int, line: int) -> bool:
        """Apply a plain utilization line if it passes every rule of `check_utilization` as
        plainly as nearly all do; False, with nothing changed, to leave it to `apply_input`,
        which words the reason when it breaks one. `plain` is `read_plain_utilization`'s."""
        event_id, _, pool_text, start_text, end_text, available, sold, values = plain
        span = self._spans.get(start_text)
        if span is None or span[0] != end_text:
            span = self._learn_span(start_text, end_text)
            if span is None:
                return False
        _, index, span_number = span
        if index < self.locked_below:
            return False
        found = self._capacities[index].get(pool_text)
        if found is None:
            return False
        pool_number, pool, capacity = found
        period_keys = self.keys.get(index)
        key = period_keys.get(pool) if period_keys is not None else None
        total = _add(key.available if key is not None else ZERO, available)  # as _add does: -0 becomes 0
        if total > capacity:
            return False
        if key is None:
            key = self.key(index, pool)
        key.available = total
        key.sold = _add(key.sold, sold)
        key.inputs.append(event_id)
        if index < self.closed:
            self.restated.add(index)
        self.ids[event_id] = plain_utilization_head(
            order, line, index, index, index, self.number, pool_number, UTILIZATION, span_number
        ) + values.encode("ascii")
        return True

    def _learn_span(self, start_text: str, end_text: str) -> tuple[str, int, int] | None:
        """(end, period, span number) for a span [start, end) that lies within one period of
        the term: the period holding it, and its number among that period's spans."""
        if len(start_text) > TIMESTAMP_CHARS_MAX or len(end_text) > TIMESTAMP_CHARS_MAX:
            return None
        start, _ = timestamp_from_text(start_text)
        end, _ = timestamp_from_text(end_text)
        if start is None or end is None or not start < end:
            return None
        terms = self.terms
        if start < terms.start_utc or end > terms.end_utc:
            return None
        period = terms.period_containing(start.date())
        if period is None or end > terms.period_ends_utc[period.index]:
            return None
        if len(self._spans) >= _SPANS_MAX:
            self._spans.clear()
        numbers, spans = self.period_spans.setdefault(period.index, ({}, []))
        number = numbers.get((start_text, end_text))
        if number is None:  # one number per span, however often it is learnt
            number = numbers[(start_text, end_text)] = len(spans)
            spans.append((start_text, end_text))
        span = self._spans[start_text] = (end_text, period.index, number)
        return span

    def check_utilization(self, event: Utilization, replacing: Input | None = None) -> Period:
        terms = self.terms
        if event.start < terms.start_utc or event.end > terms.end_utc:
            first = terms.first
            raise Rejected(
                f"utilization [{event.start.isoformat()}, {event.end.isoformat()}) lies outside the term "
                f"[{first.term.start}, {first.term.end})", code=Code.INTERVAL,
            )
        period = terms.period_containing(event.start.date())
        if event.end > terms.period_ends_utc[period.index]:
            raise Rejected(
                f"utilization [{event.start.isoformat()}, {event.end.isoformat()}) crosses the end of period "
                f"{period.id} ({period.end}); split it at the period boundary", code=Code.INTERVAL,
            )
        version = terms.version_for_period(period)
        if version.document.backstop is None:
            raise Rejected(
                f"version {version.number}, which governs period {period.id}, has no backstop", code=Code.NOT_APPLICABLE
            )
        pool = terms.pools_by_version[version.number - 1].get(event.pool)
        if pool is None:
            known = ", ".join(pool.id for pool in version.document.pools)
            raise Rejected(
                f"unknown pool {event.pool!r} in version {version.number} (pools: {known})", code=Code.UNKNOWN_REFERENCE
            )
        self._check_unlocked(period)
        key = self.peek_key(period.index, pool.id)
        total = key.available if key is not None else ZERO
        if replacing is not None and replacing.period == period.index and replacing.kind == UTILIZATION:
            if self.pool_names[replacing.pool] == pool.id:
                total = EXACT.subtract(total, replacing.values[0])
        total = EXACT.add(total, event.available_gpu_hours)
        capacity = pool.gpus * period.hours
        if total > capacity:
            raise Rejected(
                f"pool {pool.id} would report {decimal_text(total)} available GPU-hours in period {period.id}, "
                f"more than its {pool.gpus} GPUs × {period.hours} h = {capacity}", code=Code.CAPACITY,
            )
        return period

    def check_revenue(self, event: Revenue) -> Period:
        period = self.terms.period_by_id.get(event.period)
        if period is None:
            raise Rejected(f"period {event.period} is not a settlement period of the term",
                           code=self._period_reference_code(event.period))
        version = self.terms.version_for_period(period)
        if version.document.revenue_share is None and version.document.revenue_floor is None:
            raise Rejected(
                f"version {version.number}, which governs period {period.id}, has no revenue_share or revenue_floor",
                code=Code.NOT_APPLICABLE,
            )
        if event.currency != self.terms.first.currency:
            raise Rejected(f"currency {event.currency} is not the agreement's {self.terms.first.currency}",
                           code=Code.CURRENCY)
        self._check_unlocked(period)
        return period

    def _check_unlocked(self, period: Period) -> None:
        if self.is_locked(period.index):
            raise Rejected(f"period {period.id} is locked", code=Code.LOCKED)

    def apply_input(self, event: Utilization | Revenue, order: int, fingerprint: bytes, line: int) -> None:
        """Check and apply an input event, and record its id as in use."""
        if type(event) is Utilization:
            index = self.check_utilization(event).index
            pool, kind = self._pool_number(event.pool), UTILIZATION
            texts = decimal_texts(event.available_gpu_hours, event.sold_gpu_hours)
        else:
            index = self.check_revenue(event).index
            pool, kind, texts = 0, REVENUE, decimal_texts(event.amount)
        self._add(event, index, event.id, order)
        self.ids[event.id] = pack_input(fingerprint, order, line, index, index, index, self.number, pool, kind, texts)

    def apply_correction(self, event: Correction, order: int) -> tuple[int, ...]:
        original = self._input(event.corrects)
        if original is None:
            record = self.ids.get(event.corrects)
            if type(record) is IdRecord and record.agreement == self.terms.id:
                raise Rejected(f"corrects {event.corrects!r}, which is not a utilization or revenue event",
                               code=Code.UNKNOWN_REFERENCE)
            raise Rejected(
                f"corrects {event.corrects!r}: no applied utilization or revenue event of this agreement has that id "
                "(events of locked periods are no longer open to correction)", code=Code.UNKNOWN_REFERENCE,
            )
        kind = Utilization if original.kind == UTILIZATION else Revenue
        period = None if original.period == NO_PERIOD else original.period
        new_event = None
        new_period = None
        if event.replacement is not None:
            typed = typed_replacement(event, kind)
            if isinstance(typed, str):
                raise Rejected(typed, code=typed.code)
            new_event = typed
            if isinstance(typed, Utilization):
                new_period = self.check_utilization(typed, original).index
            else:
                new_period = self.check_revenue(typed).index
        touched = sorted({index for index in (period, new_period) if index is not None})
        for index in touched:
            self._check_unlocked(self.terms.periods[index])
        if period is not None:
            self._remove(event.corrects, original, event.id, order)
        pool, texts, period_max = original.pool, original.texts, original.period_max
        if new_event is not None:
            self._add(new_event, new_period, event.id, order, original_order=original.order)
            period_max = max(period_max, new_period)
            if kind is Utilization:
                pool = self._pool_number(new_event.pool)
                texts = decimal_texts(new_event.available_gpu_hours, new_event.sold_gpu_hours)
            else:
                texts = decimal_texts(new_event.amount)
        self.ids[event.corrects] = pack_input(
            self.fingerprint(event.corrects, original), original.order, original.line, original.first_period,
            NO_PERIOD if new_period is None else new_period, period_max, self.number, pool, original.kind, texts,
        )
        return tuple(touched)

    def _add(self, event, index: int, cause: str, order: int, original_order: int | None = None) -> None:
        if type(event) is Utilization:
            key = self.key(index, event.pool)
            self._keep(key)
            key.available = EXACT.add(key.available, event.available_gpu_hours)
            key.sold = EXACT.add(key.sold, event.sold_gpu_hours)
        else:
            key = self.key(index, REVENUE_KEY)
            self._keep(key)
            key.revenue = EXACT.add(key.revenue, event.amount)
        if original_order is None:
            key.inputs.append(event.id)
        else:  # a replacement: it keeps the corrected event's place, and the correction is listed too
            key.change(event.id, original_order)
            key.change(cause, order)
        self._mark_restated(index)

    def _remove(self, event_id: str, original: Input, cause: str, order: int) -> None:
        if original.kind == UTILIZATION:
            key = self.key(original.period, self.pool_names[original.pool])
            self._keep(key)
            available, sold = original.values
            key.available = EXACT.subtract(key.available, available)
            key.sold = EXACT.subtract(key.sold, sold)
        else:
            key = self.key(original.period, REVENUE_KEY)
            self._keep(key)
            key.revenue = EXACT.subtract(key.revenue, original.values[0])
        key.change(event_id, None)
        key.change(cause, order)
        self._mark_restated(original.period)

    def _mark_restated(self, index: int) -> None:
        if index < self.closed:
            self.restated.add(index)

    # ---- closes, true-ups and adjustments ---------------------------------------------

    def check_close(self, event: Close) -> Period:
        period = self.next_open()
        if period is None:
            raise Rejected(f"every period of the term is already closed; cannot close {event.period}", code=Code.ORDER)
        reference = self._period_reference_code(event.period)
        if reference is not None:
            raise Rejected(f"period {event.period} is not a settlement period of the term", code=reference)
        if event.period != period.id:
            raise Rejected(f"closes go in period order: the next open period is {period.id}, not {event.period}",
                           code=Code.ORDER)
        return period

    def _period_reference_code(self, period_id: str) -> Code | None:
        """None for a period of the term; else why the id names none (semantics §7): another
        kind of period than the agreement's (`unknown_reference`), or one outside the term
        (`interval`)."""
        if period_id in self.terms.period_by_id:
            return None
        quarterly = self.terms.first.settlement.period == "quarterly"
        return Code.INTERVAL if ("Q" in period_id) == quarterly else Code.UNKNOWN_REFERENCE

    def close(self, period: Period, cause: str | None) -> None:
        """Close a period: adjustments, lease-back, revenue top-up, revenue share, debt service,
        then vesting (SPEC §5.2)."""
        version = self.terms.version_for_period(period)
        due = self.terms.due_date(period)
        self._issue_adjustments(period.end, due, version, cause)
        document = version.document
        causes = [cause] if cause else []
        if document.backstop is not None:
            cap = self.terms.cap_in_force(version)
            for pool in document.pools:
                key = self.key(period.index, pool.id)
                self._issue_lease_back(period, pool, key, version, period.end, due, cap, causes, adjustment=False)
        if document.revenue_floor is not None:
            key = self.key(period.index, TOP_UP_KEY)
            cap = self.terms.top_up_cap_in_force(version)
            self._issue_top_up(period, key, version, period.end, due, cap, causes, adjustment=False)
        if document.revenue_share is not None:
            key = self.key(period.index, REVENUE_KEY)
            self._issue_revenue_share(period, key, version, period.end, due, causes, adjustment=False)
        if document.guarantee is not None:
            self.guarantee.issue_debt_service(period, version, due, causes)
        self.closed += 1
        if self.warrants is not None:
            self.warrants.vest(period.end, version, causes)
        self._lock_newly_locked()  # last; under a savepoint, the period is forgotten once the line took effect

    def check_true_up(self, event: TrueUp) -> None:
        if self.closed:
            last = self.terms.periods[self.closed - 1]
            if event.date < last.end:
                raise Rejected(
                    f"true-up dated {event.date} is before {last.end}, the end date of the last closed period {last.id}",
                    code=Code.ORDER,
                )
        days = self.terms.version_for_date(event.date).document.settlement.payment_terms_days
        if add_days_or_none(event.date, days) is None and self._adjustments_pending():
            raise past_the_calendar(f"true-up dated {event.date} would issue adjustments due {days} days later")

    def true_up(self, event: TrueUp) -> None:
        version = self.terms.version_for_date(event.date)
        due = add_days_or_none(event.date, version.document.settlement.payment_terms_days)
        if due is None:  # past the calendar: `check_true_up` found that no target changed
            self.restated.clear()
            return
        self._issue_adjustments(event.date, due, version, event.id)

    def _adjustments_pending(self) -> bool:
        """Whether adjustments issued now would write an entry: some restated key's target changed."""
        places, mode = self.terms.places, self.terms.mode
        for index in self.restated:
            period = self.terms.periods[index]
            document = self.terms.version_for_period(period).document
            if document.backstop is not None:
                for pool in document.pools:
                    key = self.peek_key(index, pool.id) or Key()
                    target = rules.lease_back_target(document.backstop, pool.gpu_model, key.available, key.sold, places, mode)
                    if target.target != key.last_target:
                        return True
            revenue = self._revenue_key(index)
            if document.revenue_floor is not None:
                key = self.peek_key(index, TOP_UP_KEY) or Key()
                if rules.top_up_target(revenue.revenue, self._floor(document, period), places, mode) != key.last_target:
                    return True
            if document.revenue_share is not None:
                key = self.peek_key(index, REVENUE_KEY) or Key()
                year = contract_year(self.terms.first.term.start, period.start)
                rate = document.revenue_share.steps[rules.revenue_share_step(document.revenue_share, year)].rate
                base = self._share_base(document, period, revenue)
                if rules.revenue_share_target(base, rate, places, mode) != key.last_target:
                    return True
        return False

    def _revenue_key(self, index: int) -> Key:
        """The key holding a period's revenue inputs (an empty one when the period has none)."""
        return self.peek_key(index, REVENUE_KEY) or Key()

    def _share_base(self, document, period: Period, revenue: Key) -> Decimal | Fraction:
        """The revenue share's base B: R, or (v2, `above_floor`) R − F, F the period's scheduled
        floor, even where the top-up cap cut what the guarantor paid (SPEC §5.3)."""
        if not document.revenue_share.above_floor:
            return revenue.revenue
        return Fraction(revenue.revenue) - self._floor(document, period)

    def _floor(self, document, period: Period) -> Fraction:
        """(v2) F: the scheduled amount of the document's revenue floor for a period, unrounded."""
        return self.terms.scheduled_amount(document.revenue_floor.steps, period).value

    def _issue_adjustments(self, on: date, due: date, deciding, cause: str | None) -> None:
        """Re-derive every restated period's targets and issue the changes (SPEC §5.4), under
        the caps in force that the `deciding` version decides."""
        causes = [cause] if cause else []
        cap = self.terms.cap_in_force(deciding)
        top_up_cap = self.terms.top_up_cap_in_force(deciding)
        for index in sorted(self.restated):
            period = self.terms.periods[index]
            version = self.terms.version_for_period(period)
            document = version.document
            if document.backstop is not None:
                for pool in document.pools:
                    key = self.key(index, pool.id)
                    self._issue_lease_back(period, pool, key, version, on, due, cap, causes, adjustment=True)
            if document.revenue_floor is not None:
                key = self.key(index, TOP_UP_KEY)
                self._issue_top_up(period, key, version, on, due, top_up_cap, causes, adjustment=True)
            if document.revenue_share is not None:
                key = self.key(index, REVENUE_KEY)
                self._issue_revenue_share(period, key, version, on, due, causes, adjustment=True)
        self.restated.clear()

    def _issue_lease_back(self, period, pool, key: Key, version, on, due, cap, causes, *, adjustment: bool) -> None:
        backstop = version.document.backstop
        result = rules.lease_back_target(
            backstop, pool.gpu_model, key.available, key.sold, self.terms.places, self.terms.mode
        )
        change = EXACT.subtract(result.target, key.last_target)
        if change.is_zero():
            return
        amount = rules.capped_change(change, cap, self.entitled, self.issued)
        if backstop.covers == "shortfall":
            formula = "round((threshold × available − sold) × rate)"
        else:
            formula = "round((available − sold) × rate)"
        if result.covered_hours.is_zero():
            formula = "0: no covered hours (available is 0 or sold ≥ threshold × available)"
        inputs = {
            "available_gpu_hours": sum_text(key.available),
            "sold_gpu_hours": sum_text(key.sold),
            "threshold": decimal_text(backstop.threshold),
            "covers": backstop.covers,
            "covered_gpu_hours": sum_text(result.covered_hours),
            "rate": decimal_text(result.rate),
            "gpu_model": pool.gpu_model,
            "target": self.money(result.target),
            "previous_target": self.money(key.last_target),
            "change": self.money(change),
            "entitlement_before": self.money(self.entitled),
            "issued_before": self.money(self.issued),
            "cap": "none" if cap is None else self.money(cap),
        }
        extra: dict = {"pool": pool.id}
        if amount != change:
            extra["uncapped"] = self.money(change)
        self.entitled = EXACT.add(self.entitled, change)
        self.issued = EXACT.add(self.issued, amount)
        basis = {"rule": f"backstop.rate_per_gpu_hour.{pool.gpu_model}", "formula": formula, "inputs": inputs}
        self._issue_key_entry(
            period, key, "lease_back", f"{period.id}/lease_back/{pool.id}", version, on, due,
            self.terms.guarantor, self.terms.provider, amount, basis, causes, extra, adjustment,
        )
        key.last_target = result.target

    def _issue_top_up(self, period, key: Key, version, on, due, cap, causes, *, adjustment: bool) -> None:
        """(v2) The revenue top-up key of a period: F − R when revenue falls short of the floor,
        through the top-up cap, whose sums are its own (SPEC §5.3)."""
        revenue = self._revenue_key(period.index)
        scheduled = self.terms.scheduled_amount(version.document.revenue_floor.steps, period)
        target = rules.top_up_target(revenue.revenue, scheduled.value, self.terms.places, self.terms.mode)
        change = EXACT.subtract(target, key.last_target)
        if change.is_zero():
            return
        amount = rules.capped_change(change, cap, self.top_up_entitled, self.top_up_issued)
        inputs = {
            "revenue": sum_text(revenue.revenue),
            "floor": fraction_text(scheduled.value),
            "amount": decimal_text(scheduled.step.amount),
            "from_year": str(scheduled.step.from_year),
            "contract_year": str(scheduled.contract_year),
            "period_days": str(scheduled.period_days),
            "calendar_days": str(scheduled.calendar_days),
            "target": self.money(target),
            "previous_target": self.money(key.last_target),
            "change": self.money(change),
            "entitlement_before": self.money(self.top_up_entitled),
            "issued_before": self.money(self.top_up_issued),
            "cap": "none" if cap is None else self.money(cap),
        }
        formula = "round(floor − revenue), where floor = amount × period days / calendar days"
        if target.is_zero():
            formula = "0: revenue is at or above the floor"
        extra: dict = {}
        if amount != change:
            extra["uncapped"] = self.money(change)
        self.top_up_entitled = EXACT.add(self.top_up_entitled, change)
        self.top_up_issued = EXACT.add(self.top_up_issued, amount)
        basis = {"rule": f"revenue_floor.steps[{scheduled.step_index}].amount", "formula": formula, "inputs": inputs}
        self._issue_key_entry(
            period, key, "revenue_top_up", f"{period.id}/revenue_top_up", version, on, due,
            self.terms.guarantor, self.terms.provider, amount, basis, causes, extra, adjustment, inputs_key=revenue,
        )
        key.last_target = target

    def _issue_revenue_share(self, period, key: Key, version, on, due, causes, *, adjustment: bool) -> None:
        document = version.document
        revenue_share = document.revenue_share
        year = contract_year(self.terms.first.term.start, period.start)
        step_index = rules.revenue_share_step(revenue_share, year)
        rate = revenue_share.steps[step_index].rate
        base = self._share_base(document, period, key)
        target = rules.revenue_share_target(base, rate, self.terms.places, self.terms.mode)
        change = EXACT.subtract(target, key.last_target)
        if change.is_zero():
            return
        inputs = {
            "revenue": sum_text(key.revenue),
            "rate": decimal_text(rate),
            "contract_year": str(year),
            "from_year": str(revenue_share.steps[step_index].from_year),
            "target": self.money(target),
            "previous_target": self.money(key.last_target),
            "change": self.money(change),
        }
        if revenue_share.above_floor:
            inputs["floor"] = fraction_text(self._floor(document, period))
            formula = "round((revenue − floor) × rate)" if base > 0 else "0: revenue is not above the floor"
        else:
            formula = "round(revenue × rate)" if key.revenue > 0 else "0: revenue is not positive"
        basis = {"rule": f"revenue_share.steps[{step_index}].rate", "formula": formula, "inputs": inputs}
        self._issue_key_entry(
            period, key, "revenue_share", f"{period.id}/revenue_share", version, on, due,
            self.terms.provider, self.terms.guarantor, change, basis, causes, {}, adjustment,
        )
        key.last_target = target

    def _issue_key_entry(
        self, period, key: Key, of: str, key_path: str, version, on, due, debtor, creditor,
        amount: Decimal, basis: dict, causes: list[str], extra: dict, adjustment: bool, inputs_key: Key | None = None,
    ) -> None:
        """Write a key's entry or adjustment; its `events` are those of `inputs_key` (the key
        whose inputs it derives from: its own, or for a top-up the period's revenue key)."""
        self._keep(key)  # its last target, first entry and count of adjustments change below
        if adjustment:
            key.adjustments += 1
            entry_id = f"{self.terms.id}/{key_path}/adj{key.adjustments}"
            extra = {**extra, "of": of, "adjusts": key.first_entry}
            kind = "adjustment"
            basis = {**basis, "formula": f"new target − previous target, where target = {basis['formula']}"}
        else:
            entry_id = f"{self.terms.id}/{key_path}"
            kind = of
        if key.first_entry is None:
            key.first_entry = entry_id
        self.issue(
            kind=kind, entry_id=entry_id, version=version, period=period.id, on=on, due=due,
            debtor=debtor, creditor=creditor, amount=amount, basis=basis,
            events=(inputs_key or key).event_ids(self._order_of) + causes, extra=extra,
        )

    # ---- payments ----------------------------------------------------------------------

    def check_payment(self, event: Payment) -> None:
        parties = self.terms.parties  # the lender too (v2), when the agreement has one
        for role, party in (("payer", event.payer), ("payee", event.payee)):
            if party not in parties:
                raise Rejected(f"{role} {party!r} is not a party to the agreement ({', '.join(sorted(parties))})",
                               code=Code.UNKNOWN_REFERENCE)
        if event.currency != self.terms.first.currency:
            raise Rejected(f"currency {event.currency} is not the agreement's {self.terms.first.currency}",
                           code=Code.CURRENCY)
        digits = max(0, -event.amount.as_tuple().exponent)
        if digits > self.terms.places:
            raise Rejected(
                f"amount {event.amount} has {digits} fraction digits; the agreement settles to {self.terms.places}",
                code=Code.NUMBER,
            )

    def check_late_interest_due(self, event: Payment) -> None:
        """Reject a payment whose late interest would fall due past 9999-12-31 (SPEC §2 "Range"):
        the payment is applied in a dry run, and only an entry that would be written counts."""
        document = self.terms.version_for_date(event.date).document
        settlement = document.settlement
        if add_days_or_none(event.date, settlement.payment_terms_days) is not None:
            return
        for obligation, amount in self.books[(event.payer, event.payee)].preview(event.amount, event.applies_to):
            late, _ = late_interest_terms(document, obligation.kind)
            if late is None or obligation.kind == "late_interest" or obligation.due >= event.date:
                continue
            days = rules.days_late(obligation.due, event.date)
            interest = rules.late_interest(amount, late.annual_rate, days, late.day_count, self.terms.places, self.terms.mode)
            if not interest.is_zero():
                raise past_the_calendar(
                    f"payment dated {event.date} would charge late interest on {obligation.entry_id} due "
                    f"{settlement.payment_terms_days} days later"
                )

    def pay(self, event: Payment) -> None:
        """Write the payment, apply it, then charge late interest on what was late (SPEC §5.5)."""
        version = self.terms.version_for_date(event.date)
        settlement = version.document.settlement
        book = self.books[(event.payer, event.payee)]
        applications, remaining = book.apply(event.amount, event.applies_to)
        book.add_credit(remaining)
        extra = {
            "applied": [{"entry": a.obligation.entry_id, "amount": self.money(a.amount)} for a in applications],
            "unapplied": self.money(remaining),
        }
        if event.applies_to is not None:
            extra["applies_to"] = event.applies_to
        basis = {
            "rule": "settlement",
            "formula": "applied to applies_to first, then to open obligations by (due date, seq); the rest is unapplied credit",
            "inputs": {"amount": self.money(event.amount), "date": event.date.isoformat(),
                       "payer": event.payer, "payee": event.payee},
        }
        self.issue(
            kind="payment", entry_id=f"{self.terms.id}/payment/{event.id}", version=version, period=None,
            on=event.date, due=None, debtor=event.payer, creditor=event.payee, amount=event.amount,
            basis=basis, events=[event.id], extra=extra,
        )
        count = 0
        for application in applications:
            obligation = application.obligation
            late, rule = late_interest_terms(version.document, obligation.kind)
            if late is None or obligation.kind == "late_interest" or obligation.due >= event.date:
                continue
            days = rules.days_late(obligation.due, event.date)
            interest = rules.late_interest(
                application.amount, late.annual_rate, days, late.day_count, self.terms.places, self.terms.mode
            )
            if interest.is_zero():
                continue
            count += 1
            basis = {
                "rule": rule,
                "formula": f"round(applied × annual_rate × days / {rules.DAY_COUNT_BASIS[late.day_count]})",
                "inputs": {
                    "applied": self.money(application.amount), "obligation": obligation.entry_id,
                    "due": obligation.due.isoformat(), "paid": event.date.isoformat(), "days": str(days),
                    "annual_rate": decimal_text(late.annual_rate), "day_count": late.day_count,
                },
            }
            self.issue(
                kind="late_interest", entry_id=f"{self.terms.id}/late_interest/{event.id}/{count}",
                version=version, period=None, on=event.date,
                due=add_days(event.date, settlement.payment_terms_days), debtor=event.payer,
                creditor=event.payee, amount=interest, basis=basis, events=[event.id], extra={},
            )

    # ---- guarantee calls (v2) -------------------------------------------------------------

    def call(self, event: GuaranteeCall) -> None:
        """A guarantee call: every rule checked first, then its three entries (SPEC §5.7)."""
        if self.guarantee is None:
            raise Rejected(f"agreement {self.terms.id} has no guarantee; a guarantee_call does not apply",
                           code=Code.NOT_APPLICABLE)
        self.guarantee.call(self.guarantee.check_call(event))

    # ---- issuing -----------------------------------------------------------------------

    def money(self, amount: Decimal) -> str:
        return format_amount(amount, self.terms.places)

    def issue(
        self, *, kind: str, entry_id: str, version, period: str | None, on: date, due: date | None,
        debtor: str, creditor: str, amount: Decimal | int, basis: dict, events: list[str], extra: dict,
    ) -> IssuedEntry:
        """Seal one entry into the chain, settling it against credit when it is an obligation or a credit."""
        book = self.books.get((debtor, creditor))
        fields = {
            "id": entry_id, "agreement": self.terms.id, "version": version.number, "document": version.sha256,
            "kind": kind, "period": period, "date": on.isoformat(), "due": due.isoformat() if due else None,
            "debtor": debtor, "creditor": creditor, "basis": basis, "events": events, **extra,
        }
        if kind in SHARE_KINDS:
            fields["amount"], fields["unit"] = str(amount), "shares"
        else:
            fields["amount"], fields["unit"] = self.money(amount), self.terms.first.currency
        obligation_amount = ZERO
        if kind in OBLIGATION_KINDS and amount > 0:
            credit = book.take_credit(amount)
            if credit > 0:
                fields["credit_applied"] = self.money(credit)
            obligation_amount = EXACT.subtract(amount, credit)
        elif kind == "adjustment" and amount < 0:
            applications, remaining = book.apply(-amount)
            book.add_credit(remaining)
            fields["applied"] = [{"entry": a.obligation.entry_id, "amount": self.money(a.amount)} for a in applications]
            fields["unapplied"] = self.money(remaining)
        elif kind == "discharge":  # (v2) applied to its own obligation only, never to credit
            application = book.discharge(extra["obligation"], -amount)
            fields["applied"] = [{"entry": application.obligation.entry_id, "amount": self.money(application.amount)}]
            fields["unapplied"] = self.money(ZERO)
        entry = self.chain.seal(fields)
        if obligation_amount > 0:
            book.add(Obligation(entry_id, entry.fields["seq"], due, kind, obligation_amount))
        if kind in SHARE_KINDS:
            self.totals[kind] = self.totals.get(kind, 0) + amount
        else:
            self.totals[kind] = EXACT.add(self.totals.get(kind, ZERO), amount)
        self.emit(entry)
        return entry

    # ---- summary -----------------------------------------------------------------------

    def summary(self) -> dict:
        return {
            "head": self.chain.head,
            "entries": self.chain.length,
            "versions": {str(version.number): version.sha256 for version in self.terms.versions},
            "totals": {
                kind: str(total) if kind in SHARE_KINDS else self.money(total)
                for kind, total in sorted(self.totals.items())
            },
            "outstanding": {name: self.money(self.books[direction].outstanding) for direction, name in self.directions},
            "unapplied_credit": {name: self.money(self.books[direction].unapplied) for direction, name in self.directions},
        }


def directions(terms: AgreementTerms) -> tuple[tuple[tuple[str, str], str], ...]:
    """Every direction (debtor, creditor) of the agreement with its summary name, in a stable
    order: the two of v1 first, then (v2, with a lender) the four that involve the lender."""
    roles = [("guarantor", "provider"), ("provider", "guarantor")]
    if terms.lender is not None:
        roles += [("provider", "lender"), ("guarantor", "lender"), ("lender", "provider"), ("lender", "guarantor")]
    party = {"provider": terms.provider, "guarantor": terms.guarantor, "lender": terms.lender}
    return tuple(((party[debtor], party[creditor]), f"{debtor}_to_{creditor}") for debtor, creditor in roles)


def late_interest_terms(document, kind: str) -> tuple:
    """(the late-interest terms, their rule path) for an obligation of `kind` paid late, under
    the version for the payment's date: a reimbursement (v2) has its own, and none when absent."""
    if kind == "reimbursement":
        return document.guarantee.reimbursement.late_interest, "guarantee.reimbursement.late_interest.annual_rate"
    return document.settlement.late_interest, "settlement.late_interest.annual_rate"
