"""The strict JSON Lines reader of SPEC §4: raw lines in, `ParsedLine` values out.

Reading a line has three stages, each a function below:

1. `iter_lines` cuts the byte stream into physical lines (only LF ends one) and skips blanks;
2. `parse_line` checks the line as strict RFC 8259 JSON (size, UTF-8, no NaN, no lone
   surrogates, no repeated keys, depth) and fingerprints its value for SPEC §7;
3. the typing stage turns the object into an event of `engine.events.model`, checking every
   rule that can be judged on the line alone.

A bad line is an expected condition: `parse_line` never raises on input, it returns the
reason as text for users. Python's `json` module is lenient where RFC 8259 is not (NaN,
lone surrogates, repeated keys merged), so its hooks are used to keep everything it would
lose: numbers keep their text (`JsonNumber`), repeated keys and non-finite constants are
marked, and one walk over the value checks them and builds the canonical form, whose
UTF-8 encoding fails exactly when a lone surrogate is left.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import sys
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import compress
from json.encoder import encode_basestring as _quote
from typing import Any, BinaryIO, Callable, Iterator, NamedTuple, Protocol

import orjson

from engine.calendar import PERIOD_ID
from engine.rejection_codes import Code
from engine.events.model import (
    Close,
    Correction,
    Event,
    Exercise,
    GuaranteeCall,
    JsonNumber,
    ParsedLine,
    Payment,
    Problem,
    Revenue,
    SharePrice,
    StockSplit,
    TrueUp,
    Utilization,
)
from engine.numbers import DECIMAL_TEXT, FRACTION_DIGITS_MAX, INTEGER_DIGITS_MAX, decimal_text_problem

LINE_BYTES_MAX = 1_048_576  # SPEC §4: 1 MiB, without the line end
DEPTH_MAX = 32  # SPEC §4: objects and arrays; the top-level object is level 1
ID_CHARS_MAX = 128  # SPEC §4: Unicode code points
COUNT_DIGITS_MAX = INTEGER_DIGITS_MAX  # SPEC sets no bound on counts; we reuse the decimal one
FINGERPRINT_BYTES = 16
SHOWN_CHARS_MAX = 60  # a value quoted in a reason is cut to this many characters
UNKNOWN_FIELDS_SHOWN_MAX = 5  # a reason names at most this many unknown fields

# --- Stage 1: physical lines -------------------------------------------------------------

# One more byte than a line may hold, plus LF: a chunk this long without LF is over-long.
_CHUNK_BYTES = LINE_BYTES_MAX + 2


class LongLines(Protocol):
    """Receives each over-long line whole, in pieces, as it streams by (for `--rejected`)."""

    def write(self, number: int, piece: bytes) -> None: ...

    def end(self, number: int, blank: bool) -> None: ...


def iter_lines(
    stream: BinaryIO, long_lines: LongLines | None = None, keep: bytes | None = None, *, first: int = 1,
) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, bytes without the line end) for every non-blank line; with `keep`,
    only those whose byte `keep[number - first]` is not zero (a worker's share of the log in
    `backstop replay --workers`; a line past its end raises IndexError). `first` is the
    number of the stream's first line (a store's batch keeps the numbers of its whole log).

    Line numbers count every physical line from 1, blank ones included. Only LF ends a
    line; one CR just before it is part of a CRLF end; the last line may lack LF. A line
    of only spaces and tabs is blank. Memory is bounded: a line longer than
    `LINE_BYTES_MAX` is yielded cut to `LINE_BYTES_MAX + 1` bytes (enough for `parse_line`
    to reject it), and the whole of it goes to `long_lines`, piece by piece, if given.

    The stream is read in blocks and split in C; `read1` is used where the stream has it,
    so lines arriving on a pipe are replayed as they come, not once a block is full.
    """
    read = getattr(stream, "read1", None) or stream.read
    base = first - 1  # the number of the line before the stream's first: `keep` counts from it
    number = base
    carry = b""  # the start of a line whose end has not been read yet
    while True:
        block = read(_BLOCK_BYTES)
        if not block:
            break
        data = carry + block if carry else block
        lines = data.split(b"\n")
        carry = lines.pop()
        # No line of this block is too long or CRLF-ended, and every one starts with "{" or a
        # later byte, so none is blank or starts with a space or tab: number them in C.
        if lines and len(data) <= LINE_BYTES_MAX and b"\r" not in data and min(lines) >= b"{":
            numbered = zip(range(number + 1, number + 1 + len(lines)), lines)
            if keep is None:
                yield from numbered
            else:
                if len(keep) < number - base + len(lines):
                    raise IndexError("a line past the end of `keep`")
                yield from compress(numbered, keep[number - base : number - base + len(lines)])
            number += len(lines)
        else:
            for line in lines:
                number += 1
                if keep is not None and not keep[number - first]:
                    continue
                if line[-1:] == b"\r":
                    line = line[:-1]
                if line[:1] != b"{" and not line.strip(b" \t"):
                    continue
                if len(line) > LINE_BYTES_MAX:
                    line = _whole_long_line(line, number, long_lines)
                yield number, line
        if len(carry) > LINE_BYTES_MAX + 1:  # too long already: stream the rest of it through
            number += 1
            line, blank = _drain_long_line(stream.readline, carry, number, long_lines)
            carry = b""
            if not blank and (keep is None or keep[number - first]):
                yield number, line
    if carry:  # the last line, without LF
        number += 1
        if carry.strip(b" \t") and (keep is None or keep[number - first]):
            if len(carry) > LINE_BYTES_MAX:
                carry = _whole_long_line(carry, number, long_lines)
            yield number, carry


