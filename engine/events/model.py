"""Typed events (SPEC §4), as the reader hands them to the replay.

These are immutable values checked for everything that can be checked on the line alone
(field names, types, decimal text, timestamps, counts, start < end, 0 ≤ sold ≤ available,
amounts and prices > 0, period-id shape). They are named tuples because a replay builds one
per line, and a named tuple costs a fraction of a frozen dataclass to build. Rules that need the agreement or the replay state
(pool known, period in the term and open, currency, parties, capacity, …) are the replay's.
Timestamps are converted to UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple, Union

from engine.rejection_codes import Code


class JsonNumber:
    """A JSON number kept as the text it was written with (`1.0`, `1.00` and `1` differ).

    The reader never turns a JSON number into a binary float: a decimal field reads the text
    exactly, a count field reads it as an integer, and the duplicate check compares texts.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    @property
    def is_integer(self) -> bool:
        """True when written without a fraction or an exponent."""
        return "." not in self.text and "e" not in self.text and "E" not in self.text

    def __eq__(self, other: object) -> bool:
        return type(other) is JsonNumber and other.text == self.text

    def __hash__(self) -> int:
        return hash((JsonNumber, self.text))

    def __repr__(self) -> str:
        return f"JsonNumber({self.text!r})"


class Utilization(NamedTuple):
    id: str
    agreement: str
    pool: str
    start: datetime
    end: datetime
    available_gpu_hours: Decimal
    sold_gpu_hours: Decimal


class Revenue(NamedTuple):
    id: str
    agreement: str
    period: str
    amount: Decimal
    currency: str


class Correction(NamedTuple):
    """Replaces (`replacement` set) or voids (`replacement` None) an earlier input event.

    The replacement's shape depends on the corrected event's type, which only the replay
    knows, so it is kept as the parsed JSON object and typed by `events.reader.replacement`:
    a `dict` whose values are `str`, `JsonNumber` (the number's text), `bool`, `list` or
    `dict`, never None or a float.
    """

    id: str
    agreement: str
    corrects: str
    replacement: dict | None


class Close(NamedTuple):
    id: str
    agreement: str
    period: str


class TrueUp(NamedTuple):
    id: str
    agreement: str
    date: date


class Payment(NamedTuple):
    id: str
    agreement: str
    payer: str
    payee: str
    amount: Decimal  # its exponent keeps the fraction digits as written
    currency: str
    date: date
    applies_to: str | None


class SharePrice(NamedTuple):
    id: str
    agreement: str
    date: date
    price: Decimal
    volume: Decimal


class StockSplit(NamedTuple):
    id: str
    agreement: str
    date: date
    numerator: int
    denominator: int


class Exercise(NamedTuple):
    id: str
    agreement: str
    tranche: str
    shares: int
    method: str  # "cash" | "net"
    date: date
    fair_market_value: Decimal | None  # None for cash: SPEC says it is not read


class GuaranteeCall(NamedTuple):
    """(v2) The lender calls the guarantor on a debt-service entry still unpaid after its cure period."""

    id: str
    agreement: str
    date: date
    obligation: str  # the id of the called `debt_service` entry


Event = Union[Utilization, Revenue, Correction, Close, TrueUp, Payment, SharePrice, StockSplit, Exercise, GuaranteeCall]


class Problem(str):
    """Why a line is rejected on its own: the reason users read, and in `code` the rejection
    code of semantics §7, given where the fault is found so that no one has to guess it
    from the words."""

    code: Code

    def __new__(cls, text: str, code: Code) -> Problem:
        problem = super().__new__(cls, text)
        problem.code = code
        return problem

    def __reduce__(self):
        # str's own pickling would rebuild the text alone and lose the code.
        return Problem, (str(self), self.code)


class ParsedLine(NamedTuple):
    """One non-blank line: the event, or why it was rejected on its own.

    `id` is set whenever the line is a JSON object with a string `id`, even if it is
    otherwise bad, so the replay can judge duplicates and conflicts. `fingerprint` is a
    digest of the JSON value with member order and white space aside and numbers compared
    by their text (SPEC §7); two lines are duplicates exactly when their fingerprints match.
    `problem` holds every reason the line is bad, with the code of the first.
    """

    number: int
    raw: bytes
    id: str | None
    fingerprint: bytes | None
    event: Event | None
    problem: Problem | None
