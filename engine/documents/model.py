"""Frozen pydantic models of an agreement version document (SPEC §3).

Values arrive already typed by the exact reader: plain integers as `int`, plain decimals as
`Decimal`, plain dates as `date`, everything quoted as `str`. The field types below accept
only the forms SPEC allows, so `"5"` is no integer and a plain `5` is no name. Rules that
involve several fields of one document are model validators on the smallest model that holds
those fields; they raise `RuleError`, which says which fields broke the rule, so the loader
can point at them. Rules across versions are the loader's (`engine.documents.versions`).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Any, Literal, Sequence, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from engine.calendar import settlement_periods
from engine.documents.errors import FieldPath, field_text
from engine.numbers import DECIMAL_TEXT, INTEGER_DIGITS_MAX, INTEGER_TEXT, decimal_text_problem

DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class RuleError(ValueError):
    """A document rule broken at one or more fields, given relative to the model checked."""

    def __init__(self, problems: Sequence[tuple[FieldPath, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{field_text(path) or 'document'}: {message}" for path, message in self.problems))


def shown(value: Any) -> str:
    """A value as it would be written in a document, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, (int, date)):
        return str(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _got(value: Any) -> str:
    """What a value was, with what it was read as, so a message says why it is not what is wanted."""
    if isinstance(value, (list, tuple, dict)):
        return shown(value)
    if isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, (int, Decimal)):
        kind = "a number"
    elif isinstance(value, str):
        kind = "a string"
    elif isinstance(value, date):
        kind = "a date"
    else:
        return shown(value)
    return f"{shown(value)} ({kind})"


def _decimal(value: Any) -> Decimal:
    wrong_type = isinstance(value, bool) or not isinstance(value, (int, Decimal, str))
    if wrong_type or isinstance(value, str) and not DECIMAL_TEXT.fullmatch(value):
        raise ValueError(f'expected a decimal like 2.10 or "2.10"; got {_got(value)}')
    if isinstance(value, int):
        digits = len(str(abs(value)))
        if digits > INTEGER_DIGITS_MAX:
            raise ValueError(f"has {digits} digits; at most {INTEGER_DIGITS_MAX} allowed")
        return Decimal(value)
    # A Decimal read by the reader keeps the exponent of its text, so `:f` gives that text back.
    text = value if isinstance(value, str) else f"{value:f}"
    problem = decimal_text_problem(text)
    if problem:
        raise ValueError(problem)
    return Decimal(text)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        hint = "; write it without quotes" if isinstance(value, str) and INTEGER_TEXT.fullmatch(value) else ""
        raise ValueError(f"expected an integer like 30; got {_got(value)}{hint}")
    return value


def _string(value: Any) -> str:
    # YAML 1.2 has no date type: a plain `2026-01-01` is text there, so it is text here too.
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, dict)):
        raise ValueError(f"expected a string; got {shown(value)}")
    if not isinstance(value, str):
        raise ValueError(f'expected a string; got {_got(value)}: quote it ("{shown(value)}")')
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false; got {_got(value)}")


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and DATE_TEXT.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a calendar date") from None
    raise ValueError(f"expected a date like 2026-01-01; got {_got(value)}")


def _pattern(regex: str, what: str):
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{what} must match ^{regex}$; got {shown(value)}")
        return value

    return check


def _bounded(low: Decimal | None = None, high: Decimal | None = None, *, low_open: bool = False):
    def check(value: Decimal) -> Decimal:
        if low is not None and (value <= low if low_open else value < low):
            raise ValueError(f"must be {'>' if low_open else '>='} {low}; got {shown(value)}")
        if high is not None and value > high:
            raise ValueError(f"must be <= {high}; got {shown(value)}")
        return value

    return check


def _int_range(low: int, high: int | None = None):
    def check(value: int) -> int:
        if value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f">= {low}"
            raise ValueError(f"must be {bound}; got {value}")
        return value

    return check


def fraction_digits_written(value: Decimal) -> int:
    """Fraction digits as written: `Decimal("100.000")` has three (SPEC §1)."""
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