_BLOCK_BYTES = 2**18


def _whole_long_line(line: bytes, number: int, long_lines: LongLines | None) -> bytes:
    """Hand an over-long line that was read whole to `long_lines`; return its first bytes."""
    if long_lines is not None:
        long_lines.write(number, line)
        long_lines.end(number, False)
    return line[: LINE_BYTES_MAX + 1]


def _drain_long_line(
    readline: Callable[[int], bytes], first: bytes, number: int, long_lines: LongLines | None
) -> tuple[bytes, bool]:
    """Read the rest of an over-long line; return its first bytes and whether it is blank.

    A CR at the end of a chunk may be the CR of a CRLF end, so it is held back until the
    next chunk shows whether LF follows.
    """
    head = first[: LINE_BYTES_MAX + 1]
    blank = True
    pending = b""
    chunk = first
    while True:
        data = pending + chunk
        if data[-1:] == b"\n" or len(chunk) < _CHUNK_BYTES:  # the line's end, or the stream's
            if data[-1:] == b"\n":
                data = data[:-2] if data[-2:] == b"\r\n" else data[:-1]
            blank = blank and not data.strip(b" \t")
            if long_lines is not None:
                long_lines.write(number, data)
                long_lines.end(number, blank)
            return head, blank
        pending = b"\r" if data[-1:] == b"\r" else b""
        piece = data[: len(data) - len(pending)]
        blank = blank and not piece.strip(b" \t")
        if long_lines is not None:
            long_lines.write(number, piece)
        chunk = readline(_CHUNK_BYTES)


def parse_lines(stream: BinaryIO) -> Iterator[ParsedLine]:
    """`parse_line` over `iter_lines`: every non-blank line of a log, in order."""
    for number, raw in iter_lines(stream):
        yield parse_line(number, raw)


# --- Stage 2: strict JSON ----------------------------------------------------------------


class _RepeatedKeys(dict):
    """An object in which some key occurs more than once (the line will be rejected)."""

    repeated: tuple[str, ...]  # each repeated key once, in order of first appearance


class _NonFinite:
    """`NaN`, `Infinity` or `-Infinity`, which Python's json accepts and RFC 8259 does not."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _object_from_pairs(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _RepeatedKeys(obj)
    counts = Counter(key for key, _ in pairs)
    marked.repeated = tuple(key for key, count in counts.items() if count > 1)
    return marked


# One decoder for all lines: its hooks keep no state, so it is safe to share.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_from_pairs,
    parse_int=JsonNumber,
    parse_float=JsonNumber,
    parse_constant=_NonFinite,
    strict=True,  # no raw control characters inside strings
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_BYTE_ORDER_MARK = "\ufeff"


def parse_line(number: int, raw: bytes) -> ParsedLine:
    """Check and type one non-blank line; never raises on bad input.

    `id` is set whenever the line is a JSON object with one string `id`, even when the line
    is otherwise bad; `fingerprint` whenever the line is strict JSON (SPEC §7).
    """
    if len(raw) > LINE_BYTES_MAX:
        reason = f"line is longer than {LINE_BYTES_MAX} bytes (1 MiB, without the line end), the most allowed"
        return _rejected(number, raw, reason, Code.TOO_LONG)
    fast = _parsed_plain(number, raw)
    if fast is not None:
        return fast
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _rejected(number, raw, f"invalid UTF-8 at byte {error.start + 1} of the line", Code.MALFORMED)
    if text.startswith(_BYTE_ORDER_MARK):
        reason = "line is not valid JSON: it starts with a byte-order mark (U+FEFF); write UTF-8 without a BOM"
        return _rejected(number, raw, reason, Code.MALFORMED)
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as error:
        return _rejected(number, raw, _json_error_reason(error), Code.MALFORMED)
    except RecursionError:
        # Python's parser recursed hundreds of levels deep, far beyond the limit.
        return _rejected(number, raw, f"nesting deeper than {DEPTH_MAX} levels", Code.TOO_DEEP)
    if type(value) is not dict and type(value) is not _RepeatedKeys:
        return _rejected(number, raw, f"expected one JSON object per line; got {_describe(value)}", Code.MALFORMED)
    identifier = _readable_id(value)
    try:
        # A lone surrogate cannot be encoded as UTF-8, so encoding is also the surrogate check.
        canonical = _canonical(value, 1).encode("utf-8")
    except _Strictness as error:
        return _rejected(number, raw, str(error), error.code, identifier)
    except UnicodeEncodeError as error:
        return _rejected(number, raw, _surrogate_reason(error.object[error.start]), Code.MALFORMED, identifier)
    fingerprint = hashlib.blake2b(canonical, digest_size=FINGERPRINT_BYTES).digest()
    event, problem = _type_event(value)
    return ParsedLine(number, raw, identifier, fingerprint, event, problem)


# --- The fast path for plain lines ------------------------------------------------------
#
# Nearly every line of a real log is a compact flat object whose values are strings without
# escapes. orjson reads such a line in C and is strict where SPEC §4 is (UTF-8, no NaN, no
# lone surrogate, nothing after the object); what it does not check is settled by the shape:
# with no backslash, writing the object back compactly gives the line's exact length unless a
# repeated key was dropped (or the line had white space or a number: then the general path
# reads it). With only string values there is no number whose text could be lost, and the
# sorted compact form is the canonical text of `_canonical`.


def _parsed_plain(number: int, raw: bytes) -> ParsedLine | None:
    """The parse of a compact, flat, all-string line, or None to read it the general way."""
    if b"\\" in raw:
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict:
        return None
    event = _utilization_fast(obj)  # only all-string utilization lines pass it
    if event is None:
        for value in obj.values():
            if type(value) is not str:
                return None
    if len(orjson.dumps(obj)) != len(raw):
        return None
    problem = None
    if event is None:
        event, problem = _type_event(obj)
    canonical = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    fingerprint = hashlib.blake2b(canonical, digest_size=FINGERPRINT_BYTES).digest()
    identifier = obj.get("id")
    return ParsedLine(number, raw, identifier if type(identifier) is str else None, fingerprint, event, problem)


_UTILIZATION_KEYS = frozenset({"id", "type", "agreement", "pool", "start", "end", "available_gpu_hours", "sold_gpu_hours"})


def _utilization_fast(obj: dict) -> Utilization | None:
    """A well-formed utilization event typed in one pass, or None to let `_type_event` judge it.

    It accepts exactly what `_type_event` accepts for such a line and builds the same value;
    anything doubtful is left to `_type_event`, which also words the reasons.
    """
    if obj.get("type") != "utilization" or obj.keys() != _UTILIZATION_KEYS:
        return None
    identifier, agreement, pool = obj["id"], obj["agreement"], obj["pool"]
    start_text, end_text = obj["start"], obj["end"]
    available_text, sold_text = obj["available_gpu_hours"], obj["sold_gpu_hours"]
    if (
        type(identifier) is not str or not 0 < len(identifier) <= ID_CHARS_MAX
        or type(agreement) is not str or type(pool) is not str
        or type(start_text) is not str or type(end_text) is not str
        or type(available_text) is not str or type(sold_text) is not str
        or len(start_text) > TIMESTAMP_CHARS_MAX or len(end_text) > TIMESTAMP_CHARS_MAX
    ):
        return None
    available, sold = _quantity(available_text), _quantity(sold_text)
    if available is None or sold is None or sold < 0 or sold > available:
        return None
    start, _ = timestamp_from_text(start_text)
    end, _ = timestamp_from_text(end_text)
    if start is None or end is None or not start < end:
        return None
    # Interned names and shared quantities: an engine without a lock keeps every input event.
    return Utilization(identifier, sys.intern(agreement), sys.intern(pool), start, end, available, sold)


class PlainUtilization(NamedTuple):
    """The parts of a plain utilization line the replay needs, with the line's own texts."""

    id: str
    agreement: str
    pool: str
    start: str
    end: str
    available_gpu_hours: Decimal
    sold_gpu_hours: Decimal
    values: str  # "available sold", as the line wrote them


_PLAIN_MEMBERS = len(_UTILIZATION_KEYS)
_PLAIN_QUOTES = 4 * _PLAIN_MEMBERS
_ZERO = Decimal(0)


def read_plain_utilization(raw: bytes) -> tuple | None:
    """A flat, all-string utilization line that `parse_line` would type without a problem,
    as a plain tuple in the order of `PlainUtilization`'s fields (it is built per line).

    This is the replay's fast lane, for the lines that make up nearly all of a real log: one
    orjson read and type checks, with the timestamps left as text for the replay to look up
    and no fingerprint: `plain_fingerprint` makes it from these texts if the id is ever
    repeated. On None nothing is lost: the line takes the general path.

    orjson is as strict as SPEC §4 (UTF-8, no lone surrogate, no NaN, nothing after the
    object) but keeps the last of repeated keys silently. Counting quotes settles that:
    eight distinct members with string values hold at least 32 quotes, exactly 32 when no
    quote is escaped, and a repeated key adds at least its own two.
    The caller must still accept only timestamps `timestamp_from_text` reads, start before end.
    """
    if raw.count(b'"') != _PLAIN_QUOTES:
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or len(obj) != _PLAIN_MEMBERS:
        return None
    try:  # eight members, all of these: exactly the fields of a utilization event
        identifier, kind, agreement, pool = obj["id"], obj["type"], obj["agreement"], obj["pool"]
        start, end = obj["start"], obj["end"]
        available_text, sold_text = obj["available_gpu_hours"], obj["sold_gpu_hours"]
    except KeyError:
        return None
    if (
        kind != "utilization"
        or type(identifier) is not str or not 0 < len(identifier) <= ID_CHARS_MAX
        or type(agreement) is not str or type(pool) is not str
        or type(start) is not str or type(end) is not str
        or type(available_text) is not str or type(sold_text) is not str
    ):
        return None
    available = _QUANTITIES.get(available_text) or _quantity(available_text)
    sold = _QUANTITIES.get(sold_text) or _quantity(sold_text)
    if available is None or sold is None or sold < _ZERO or sold > available:
        return None
    return identifier, agreement, pool, start, end, available, sold, available_text + " " + sold_text


def plain_fingerprint(identifier: str, agreement: str, pool: str, start: str, end: str, values: str) -> bytes:
    """The fingerprint of a plain utilization line, from the texts `read_plain_utilization` gave."""
    available, sold = values.split(" ")
    canonical = orjson.dumps({
        "agreement": agreement, "available_gpu_hours": available, "end": end, "id": identifier, "pool": pool,
        "sold_gpu_hours": sold, "start": start, "type": "utilization",
    }, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=FINGERPRINT_BYTES).digest()