DecimalValue = Annotated[Decimal, BeforeValidator(_decimal)]
PositiveDecimal = Annotated[DecimalValue, AfterValidator(_bounded(Decimal(0), low_open=True))]
Rate = Annotated[DecimalValue, AfterValidator(_bounded(Decimal(0), Decimal(1)))]
Integer = Annotated[int, BeforeValidator(_integer)]
Boolean = Annotated[bool, BeforeValidator(_boolean)]
Days = Annotated[Integer, AfterValidator(_int_range(0, 365))]
Text = Annotated[str, BeforeValidator(_string)]
Day = Annotated[date, BeforeValidator(_date)]
AgreementId = Annotated[Text, AfterValidator(_pattern(r"[a-z0-9][a-z0-9._-]{0,63}", "an agreement id"))]
Name = Annotated[Text, AfterValidator(_pattern(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", "a name"))]
Currency = Annotated[Text, AfterValidator(_pattern(r"[A-Z]{3}", "a currency code"))]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Rounding(Frozen):
    places: Annotated[Integer, AfterValidator(_int_range(0, 6))] = 2
    mode: Literal["half_even", "half_up", "down"] = "half_even"


class LateInterest(Frozen):
    annual_rate: Rate
    day_count: Literal["ACT/365F", "ACT/360"]


class Settlement(Frozen):
    period: Literal["monthly", "quarterly"]
    payment_terms_days: Days = 30
    rounding: Rounding = Rounding()
    late_interest: LateInterest | None = None
    lock_after_periods: Annotated[Integer, AfterValidator(_int_range(0))] | None = None


class Parties(Frozen):
    provider: Name
    guarantor: Name
    lender: Name | None = None  # (v2) the third party, to whom the provider owes debt service

    @model_validator(mode="after")
    def _distinct(self) -> Parties:
        problems = []
        if self.provider == self.guarantor:
            problems.append((("guarantor",), f"must differ from parties.provider; both are {shown(self.provider)}"))
        for other in ("provider", "guarantor"):
            if self.lender is not None and self.lender == getattr(self, other):
                problems.append((("lender",), f"must differ from parties.{other}; both are {shown(self.lender)}"))
        if problems:
            raise RuleError(problems)
        return self


class Term(Frozen):
    start: Day
    end: Day

    @model_validator(mode="after")
    def _start_before_end(self) -> Term:
        if self.start >= self.end:
            raise RuleError([(("end",), f"must be after term.start ({self.start}); got {self.end}")])
        return self


class Pool(Frozen):
    id: Name
    gpu_model: Text
    gpus: Annotated[Integer, AfterValidator(_int_range(1))]


class Backstop(Frozen):
    rate_per_gpu_hour: dict[Text, PositiveDecimal]
    threshold: Annotated[DecimalValue, AfterValidator(_bounded(Decimal(0), Decimal(1), low_open=True))]
    covers: Literal["shortfall", "idle"] = "shortfall"
    cap: PositiveDecimal | None = None


FromYear = Annotated[Integer, AfterValidator(_int_range(1))]


def _year_problems(steps: Sequence[Any], list_name: str) -> list[tuple[FieldPath, str]]:
    """A schedule starts in contract year 1 and its `from_year` strictly increases."""
    problems = []
    if steps[0].from_year != 1:
        message = f"the first step starts in year 1; got {steps[0].from_year}"
        problems.append(((list_name, 0, "from_year"), message))
    for index, (before, step) in enumerate(pairwise(steps), start=1):
        if step.from_year <= before.from_year:
            message = f"must be greater than the step before's ({before.from_year}); got {step.from_year}"
            problems.append(((list_name, index, "from_year"), message))
    return problems


class Step(Frozen):
    from_year: FromYear
    rate: Rate


class RevenueShare(Frozen):
    steps: tuple[Step, ...] = Field(min_length=1)
    above_floor: Boolean = False  # (v2) the share applies to the revenue above the period's floor

    @model_validator(mode="after")
    def _step_down_schedule(self) -> RevenueShare:
        problems = _year_problems(self.steps, "steps")
        for index, (before, step) in enumerate(pairwise(self.steps), start=1):
            if step.rate > before.rate:
                message = (
                    f"must not exceed the step before's rate ({shown(before.rate)}): the schedule steps down, "
                    f"a rise is an error; got {shown(step.rate)}"
                )
                problems.append((("steps", index, "rate"), message))
        if problems:
            raise RuleError(problems)
        return self


class AmountStep(Frozen):
    """(v2) One step of an amount schedule: the amount for a whole calendar month or quarter."""

    from_year: FromYear
    amount: PositiveDecimal


class RevenueFloor(Frozen):
    """(v2) The revenue the guarantor tops the provider up to, per period."""

    steps: tuple[AmountStep, ...] = Field(min_length=1)
    cap: PositiveDecimal | None = None

    @model_validator(mode="after")
    def _schedule(self) -> RevenueFloor:
        problems = _year_problems(self.steps, "steps")
        if problems:
            raise RuleError(problems)
        return self


class Reimbursement(Frozen):
    """(v2) The terms on which the provider repays the guarantor what a call cost it."""

    payment_terms_days: Days = 0
    late_interest: LateInterest | None = None


class Guarantee(Frozen):
    """(v2) The guarantor's guarantee of the provider's debt service to the lender."""

    debt_service: tuple[AmountStep, ...] = Field(min_length=1)
    covers: Annotated[DecimalValue, AfterValidator(_bounded(Decimal(0), Decimal(1), low_open=True))] = Decimal(1)
    cure_days: Days = 30
    cap: PositiveDecimal | None = None
    reimbursement: Reimbursement = Reimbursement()

    @model_validator(mode="after")
    def _schedule(self) -> Guarantee:
        problems = _year_problems(self.debt_service, "debt_service")
        if problems:
            raise RuleError(problems)
        return self


class OnOrAfter(Frozen):
    on_or_after: Day


class LeaseBackTotalAtLeast(Frozen):
    lease_back_total_at_least: Annotated[DecimalValue, AfterValidator(_bounded(Decimal(0)))]


class VwapAtLeast(Frozen):
    vwap_at_least: PositiveDecimal
    days: Annotated[Integer, AfterValidator(_int_range(1))]


class AllOf(Frozen):
    all: tuple["Condition", ...] = Field(min_length=1)


class AnyOf(Frozen):
    any: tuple["Condition", ...] = Field(min_length=1)


CONDITION_KEYS = ("on_or_after", "lease_back_total_at_least", "vwap_at_least", "all", "any")


def _condition_tag(value: Any) -> str | None:
    """The one condition key of a condition; None when there is not exactly one."""
    keys = value.keys() if isinstance(value, dict) else vars(value).keys() if isinstance(value, Frozen) else ()
    present = [key for key in CONDITION_KEYS if key in keys]
    return present[0] if len(present) == 1 else None


Condition = Annotated[
    Union[
        Annotated[OnOrAfter, Tag("on_or_after")],
        Annotated[LeaseBackTotalAtLeast, Tag("lease_back_total_at_least")],
        Annotated[VwapAtLeast, Tag("vwap_at_least")],
        Annotated[AllOf, Tag("all")],
        Annotated[AnyOf, Tag("any")],
    ],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message=(
            "expected a condition: a mapping with exactly one of on_or_after, "
            "lease_back_total_at_least, vwap_at_least (with days), all, any"
        ),
    ),
]


def _repeated_ids(items: Sequence[Any], list_name: str, what: str) -> list[tuple[FieldPath, str]]:
    """One problem for each item whose id an earlier item already uses."""
    first_index: dict[str, int] = {}
    problems = []
    for index, item in enumerate(items):
        if item.id in first_index:
            first = f"{list_name}[{first_index[item.id]}]"
            message = f"{what} id {shown(item.id)} is already used by {first}; ids are unique"
            problems.append(((list_name, index, "id"), message))
        first_index.setdefault(item.id, index)
    return problems


class Tranche(Frozen):
    id: Name
    shares: Annotated[Integer, AfterValidator(_int_range(1))]
    vests: Condition


class Warrants(Frozen):
    strike: PositiveDecimal
    expires: Day
    tranches: tuple[Tranche, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_tranche_ids(self) -> Warrants:
        problems = _repeated_ids(self.tranches, "tranches", "tranche")
        if problems:
            raise RuleError(problems)
        return self


#: (v2) The fields a `backstop/v1` file may not have, as (field path, clause or field name).
V2_FIELDS: tuple[FieldPath, ...] = (
    ("parties", "lender"),
    ("revenue_share", "above_floor"),
    ("revenue_floor",),
    ("guarantee",),
)
SCHEMA_V1, SCHEMA_V2 = "backstop/v1", "backstop/v2"
CLAUSES = ("backstop", "revenue_share", "warrants", "revenue_floor", "guarantee")


class AgreementDocument(Frozen):
    schema_: Literal["backstop/v1", "backstop/v2"] = Field(alias="schema")
    agreement: AgreementId
    version: Annotated[Integer, AfterValidator(_int_range(1))]
    effective: Day
    title: Text | None = None
    parties: Parties
    currency: Currency
    term: Term
    settlement: Settlement
    pools: tuple[Pool, ...] = Field(min_length=1)
    backstop: Backstop | None = None
    revenue_share: RevenueShare | None = None
    warrants: Warrants | None = None
    revenue_floor: RevenueFloor | None = None
    guarantee: Guarantee | None = None

    @model_validator(mode="after")
    def _document_rules(self) -> AgreementDocument:
        problems = [
            *self._clause_problems(),
            *self._v2_field_problems(),
            *self._lender_problems(),
            *self._above_floor_problems(),
            *_repeated_ids(self.pools, "pools", "pool"),
            *self._rate_problems(),
            *self._places_problems(),
            *self._effective_problems(),
        ]
        if problems:
            raise RuleError(problems)
        return self

    def _clause_problems(self) -> list[tuple[FieldPath, str]]:
        if all(getattr(self, clause) is None for clause in CLAUSES):
            return [((), f"at least one of {', '.join(CLAUSES)} is required")]
        return []

    def _v2_field_problems(self) -> list[tuple[FieldPath, str]]:
        """A `backstop/v1` file names none of the fields `backstop/v2` added (SPEC §3)."""
        if self.schema_ != SCHEMA_V1:
            return []
        message = f"is allowed only in a {SCHEMA_V2} file; this file is {SCHEMA_V1} (write schema: {SCHEMA_V2})"
        return [(path, message) for path in V2_FIELDS if _is_set(self, path)]

    def _lender_problems(self) -> list[tuple[FieldPath, str]]:
        if self.guarantee is not None and self.parties.lender is None:
            return [(("parties", "lender"), "required when guarantee is present: name the lender whose debt service it covers")]
        return []

    def _above_floor_problems(self) -> list[tuple[FieldPath, str]]:
        if self.revenue_share is not None and self.revenue_share.above_floor and self.revenue_floor is None:
            message = "true needs a revenue_floor in the same version, the floor the share is taken above; add one"
            return [(("revenue_share", "above_floor"), message)]
        return []

    def _rate_problems(self) -> list[tuple[FieldPath, str]]:
        """Every pool's gpu_model needs a backstop rate (models with no pool need none)."""
        if self.backstop is None:
            return []
        return [
            (
                ("pools", index, "gpu_model"),
                f"{shown(pool.gpu_model)} has no rate in backstop.rate_per_gpu_hour; add one",
            )
            for index, pool in enumerate(self.pools)
            if pool.gpu_model not in self.backstop.rate_per_gpu_hour
        ]

    def _places_problems(self) -> list[tuple[FieldPath, str]]:
        """Caps and scheduled amounts are cash: at most `places` fraction digits, as written."""
        places = self.settlement.rounding.places
        problems = []
        for path, amount in self._cash_terms():
            digits = fraction_digits_written(amount)
            if digits > places:
                message = (
                    f"has {digits} fraction digits; at most settlement.rounding.places ({places}) allowed; "
                    f"got {shown(amount)}"
                )
                problems.append((path, message))
        return problems

    def _cash_terms(self) -> list[tuple[FieldPath, Decimal]]:
        terms: list[tuple[FieldPath, Decimal | None]] = []
        if self.backstop is not None:
            terms.append((("backstop", "cap"), self.backstop.cap))
        if self.revenue_floor is not None:
            terms += [(("revenue_floor", "steps", index, "amount"), step.amount)
                      for index, step in enumerate(self.revenue_floor.steps)]
            terms.append((("revenue_floor", "cap"), self.revenue_floor.cap))
        if self.guarantee is not None:
            terms += [(("guarantee", "debt_service", index, "amount"), step.amount)
                      for index, step in enumerate(self.guarantee.debt_service)]
            terms.append((("guarantee", "cap"), self.guarantee.cap))
        return [(path, amount) for path, amount in terms if amount is not None]

    def _effective_problems(self) -> list[tuple[FieldPath, str]]:
        """Version 1 takes effect at the term's start, a later one at a settlement period's start."""
        start, end, effective = self.term.start, self.term.end, self.effective
        if not start <= effective < end:
            return [(("effective",), f"must be inside the term [{start}, {end}); got {effective}")]
        if self.version == 1 and effective != start:
            return [(("effective",), f"version 1 takes effect on term.start ({start}); got {effective}")]
        period_starts = [period.start for period in settlement_periods(start, end, self.settlement.period)]
        if effective in period_starts:
            return []
        following = next((day for day in period_starts if day > effective), None)
        hint = f" such as {following}" if following else ""
        message = f"must be the start date of a {self.settlement.period} settlement period{hint}; got {effective}"
        return [(("effective",), message)]


def _is_set(model: BaseModel, path: FieldPath) -> bool:
    """Whether the field at `path` was written in the document (a default is not)."""
    for name in path[:-1]:
        model = getattr(model, name)
        if model is None:
            return False
    return path[-1] in model.model_fields_set


AllOf.model_rebuild()
AnyOf.model_rebuild()