_QUANTITIES: dict[str, Decimal] = {}
_QUANTITIES_MAX = 8_192


def _quantity(text: str) -> Decimal | None:
    """A SPEC decimal read from its text, shared between the events that repeat it; None if not one."""
    found = _QUANTITIES.get(text)
    if found is None:
        if _DECIMAL_WITHIN_BOUNDS.fullmatch(text) is None:
            return None
        if len(_QUANTITIES) >= _QUANTITIES_MAX:
            _QUANTITIES.clear()
        found = _QUANTITIES[text] = Decimal(text)
    return found


def _joined(problems: list[Problem]) -> Problem:
    """Several problems as one reason; the line's code is the first one's."""
    return problems[0] if len(problems) == 1 else Problem("; ".join(problems), problems[0].code)


def _rejected(number: int, raw: bytes, problem: str, code: Code, identifier: str | None = None) -> ParsedLine:
    return ParsedLine(number, raw, identifier, None, None, Problem(problem, code))


def _json_error_reason(error: json.JSONDecodeError) -> str:
    if error.msg == "Extra data":
        return f"line is not valid JSON: extra data after the JSON object at column {error.colno} (one object per line)"
    # Some of Python's messages ("Unterminated string starting at") end in "at" already.
    message = error.msg.removesuffix(" at")
    return f"line is not valid JSON: {message} at column {error.colno}"


def _readable_id(obj: dict) -> str | None:
    """The object's `id` if it is one string that a report can print; else None."""
    identifier = obj.get("id")
    if type(identifier) is not str:
        return None
    if type(obj) is _RepeatedKeys and "id" in obj.repeated:
        return None  # which of the ids would it be?
    if _SURROGATE.search(identifier) is not None:
        return None
    return identifier


class _Strictness(Exception):
    """The value breaks a rule of strict JSON that Python's decoder let through."""

    def __init__(self, message: str, code: Code) -> None:
        super().__init__(message)
        self.code = code


def _canonical(value: Any, depth: int) -> str:
    """The canonical text of a JSON value, or `_Strictness` if it is not strict JSON.

    The text is compact JSON with members sorted by key, strings escaped one way only, and
    numbers as written, so two values have the same text exactly when SPEC §7 calls them
    equal. `depth` is the level a container at this position has. Strings, by far the most
    common members, are quoted in place rather than through a call.
    """
    kind = type(value)
    if kind is dict:
        if depth > DEPTH_MAX:
            raise _Strictness(f"nesting deeper than {DEPTH_MAX} levels", Code.TOO_DEEP)
        members = []
        for key in sorted(value):
            item = value[key]
            text = _quote(item) if type(item) is str else _canonical(item, depth + 1)
            members.append(f"{_quote(key)}:{text}")
        return "{" + ",".join(members) + "}"
    if kind is str:
        return _quote(value)
    if kind is JsonNumber:
        return value.text
    if kind is list:
        if depth > DEPTH_MAX:
            raise _Strictness(f"nesting deeper than {DEPTH_MAX} levels", Code.TOO_DEEP)
        items = [_quote(item) if type(item) is str else _canonical(item, depth + 1) for item in value]
        return "[" + ",".join(items) + "]"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if kind is _RepeatedKeys:
        if depth > DEPTH_MAX:
            raise _Strictness(f"nesting deeper than {DEPTH_MAX} levels", Code.TOO_DEEP)
        raise _Strictness(f"repeated key {_show(value.repeated[0])} in an object", Code.REPEATED_KEY)
    if kind is _NonFinite:
        raise _Strictness(f"{value.text} is not valid JSON (strict JSON has no NaN or Infinity)", Code.MALFORMED)
    raise AssertionError(f"json decoder produced an unexpected {kind.__name__}")


def _surrogate_reason(surrogate: str) -> str:
    return f"a string holds a lone surrogate \\u{ord(surrogate):04x}, which is not valid Unicode"


# --- Messages ----------------------------------------------------------------------------


def _show(text: str) -> str:
    """A string as JSON text for a reason, cut short; lone surrogates escaped."""
    if len(text) > SHOWN_CHARS_MAX:
        text = text[: SHOWN_CHARS_MAX - 1] + "…"
    shown = json.dumps(text, ensure_ascii=False)
    return json.dumps(text) if _SURROGATE.search(shown) else shown


def _describe(value: Any) -> str:
    """What a JSON value is, for "got …" in a reason."""
    kind = type(value)
    if kind is str:
        return f"the string {_show(value)}"
    if kind is JsonNumber:
        text = value.text
        return f"the JSON number {text if len(text) <= SHOWN_CHARS_MAX else text[: SHOWN_CHARS_MAX - 1] + '…'}"
    if value is True:
        return "the JSON value true"
    if value is False:
        return "the JSON value false"
    if value is None:
        return "null"
    if kind is list:
        return "a JSON array"
    if kind is _NonFinite:
        return value.text
    return "a JSON object"


# --- Stage 3: typing ---------------------------------------------------------------------


class _Invalid(Exception):
    """A field's value breaks its rule; the message says how, without the field path."""

    def __init__(self, message: str, code: Code = Code.FIELD) -> None:
        super().__init__(message)
        self.code = code


def _read_string(value: Any) -> str:
    if type(value) is str:
        return value
    raise _Invalid(f"expected a string; got {_describe(value)}")


# The SPEC decimal with its digit bounds in one pattern: the common case costs one match.
# `decimal_text_problem` stays the authority; it explains every text this does not accept.
_DECIMAL_WITHIN_BOUNDS = re.compile(
    rf"-?[0-9]{{1,{INTEGER_DIGITS_MAX}}}(?:\.[0-9]{{1,{FRACTION_DIGITS_MAX}}})?"
)


def _read_decimal(value: Any) -> Decimal:
    kind = type(value)
    if kind is str:
        if _DECIMAL_WITHIN_BOUNDS.fullmatch(value) is not None:
            return Decimal(value)
        problem = decimal_text_problem(value)
        if problem is None:
            return Decimal(value)
        if DECIMAL_TEXT.fullmatch(value) is None:
            raise _Invalid(
                'expected a decimal string like "2.10" or "-5" (digits with an optional point and '
                f"leading minus; no exponent, plus sign, spaces or separators); got {_show(value)}", Code.NUMBER
            )
        raise _Invalid(f"{problem}; got {_show(value)}", Code.NUMBER)
    if kind is JsonNumber:
        if value.is_integer:
            if _DECIMAL_WITHIN_BOUNDS.fullmatch(value.text) is not None:
                return Decimal(value.text)
            problem = decimal_text_problem(value.text)
            if problem is not None:
                raise _Invalid(f"{problem}; got {_describe(value)}", Code.NUMBER)
            return Decimal(value.text)
        raise _Invalid(
            f"give decimal amounts as strings, like {_suggested_text(value.text)}; got {_describe(value)}", Code.NUMBER
        )
    raise _Invalid(f'expected a decimal string like "2.10"; got {_describe(value)}')


def _suggested_text(number_text: str) -> str:
    """The string a JSON number with a fraction or exponent should have been, if one fits."""
    try:
        exact = Decimal(number_text)
    except InvalidOperation:  # an exponent beyond what Decimal can hold
        return '"2.10"'
    if -FRACTION_DIGITS_MAX <= exact.adjusted() <= INTEGER_DIGITS_MAX:
        plain = f"{exact:f}"
        if decimal_text_problem(plain) is None:
            return f'"{plain}"'
    return '"2.10"'


def _decimal_text(value: Decimal) -> str:
    """A decimal for a reason, as plain digits (never `0E-7`)."""
    return f"{value:f}"


def _read_count(value: Any) -> int:
    kind = type(value)
    if kind is JsonNumber and value.is_integer:
        digits = len(value.text.lstrip("-"))
        if digits > COUNT_DIGITS_MAX:
            raise _Invalid(f"has {digits} digits; at most {COUNT_DIGITS_MAX} allowed", Code.NUMBER)
        count = int(value.text)
        if count < 1:
            raise _Invalid(f"must be at least 1; got {value.text}", Code.NUMBER)
        return count
    if kind is str:
        raise _Invalid(f"expected a JSON integer like 1000, not a string; got {_describe(value)}", Code.NUMBER)
    code = Code.NUMBER if kind is JsonNumber else Code.FIELD  # a fraction is a count out of form; true is no count
    raise _Invalid(f"expected a whole number like 1000 (a JSON integer); got {_describe(value)}", code)


_DATE_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIMESTAMP_TEXT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})([Tt])([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]*))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?"
)
_TIMESTAMP_EXAMPLE = '"2026-01-01T00:00:00Z"'
TIMESTAMP_CHARS_MAX = 40  # longer texts are never valid dates or timestamps


def _read_date(value: Any) -> date:
    if type(value) is not str:
        raise _Invalid(f'expected a date string like "2026-01-31"; got {_describe(value)}')
    if len(value) > TIMESTAMP_CHARS_MAX:
        raise _Invalid(f'expected a date like "2026-01-31" (YYYY-MM-DD); got {_show(value)}', Code.DATE)
    day, problem = _date_from_text(value)
    if problem is not None:
        raise _Invalid(problem, Code.DATE)
    return day


@lru_cache(maxsize=4096)
def _date_from_text(text: str) -> tuple[date | None, str | None]:
    match = _DATE_TEXT.fullmatch(text)
    if match is None:
        return None, f'expected a date like "2026-01-31" (YYYY-MM-DD); got {_show(text)}'
    try:
        return date(int(match[1]), int(match[2]), int(match[3])), None
    except ValueError:
        return None, f"{_show(text)} is not a calendar date"


def _read_timestamp(value: Any) -> datetime:
    if type(value) is not str:
        raise _Invalid(f"expected a timestamp string like {_TIMESTAMP_EXAMPLE}; got {_describe(value)}")
    if len(value) > TIMESTAMP_CHARS_MAX:
        raise _Invalid(_timestamp_shape_reason(value), Code.DATE)
    moment, problem = timestamp_from_text(value)
    if problem is not None:
        raise _Invalid(problem, Code.DATE)
    return moment


def _timestamp_shape_reason(text: str) -> str:
    return (
        f"expected a timestamp like {_TIMESTAMP_EXAMPLE} "
        f"(YYYY-MM-DDTHH:MM:SS, optionally .ffffff, then Z or ±HH:MM); got {_show(text)}"
    )


# The form nearly every report uses, whole seconds in UTC, which `datetime.fromisoformat`
# reads in C; it checks the ranges too (hour 24, second 60 and 30 February raise).
_UTC_SECONDS_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@lru_cache(maxsize=8192)  # reports cluster in time: recent timestamps repeat, old ones do not
def timestamp_from_text(text: str) -> tuple[datetime | None, str | None]:
    """A SPEC §2 timestamp as an aware UTC datetime, or why the text is not one."""
    if _UTC_SECONDS_TEXT.fullmatch(text) is not None:
        try:
            return datetime.fromisoformat(text), None
        except ValueError:
            pass  # the general reading below says why
    match = _TIMESTAMP_TEXT.fullmatch(text)
    if match is None:
        return None, _timestamp_shape_reason(text)
    year, month, day, t, hour, minute, second, fraction, zulu, sign, offset_hour, offset_minute = match.groups()
    shown = _show(text)
    if t != "T":
        return None, f'timestamp needs an upper-case "T" between date and time; got {shown}'
    if zulu is None and sign is None:
        return None, f"timestamp needs a UTC offset like Z or +02:00; got {shown}"
    if zulu == "z":
        return None, f'timestamp needs an upper-case "Z"; got {shown}'
    if fraction is not None and not 1 <= len(fraction) <= 6:
        return None, f"timestamp needs 1 to 6 digits after the point of the seconds; got {shown}"
    if int(hour) > 23 or int(minute) > 59 or int(second) > 59:
        return None, f"time of day out of range (hours 00-23, minutes and seconds 00-59, no leap second); got {shown}"
    if sign is not None and (int(offset_hour) > 23 or int(offset_minute) > 59):
        return None, f"UTC offset out of range (hours 00-23, minutes 00-59); got {shown}"
    if sign is None:
        zone = timezone.utc
    else:
        offset = timedelta(hours=int(offset_hour), minutes=int(offset_minute))
        zone = timezone(offset if sign == "+" else -offset)
    microsecond = int(fraction.ljust(6, "0")) if fraction else 0
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond, zone)
    except ValueError:
        return None, f"{_show(text[:10])} is not a calendar date; got {shown}"
    try:
        return local.astimezone(timezone.utc), None
    except OverflowError:
        return None, f"timestamp is out of range once converted to UTC; got {shown}"


_PERIOD_SHAPE = re.compile(r"[0-9]{4}-(?:[0-9]{2}|Q[0-9])")


def _read_period(value: Any) -> str:
    if type(value) is not str:
        raise _Invalid(f'expected a period id string like "2026-01" or "2026-Q1"; got {_describe(value)}')
    if PERIOD_ID.fullmatch(value) is None:
        # Shaped like a period id but no month or quarter (2026-13, 2026-Q5): it names no period.
        code = Code.UNKNOWN_REFERENCE if _PERIOD_SHAPE.fullmatch(value) else Code.FIELD
        raise _Invalid(f'expected a period id like "2026-01" (monthly) or "2026-Q1" (quarterly); got {_show(value)}', code)
    return value


def _read_object(value: Any) -> dict:
    if type(value) is dict:
        return value
    raise _Invalid(f"expected a JSON object; got {_describe(value)}")


def _read_true(value: Any) -> bool:
    if value is True:
        return True
    raise _Invalid(f"must be true when present (leave it out otherwise); got {_describe(value)}")


Reader = Callable[[Any], Any]
REQUIRED, OPTIONAL, UNREAD = "required", "optional", "unread"
_COMMON_FIELDS = ("id", "type", "agreement", "meta")

# Each event type's own fields (SPEC §4 table), in the order reasons report them. An
# UNREAD field is allowed but read by the type's rule function (exercise.fair_market_value,
# which is read only for a net exercise).
_FIELDS: dict[str, dict[str, tuple[Reader | None, str]]] = {
    "utilization": {
        "pool": (_read_string, REQUIRED),
        "start": (_read_timestamp, REQUIRED),
        "end": (_read_timestamp, REQUIRED),
        "available_gpu_hours": (_read_decimal, REQUIRED),
        "sold_gpu_hours": (_read_decimal, REQUIRED),
    },
    "revenue": {
        "period": (_read_period, REQUIRED),
        "amount": (_read_decimal, REQUIRED),
        "currency": (_read_string, REQUIRED),
    },
    "correction": {
        "corrects": (_read_string, REQUIRED),
        "replacement": (_read_object, OPTIONAL),
        "void": (_read_true, OPTIONAL),
    },
    "close": {
        "period": (_read_period, REQUIRED),
    },
    "true_up": {
        "date": (_read_date, REQUIRED),
    },
    "payment": {
        "payer": (_read_string, REQUIRED),
        "payee": (_read_string, REQUIRED),
        "amount": (_read_decimal, REQUIRED),
        "currency": (_read_string, REQUIRED),
        "date": (_read_date, REQUIRED),
        "applies_to": (_read_string, OPTIONAL),
    },
    "share_price": {
        "date": (_read_date, REQUIRED),
        "price": (_read_decimal, REQUIRED),
        "volume": (_read_decimal, REQUIRED),
    },
    "stock_split": {
        "date": (_read_date, REQUIRED),
        "numerator": (_read_count, REQUIRED),
        "denominator": (_read_count, REQUIRED),
    },
    "exercise": {
        "tranche": (_read_string, REQUIRED),
        "shares": (_read_count, REQUIRED),
        "method": (_read_string, REQUIRED),
        "date": (_read_date, REQUIRED),
        "fair_market_value": (None, UNREAD),
    },
    "guarantee_call": {
        "date": (_read_date, REQUIRED),
        "obligation": (_read_string, REQUIRED),
    },
}
EVENT_TYPES = tuple(_FIELDS)
_ALLOWED = {name: frozenset(fields) | frozenset(_COMMON_FIELDS) for name, fields in _FIELDS.items()}


def _type_event(obj: dict) -> tuple[Event | None, Problem | None]:
    """The event a strict-JSON object stands for, or every reason it cannot be one."""
    problems: list[Problem] = []
    identifier = _common_string(obj, "id", problems)
    if identifier is not None:
        if not identifier:
            problems.append(Problem("id: must not be empty", Code.FIELD))
        elif len(identifier) > ID_CHARS_MAX:
            problems.append(Problem(f"id: has {len(identifier)} characters; at most {ID_CHARS_MAX} allowed", Code.FIELD))
    agreement = _common_string(obj, "agreement", problems)
    if "meta" in obj:
        meta = obj["meta"]
        if meta is None:
            problems.append(Problem(_null_reason("meta", optional=True), Code.FIELD))
        elif type(meta) is not dict:
            problems.append(Problem(f"meta: expected a JSON object; got {_describe(meta)}", Code.FIELD))
    type_name = _type_name(obj, problems)
    if type_name is None:
        return None, _joined(problems)
    fields = _FIELDS[type_name]
    allowed = _ALLOWED[type_name]
    if not obj.keys() <= allowed:
        unknown = [key for key in obj if key not in allowed]
        for key in unknown[:UNKNOWN_FIELDS_SHOWN_MAX]:
            suggestion = _did_you_mean(key, sorted(allowed))
            problems.append(Problem(f"unknown field {_show(key)} in a {type_name} event{suggestion}", Code.FIELD))
        _note_more_unknown_fields(unknown, problems)
    values = _read_fields(obj, fields, type_name, problems)
    if problems:
        return None, _joined(problems)
    _RULES[type_name](obj, values, type_name, problems)
    if problems:
        return None, _joined(problems)
    return _BUILDERS[type_name](identifier, agreement, values), None


def _common_string(obj: dict, field: str, problems: list[Problem]) -> str | None:
    if field not in obj:
        problems.append(Problem(f"{field}: missing; every event needs one", Code.FIELD))
        return None
    value = obj[field]
    if type(value) is str:
        return value
    if value is None:
        problems.append(Problem(_null_reason(field, optional=False), Code.FIELD))
    else:
        problems.append(Problem(f"{field}: expected a string; got {_describe(value)}", Code.FIELD))
    return None


def _type_name(obj: dict, problems: list[Problem]) -> str | None:
    expected = ", ".join(EVENT_TYPES)
    if "type" not in obj:
        problems.append(Problem(f"type: missing; expected one of {expected}", Code.FIELD))
        return None
    value = obj["type"]
    if type(value) is not str:
        if value is None:
            problems.append(Problem(_null_reason("type", optional=False), Code.FIELD))
        else:
            problems.append(Problem(f"type: expected a string; got {_describe(value)}", Code.FIELD))
        return None
    if value not in _FIELDS:
        problems.append(Problem(f"type: unknown event type {_show(value)}; expected one of {expected}", Code.FIELD))
        return None
    return value


def _note_more_unknown_fields(unknown: list[str], problems: list[Problem]) -> None:
    # A line may hold thousands of unknown fields; naming a few is enough to fix it.
    if len(unknown) > UNKNOWN_FIELDS_SHOWN_MAX:
        problems.append(Problem(f"and {len(unknown) - UNKNOWN_FIELDS_SHOWN_MAX} more unknown fields", Code.FIELD))


def _did_you_mean(key: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(key, candidates, n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _null_reason(path: str, *, optional: bool) -> str:
    if optional:
        return f"{path}: null is not a value; leave the field out instead"
    return f"{path}: null is not a value; this field is required"


def _read_fields(obj: dict, fields: dict, path: str, problems: list[Problem]) -> dict[str, Any]:
    """Read every present field with its reader; note missing required fields and nulls."""
    values: dict[str, Any] = {}
    for field, (reader, presence) in fields.items():
        if reader is None:
            continue
        if field not in obj:
            if presence is REQUIRED:
                problems.append(Problem(f"{path}.{field}: missing; this field is required", Code.FIELD))
            continue
        value = obj[field]
        if value is None:
            problems.append(Problem(_null_reason(f"{path}.{field}", optional=presence is OPTIONAL), Code.FIELD))
            continue
        try:
            values[field] = reader(value)
        except _Invalid as error:
            problems.append(Problem(f"{path}.{field}: {error}", error.code))
    return values


# --- Value rules judged on the line alone: (object, read values, path, problems) -> None --


def _utilization_rules(obj: dict, values: dict, path: str, problems: list[Problem]) -> None:
    start, end = values["start"], values["end"]
    if not start < end:
        problems.append(Problem(f"{path}.end: must be after start; got start {_utc_text(start)} and end {_utc_text(end)}", Code.INTERVAL))
    available, sold = values["available_gpu_hours"], values["sold_gpu_hours"]
    if available < 0:
        problems.append(Problem(f"{path}.available_gpu_hours: must not be negative; got {_decimal_text(available)}", Code.NUMBER))
    if sold < 0:
        problems.append(Problem(f"{path}.sold_gpu_hours: must not be negative; got {_decimal_text(sold)}", Code.NUMBER))
    elif available >= 0 and sold > available:
        problems.append(Problem(
            f"{path}.sold_gpu_hours: sold above available "
            f"({_decimal_text(sold)} sold, {_decimal_text(available)} available)", Code.CAPACITY
        ))


def _utc_text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _no_rules(obj: dict, values: dict, path: str, problems: list[Problem]) -> None:
    return None


def _correction_rules(obj: dict, values: dict, path: str, problems: list[Problem]) -> None:
    has_replacement, has_void = "replacement" in values, "void" in values
    if has_replacement and has_void:
        problems.append(Problem(f"{path}: give exactly one of replacement or void; got both", Code.FIELD))
    elif not has_replacement and not has_void:
        problems.append(Problem(f"{path}: give exactly one of replacement (an object) or void: true; got neither", Code.FIELD))


def _payment_rules(obj: dict, values: dict, path: str, problems: list[Problem]) -> None:
    if values["amount"] <= 0:
        problems.append(Problem(f"{path}.amount: must be > 0; got {_decimal_text(values['amount'])}", Code.NUMBER))
    if values["payer"] == values["payee"]:
        problems.append(Problem(f"{path}.payee: must differ from payer; both are {_show(values['payer'])}", Code.UNKNOWN_REFERENCE))


def _share_price_rules(obj: dict, values: dict, path: str, problems: list[Problem]) -> None:
    for field in ("price", "volume"):
        if values[field] <= 0:
            problems.append(Problem(f"{path}.{field}: must be > 0; got {_decimal_text(values[field])}", Code.NUMBER))


def _exercise_rules(obj: dict, values: dict, path: str, problems: list[Problem]) -> None:
    method = values["method"]
    if method not in ("cash", "net"):
        problems.append(Problem(f'{path}.method: expected "cash" or "net"; got {_show(method)}', Code.FIELD))
        return
    if method == "cash":
        return  # SPEC §4: fair_market_value is not read for a cash exercise
    field = "fair_market_value"
    if field not in obj:
        problems.append(Problem(f"{path}.{field}: missing; a net exercise needs it", Code.FIELD))
        return
    if obj[field] is None:
        problems.append(Problem(_null_reason(f"{path}.{field}", optional=False), Code.FIELD))
        return
    try:
        value = _read_decimal(obj[field])
    except _Invalid as error:
        problems.append(Problem(f"{path}.{field}: {error}", error.code))
        return
    if value <= 0:
        problems.append(Problem(f"{path}.{field}: must be > 0; got {_decimal_text(value)}", Code.NUMBER))
        return
    values[field] = value


_RULES: dict[str, Callable[[dict, dict, str, list[Problem]], None]] = {
    "utilization": _utilization_rules,
    "revenue": _no_rules,
    "correction": _correction_rules,
    "close": _no_rules,
    "true_up": _no_rules,
    "payment": _payment_rules,
    "share_price": _share_price_rules,
    "stock_split": _no_rules,
    "exercise": _exercise_rules,
    "guarantee_call": _no_rules,
}

_BUILDERS: dict[str, Callable[[str, str, dict], Event]] = {
    "utilization": lambda i, a, v: Utilization(
        i, a, v["pool"], v["start"], v["end"], v["available_gpu_hours"], v["sold_gpu_hours"]
    ),
    "revenue": lambda i, a, v: Revenue(i, a, v["period"], v["amount"], v["currency"]),
    "correction": lambda i, a, v: Correction(i, a, v["corrects"], v.get("replacement")),
    "close": lambda i, a, v: Close(i, a, v["period"]),
    "true_up": lambda i, a, v: TrueUp(i, a, v["date"]),
    "payment": lambda i, a, v: Payment(
        i, a, v["payer"], v["payee"], v["amount"], v["currency"], v["date"], v.get("applies_to")
    ),
    "share_price": lambda i, a, v: SharePrice(i, a, v["date"], v["price"], v["volume"]),
    "stock_split": lambda i, a, v: StockSplit(i, a, v["date"], v["numerator"], v["denominator"]),
    "exercise": lambda i, a, v: Exercise(
        i, a, v["tranche"], v["shares"], v["method"], v["date"], v.get("fair_market_value")
    ),
    "guarantee_call": lambda i, a, v: GuaranteeCall(i, a, v["date"], v["obligation"]),
}

_TYPE_NAMES = {Utilization: "utilization", Revenue: "revenue"}


def replacement(correction: Correction, kind: type) -> Utilization | Revenue | Problem:
    """Type a correction's replacement as the corrected event's type, or say why it can't be.

    The typed event takes the corrected event's id (`correction.corrects`) and the
    correction's agreement. The replacement holds exactly the fields of `kind` other than
    id, type, agreement and meta, and obeys the same rules; reasons start `replacement.`.
    """
    if correction.replacement is None:
        raise ValueError(f"correction {correction.id!r} is a void; it has no replacement to type")
    type_name = _TYPE_NAMES.get(kind)
    if type_name is None:
        raise ValueError(f"only utilization and revenue events can be corrected, not {kind.__name__}")
    obj = correction.replacement
    path = "replacement"
    fields = _FIELDS[type_name]
    problems: list[Problem] = []
    unknown = [key for key in obj if key not in fields]
    for key in unknown[:UNKNOWN_FIELDS_SHOWN_MAX]:
        suggestion = "" if key in _COMMON_FIELDS else _did_you_mean(key, list(fields))
        problems.append(Problem(
            f"{path}: unknown field {_show(key)}{suggestion}; a replacement of a {type_name} event "
            f"holds exactly {', '.join(fields)}", Code.FIELD
        ))
    _note_more_unknown_fields(unknown, problems)
    values = _read_fields(obj, fields, path, problems)
    if not problems:
        _RULES[type_name](obj, values, path, problems)
    if problems:
        return _joined(problems)
    return _BUILDERS[type_name](correction.corrects, correction.agreement, values)
