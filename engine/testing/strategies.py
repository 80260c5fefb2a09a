"""Hypothesis strategies for backstop agreements, event logs and bad lines (SPEC §1–§4, §7).

- `agreements(**pins)`: one agreement's version documents, as a list of mappings (one per
  version) holding `Decimal`, `date`, `int` and `str` values, ready for
  `engine.documents.loader.load_agreements_from_mappings` or `write_agreement_folder`.
- `event_logs(documents, ...)`: a valid JSON Lines log for that agreement, as a list of
  `str` lines: every line is applied or an exact re-send of an applied line (a duplicate),
  except exercises, which the warrant state may reject.
- `bad_lines()`: `bytes` lines that SPEC §4 rejects on their own, whatever came before;
  `coded_bad_lines()` pairs each with the rejection code (SPEC §7) its defect calls for.
- `decimals()`, `timestamps()`, `period_ids()`: the building blocks.

The event-log generator keeps its own small model of the rules a valid event must obey
(settlement periods, capacity, locks, close order, true-up dates, share-price order). It
computes periods and contract years itself rather than asking the engine, so a calendar bug
in the engine shows up as a rejected line instead of being copied into the test input.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

UTC = timezone.utc
PERIOD_KINDS = ("monthly", "quarterly")
ROUNDING_MODES = ("half_even", "half_up", "down")
DAY_COUNTS = ("ACT/365F", "ACT/360")
GPU_MODELS = ("H100", "H200", "B200", "B300", "GB300", "MI355X")
POOL_IDS = ("p1", "p2", "east", "west", "hall-3", "GB.rack_9")
TRANCHE_IDS = ("A", "B", "T-2027", "late.1")
PARTY_NAMES = ("Provider", "Guarantor", "NimbusGPU", "HelixSilicon", "Kestrel.Cloud", "alto-compute", "9Volt_AI")
CURRENCIES = ("USD", "EUR", "JPY", "CHF")
#: Interesting term starts: 29 February (contract years end on 28 February), a 31st (a
#: one-day first period), a quarter start and a mid-quarter start.
SPECIAL_STARTS = (date(2028, 2, 29), date(2024, 2, 29), date(2026, 1, 31), date(2026, 11, 15))
#: Term starts on a period boundary: the first period is whole.
BOUNDARY_STARTS = (date(2026, 1, 1), date(2026, 4, 1), date(2027, 7, 1), date(2029, 10, 1))
LINES_MAX_DEFAULT = 60


class _Unpinned:
    """The value of a keyword argument that was not given: the strategy chooses."""

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Unpinned()


# =============================================================================================
# Building blocks
# =============================================================================================


def decimals(
    *, places: int = 2, min_value: Decimal | int | str = 0, max_value: Decimal | int | str = 1_000_000
) -> st.SearchStrategy[Decimal]:
    """Exact decimals in [min_value, max_value] written with exactly `places` fraction digits.

    `decimals(places=2)` gives values such as `Decimal("2.50")`, whose text is what a ledger
    or a document would show. No binary float is ever involved.
    """
    _check_int("places", places, 0, 12)
    low, high = _as_decimal("min_value", min_value), _as_decimal("max_value", max_value)
    if low > high:
        raise InvalidArgument(f"min_value={low} must not exceed max_value={high}")
    scale = Decimal(10) ** places
    low_units, high_units = _ceil(low * scale), _floor(high * scale)
    if low_units > high_units:
        raise InvalidArgument(f"no decimal with {places} fraction digits lies in [{low}, {high}]")
    return st.integers(low_units, high_units).map(lambda units: _scaled(units, places))


def timestamps(
    *,
    min_value: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    max_value: datetime = datetime(2032, 1, 1, tzinfo=UTC),
    offsets: bool = True,
) -> st.SearchStrategy[str]:
    """SPEC §2 timestamp texts for instants in [min_value, max_value] (aware datetimes).

    With `offsets`, the same instant is written in a random UTC offset (`+05:30`, `-23:59`)
    as well as with `Z`; fractions of a second are written with 1 to 6 digits.
    """
    for name, value in (("min_value", min_value), ("max_value", max_value)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise InvalidArgument(f"{name} must be an aware datetime (with a tzinfo); got {value!r}")
    if min_value > max_value:
        raise InvalidArgument(f"min_value={min_value} must not exceed max_value={max_value}")
    span = int((max_value - min_value).total_seconds())
    return st.builds(
        lambda seconds, micro, offset, digits: _timestamp_text(
            min_value.astimezone(UTC) + timedelta(seconds=seconds, microseconds=micro if seconds < span else 0),
            offset, digits,
        ),
        st.integers(0, span),
        st.sampled_from([0, 0, 500_000, 123_456, 1]),
        _offsets() if offsets else st.just(None),
        st.integers(0, 6),
    )


def period_ids(*, period: str | None = None, min_year: int = 2000, max_year: int = 2099) -> st.SearchStrategy[str]:
    """Period ids of the SPEC §2 shape: `YYYY-MM` (monthly) or `YYYY-Qn` (quarterly)."""
    if period is not None and period not in PERIOD_KINDS:
        raise InvalidArgument(f"period must be None, 'monthly' or 'quarterly'; got {period!r}")
    _check_int("min_year", min_year, 0, 9999)
    _check_int("max_year", max_year, min_year, 9999)
    years = st.integers(min_year, max_year)
    monthly = st.builds(lambda year, month: f"{year:04d}-{month:02d}", years, st.integers(1, 12))
    quarterly = st.builds(lambda year, quarter: f"{year:04d}-Q{quarter}", years, st.integers(1, 4))
    if period == "monthly":
        return monthly
    if period == "quarterly":
        return quarterly
    return monthly | quarterly


# =============================================================================================
# Calendar, computed here independently of engine.calendar (SPEC §2)
# =============================================================================================


@dataclass(frozen=True)
class Period:
    """A settlement period `[start, end)` as SPEC §2 defines it; `index` counts from 0."""

    index: int
    id: str
    start: date
    end: date

    @property
    def hours(self) -> int:
        return (self.end - self.start).days * 24


def add_years(day: date, years: int) -> date:
    """Same month and day `years` later, or 28 February where that day does not exist."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def contract_year(term_start: date, day: date) -> int:
    """The contract year k ≥ 1 whose `[start + (k−1) years, start + k years)` holds `day`."""
    k = 1
    while add_years(term_start, k) <= day:
        k += 1
    return k


def period_id(start: date, kind: str) -> str:
    if kind == "monthly":
        return f"{start.year:04d}-{start.month:02d}"
    return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"


def next_boundary(day: date, kind: str) -> date:
    """The first calendar month (or quarter) start strictly after `day`."""
    months = 1 if kind == "monthly" else 3
    first_month = (day.month - 1) // months * months + 1
    month_index = day.year * 12 + first_month - 1 + months
    return date(month_index // 12, month_index % 12 + 1, 1)


def settlement_periods(start: date, end: date, kind: str) -> tuple[Period, ...]:
    periods = []
    day = start
    while day < end:
        stop = min(next_boundary(day, kind), end)
        periods.append(Period(len(periods), period_id(day, kind), day, stop))
        day = stop
    return tuple(periods)


# =============================================================================================
# Agreements (SPEC §3)
# =============================================================================================


def agreements(
    *,
    versions: int = 1,
    agreement: str | Any = ANY,
    period: str | Any = ANY,
    term_start: date | Any = ANY,
    periods_max: int | Any = ANY,
    places: int | Any = ANY,
    mode: str | Any = ANY,
    covers: str | Any = ANY,
    cap: Decimal | None | Any = ANY,
    late_interest: str | None | Any = ANY,
    lock_after_periods: int | None | Any = ANY,
    pools: int | Any = ANY,
    backstop: bool | Any = ANY,
    revenue_share: bool | Any = ANY,
    warrants: bool | Any = ANY,
    revenue_floor: bool | Any = ANY,
    guarantee: bool | Any = ANY,
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Valid agreements: a list of version documents (mappings), version 1 first.

    Every keyword pins one part; left out, the strategy chooses. `versions` is the number of
    versions (1–4); later versions take effect at settlement-period starts and change only
    what SPEC §3 lets change (rates, threshold, cover, cap, pools, steps, payment terms, late
    interest, warrant conditions), so the result always loads. Pins:

    - `period`: "monthly" | "quarterly"; `term_start`: a date; `periods_max`: at most this
      many settlement periods in the term (default 15 monthly, 9 quarterly).
    - `places` 0..6, `mode` "half_even" | "half_up" | "down"; `lock_after_periods`: None or ≥ 0.
    - `backstop`, `revenue_share`, `warrants`: True (in every version), False (in none).
    - (v2) `revenue_floor`: True (in every version, some with the revenue share taken above
      the floor), False (in none); `guarantee`: True or False, with a lender when True. An
      agreement with either is `backstop/v2`.
    - `covers`: "shortfall" | "idle"; `cap`: None (no cap) or a Decimal used by every
      version that has a backstop (a *constant* cap); `pools`: 1..3 pools per version.
    - `late_interest`: None (no late interest) or a day count "ACT/365F" | "ACT/360".
    - `agreement`: the agreement id.
    """
    _check_int("versions", versions, 1, 4)
    if agreement is not ANY and not isinstance(agreement, str):
        raise InvalidArgument(f"agreement must be an agreement id string; got {agreement!r}")
    _check_choice("period", period, PERIOD_KINDS)
    _check_choice("mode", mode, ROUNDING_MODES)
    _check_choice("covers", covers, ("shortfall", "idle"))
    _check_choice("late_interest", late_interest, (None, *DAY_COUNTS))
    if places is not ANY:
        _check_int("places", places, 0, 6)
    if pools is not ANY:
        _check_int("pools", pools, 1, 3)
    if periods_max is not ANY:
        _check_int("periods_max", periods_max, versions, 120)
    if lock_after_periods is not ANY and lock_after_periods is not None:
        _check_int("lock_after_periods", lock_after_periods, 0, 1000)
    if term_start is not ANY and (not isinstance(term_start, date) or isinstance(term_start, datetime)):
        raise InvalidArgument(f"term_start must be a date; got {term_start!r}")
    for name, value in (("backstop", backstop), ("revenue_share", revenue_share), ("warrants", warrants),
                        ("revenue_floor", revenue_floor), ("guarantee", guarantee)):
        if value is not ANY and not isinstance(value, bool):
            raise InvalidArgument(f"{name} must be True or False; got {value!r}")
    if backstop is False and revenue_share is False and warrants is False and revenue_floor is False and guarantee is False:
        raise InvalidArgument("every clause is False; SPEC §3 needs at least one")
    if cap is not ANY and cap is not None:
        if not isinstance(cap, Decimal) or not cap.is_finite() or cap <= 0:
            raise InvalidArgument(f"cap must be None or a Decimal > 0; got {cap!r}")
        if backstop is False:
            raise InvalidArgument("cap is pinned but backstop=False: a cap is part of the backstop")
        if places is not ANY and _fraction_digits(cap) > places:
            raise InvalidArgument(f"cap {cap} has more fraction digits than places={places} allows")
    pins = _Pins(
        versions, agreement, period, term_start, periods_max, places, mode, covers, cap, late_interest,
        lock_after_periods, pools, backstop, revenue_share, warrants, revenue_floor, guarantee,
    )
    return _agreement_documents(pins)


@dataclass(frozen=True)
class _Pins:
    versions: int
    agreement: Any
    period: Any
    term_start: Any
    periods_max: Any
    places: Any
    mode: Any
    covers: Any
    cap: Any
    late_interest: Any
    lock_after_periods: Any
    pools: Any
    backstop: Any
    revenue_share: Any
    warrants: Any
    revenue_floor: Any
    guarantee: Any


def _pinned(draw, value, strategy):
    return draw(strategy) if value is ANY else value


@st.composite
def _agreement_documents(draw, pins: _Pins) -> list[dict[str, Any]]:
    agreement_id = pins.agreement if pins.agreement is not ANY else draw(_agreement_ids())
    provider, guarantor, lender = draw(st.lists(st.sampled_from(PARTY_NAMES), min_size=3, max_size=3, unique=True))
    currency = draw(st.sampled_from(CURRENCIES))
    kind = _pinned(draw, pins.period, st.sampled_from(PERIOD_KINDS))
    periods_max = pins.periods_max if pins.periods_max is not ANY else (15 if kind == "monthly" else 9)
    start, end, periods = draw(_terms(kind, pins.term_start, max(periods_max, pins.versions), pins.versions))
    cap_digits = _fraction_digits(pins.cap) if isinstance(pins.cap, Decimal) else 0
    places = _pinned(draw, pins.places, st.integers(cap_digits, 6))
    mode = _pinned(draw, pins.mode, st.sampled_from(ROUNDING_MODES))
    lock = _pinned(draw, pins.lock_after_periods, st.sampled_from([None, 0, 1, 2]))
    if pins.warrants is ANY and pins.backstop is False and pins.revenue_share is False:
        has_warrants = True  # the only clause left: SPEC §3 needs at least one
    else:
        has_warrants = _pinned(draw, pins.warrants, st.booleans())
    fixed_warrants = draw(_fixed_warrants(start, end)) if has_warrants else None
    # (v2) A guarantee and its lender are in every version or in none (SPEC §3).
    has_guarantee = _pinned(draw, pins.guarantee, st.integers(0, 3).map(lambda n: n == 0))
    has_floor = _pinned(draw, pins.revenue_floor, st.integers(0, 3).map(lambda n: n == 0))
    v2 = has_guarantee or has_floor
    starts = [p.start for p in periods]
    later = sorted(draw(st.lists(st.integers(1, len(periods) - 1), min_size=pins.versions - 1,
                                 max_size=pins.versions - 1, unique=True))) if pins.versions > 1 else []
    effective_dates = [start] + [starts[index] for index in later]
    title = draw(st.sampled_from([None, "Backstop agreement", "Capacity backstop — Ünïcode title", "#1: \"quoted\""]))
    documents = []
    for number, effective in enumerate(effective_dates, start=1):
        document: dict[str, Any] = {
            "schema": "backstop/v2" if v2 else "backstop/v1",
            "agreement": agreement_id,
            "version": number,
            "effective": effective,
        }
        if title is not None:
            document["title"] = title if number == 1 else f"{title} (amendment {number - 1})"
        document["parties"] = {"provider": provider, "guarantor": guarantor}
        if has_guarantee:
            document["parties"]["lender"] = lender
        document["currency"] = currency
        document["term"] = {"start": start, "end": end}
        document["settlement"] = draw(_settlement(kind, places, mode, lock, pins.late_interest))
        pool_list = draw(_pools(pins.pools))
        document["pools"] = pool_list
        has_backstop = _pinned(draw, pins.backstop, st.booleans())
        has_revenue = _pinned(draw, pins.revenue_share, st.booleans())
        if not (has_backstop or has_revenue or has_warrants or has_floor or has_guarantee):
            if pins.backstop is ANY:
                has_backstop = True
            else:
                has_revenue = True
        if has_backstop:
            document["backstop"] = draw(_backstop(pool_list, places, pins.covers, pins.cap))
        if has_revenue:
            document["revenue_share"] = draw(_revenue_share())
            if has_floor and draw(st.booleans()):
                document["revenue_share"]["above_floor"] = True
        if has_floor:
            document["revenue_floor"] = draw(_revenue_floor(places))
        if has_guarantee:
            document["guarantee"] = draw(_guarantee(places))
        if fixed_warrants is not None:
            document["warrants"] = draw(_warrants(fixed_warrants, start, end))
        documents.append(document)
    return documents


def _agreement_ids() -> st.SearchStrategy[str]:
    return st.sampled_from(["acme", "gb300-monthly", "a.b_c-1", "x"]) | st.from_regex(r"[a-z0-9][a-z0-9._-]{0,12}", fullmatch=True)


@st.composite
def _terms(draw, kind: str, start_pin, periods_max: int, versions: int):
    """A term with between `versions` and `periods_max` settlement periods."""
    if start_pin is not ANY:
        start = start_pin
    else:
        start = draw(st.sampled_from(SPECIAL_STARTS) | st.sampled_from(BOUNDARY_STARTS) | st.dates(date(2024, 1, 1), date(2030, 12, 31)))
    count = draw(st.integers(versions, periods_max))
    boundary = start
    for _ in range(count):
        boundary = next_boundary(boundary, kind)
    last_start = start if count == 1 else _nth_start(start, kind, count - 1)
    # The last period is whole (ends on a boundary) or partial (ends a few days in).
    partial_days = draw(st.sampled_from([0, 0, 1, 10]))
    end = boundary if partial_days == 0 else min(boundary, last_start + timedelta(days=partial_days))
    if end <= last_start:
        end = boundary
    periods = settlement_periods(start, end, kind)
    assert len(periods) == count, (start, end, kind, count, periods)
    return start, end, periods


def _nth_start(start: date, kind: str, n: int) -> date:
    day = start
    for _ in range(n):
        day = next_boundary(day, kind)
    return day


@st.composite
def _settlement(draw, kind, places, mode, lock, late_pin) -> dict[str, Any]:
    settlement: dict[str, Any] = {"period": kind}
    terms_days = draw(st.sampled_from([None, 0, 1, 30, 45, 60, 365]))
    if terms_days is not None:
        settlement["payment_terms_days"] = terms_days
    # Defaults may be written out or left out; "same in every version" compares after defaults.
    if places == 2 and mode == "half_even" and draw(st.booleans()):
        pass
    elif mode == "half_even" and draw(st.booleans()):
        settlement["rounding"] = {"places": places}
    else:
        settlement["rounding"] = {"places": places, "mode": mode}
    day_count = _pinned(draw, late_pin, st.sampled_from([None, *DAY_COUNTS]))
    if day_count is not None:
        rate = draw(decimals(places=draw(st.integers(2, 4)), min_value=0, max_value=1))
        settlement["late_interest"] = {"annual_rate": rate, "day_count": day_count}
    if lock is not None:
        settlement["lock_after_periods"] = lock
    return settlement


@st.composite
def _pools(draw, count_pin) -> list[dict[str, Any]]:
    count = _pinned(draw, count_pin, st.integers(1, 3))
    ids = draw(st.lists(st.sampled_from(POOL_IDS), min_size=count, max_size=count, unique=True))
    return [
        {"id": pool_id, "gpu_model": draw(st.sampled_from(GPU_MODELS[:4])), "gpus": draw(st.sampled_from([1, 2, 8, 64, 100, 512]) | st.integers(1, 4096))}
        for pool_id in ids
    ]


@st.composite
def _backstop(draw, pools, places, covers_pin, cap_pin) -> dict[str, Any]:
    models = sorted({pool["gpu_model"] for pool in pools})
    if draw(st.booleans()):
        models.append(draw(st.sampled_from(GPU_MODELS)))  # a model with no pool: allowed, ignored
    rates = {model: draw(decimals(places=draw(st.integers(0, 4)), min_value=Decimal("0.0001"), max_value=12)) for model in models}
    backstop: dict[str, Any] = {
        "rate_per_gpu_hour": rates,
        "threshold": draw(decimals(places=draw(st.integers(1, 3)), min_value=Decimal("0.001"), max_value=1)),
    }
    covers = _pinned(draw, covers_pin, st.sampled_from([None, "shortfall", "idle"]))
    if covers is not None:
        backstop["covers"] = covers
    if cap_pin is ANY:
        digits = draw(st.integers(0, places))
        cap = draw(st.none() | decimals(places=digits, min_value=Decimal(1).scaleb(-digits), max_value=2_000_000))
    else:
        cap = cap_pin
    if cap is not None:
        backstop["cap"] = cap
    return backstop


@st.composite
def _revenue_share(draw) -> dict[str, Any]:
    count = draw(st.integers(1, 4))
    years = [1]
    for _ in range(count - 1):
        years.append(years[-1] + draw(st.integers(1, 2)))
    rates = sorted(
        (draw(decimals(places=draw(st.integers(0, 4)), min_value=0, max_value=1)) for _ in range(count)), reverse=True
    )
    return {"steps": [{"from_year": year, "rate": rate} for year, rate in zip(years, rates)]}


@st.composite
def _amount_schedule(draw, places: int, high: int) -> list[dict[str, Any]]:
    """(v2) An amount schedule: from year 1, strictly increasing years, amounts > 0 that rise or fall."""
    years = [1]
    for _ in range(draw(st.integers(0, 2))):
        years.append(years[-1] + draw(st.integers(1, 2)))
    digits = draw(st.integers(0, places))
    amounts = st.sampled_from([Decimal(1).scaleb(-digits), Decimal(1000), Decimal(high)]) | decimals(
        places=digits, min_value=Decimal(1).scaleb(-digits), max_value=high)
    return [{"from_year": year, "amount": draw(amounts)} for year in years]


@st.composite
def _revenue_floor(draw, places: int) -> dict[str, Any]:
    floor: dict[str, Any] = {"steps": draw(_amount_schedule(places, 500_000))}
    if draw(st.booleans()):
        digits = draw(st.integers(0, places))
        floor["cap"] = draw(decimals(places=digits, min_value=Decimal(1).scaleb(-digits), max_value=1_000_000))
    return floor


@st.composite
def _guarantee(draw, places: int) -> dict[str, Any]:
    guarantee: dict[str, Any] = {"debt_service": draw(_amount_schedule(places, 2_000_000))}
    if draw(st.booleans()):
        guarantee["covers"] = draw(decimals(places=draw(st.integers(1, 3)), min_value=Decimal("0.001"), max_value=1))
    guarantee["cure_days"] = draw(st.sampled_from([0, 1, 30, 90]))
    if draw(st.booleans()):
        digits = draw(st.integers(0, places))
        guarantee["cap"] = draw(decimals(places=digits, min_value=Decimal(1).scaleb(-digits), max_value=3_000_000))
    if draw(st.booleans()):
        reimbursement: dict[str, Any] = {"payment_terms_days": draw(st.sampled_from([0, 30, 60]))}
        if draw(st.booleans()):
            rate = draw(decimals(places=draw(st.integers(2, 4)), min_value=0, max_value=1))
            reimbursement["late_interest"] = {"annual_rate": rate, "day_count": draw(st.sampled_from(DAY_COUNTS))}
        guarantee["reimbursement"] = reimbursement
    return guarantee


@st.composite
def _fixed_warrants(draw, start: date, end: date) -> dict[str, Any]:
    """The warrant terms that are the same in every version: strike, expiry, tranches."""
    ids = draw(st.lists(st.sampled_from(TRANCHE_IDS), min_size=1, max_size=3, unique=True))
    return {
        "strike": draw(decimals(places=draw(st.integers(0, 4)), min_value=Decimal("0.01"), max_value=200)),
        # Mostly after the term, so that exercises can happen; sometimes during or before it.
        "expires": draw(st.dates(end, end + timedelta(days=400)) | st.dates(start - timedelta(days=30), end)),
        "tranches": [(tranche, draw(st.sampled_from([1, 7, 1000]) | st.integers(1, 5_000_000))) for tranche in ids],
    }


@st.composite
def _warrants(draw, fixed: dict[str, Any], start: date, end: date) -> dict[str, Any]:
    conditions = _conditions(start, end)
    return {
        "strike": fixed["strike"],
        "expires": fixed["expires"],
        "tranches": [{"id": tranche, "shares": shares, "vests": draw(conditions)} for tranche, shares in fixed["tranches"]],
    }


def _conditions(start: date, end: date) -> st.SearchStrategy[dict[str, Any]]:
    middle = start + (end - start) / 2
    leaves = st.one_of(
        st.dates(start - timedelta(days=60), middle).map(lambda day: {"on_or_after": day}),
        st.dates(start - timedelta(days=60), end + timedelta(days=60)).map(lambda day: {"on_or_after": day}),
        (st.just(Decimal("0")) | decimals(places=2, min_value=0, max_value=5_000)).map(
            lambda total: {"lease_back_total_at_least": total}
        ),
        st.builds(
            lambda price, days: {"vwap_at_least": price, "days": days},
            decimals(places=2, min_value=Decimal("0.01"), max_value=300),
            st.integers(1, 3),
        ),
    )
    return st.recursive(
        leaves,
        lambda children: st.lists(children, min_size=1, max_size=3).flatmap(
            lambda items: st.sampled_from([{"all": items}, {"any": items}])
        ),
        max_leaves=5,
    )


# =============================================================================================
# Event logs (SPEC §4, §5, §7)
# =============================================================================================


@dataclass(frozen=True)
class _VersionTerms:
    number: int
    effective: date
    pools: dict[str, int]  # pool id → gpus, in document order
    has_backstop: bool
    has_revenue_share: bool
    has_floor: bool = False  # (v2)
    has_guarantee: bool = False  # (v2)
    cure_days: int = 0
    payment_terms_days: int = 30


@dataclass(frozen=True)
class _AgreementTerms:
    """What the log model needs of an agreement, read from its loaded documents."""

    id: str
    provider: str
    guarantor: str
    currency: str
    places: int
    lock: int | None
    kind: str
    start: date
    end: date
    periods: tuple[Period, ...]
    versions: tuple[_VersionTerms, ...]
    tranches: tuple[tuple[str, int], ...]  # () when the agreement has no warrants
    lender: str | None = None  # (v2)

    def governing(self, period: Period) -> _VersionTerms:
        chosen = self.versions[0]
        for version in self.versions:
            if version.effective <= period.start:
                chosen = version
        return chosen


def _agreement_terms(documents: Any) -> _AgreementTerms:
    from engine.documents.errors import DocumentErrors
    from engine.documents.loader import LoadedAgreement, load_agreements_from_mappings

    if isinstance(documents, LoadedAgreement):
        loaded = documents
    else:
        versions = [documents] if isinstance(documents, Mapping) else list(documents)
        if not versions or not all(isinstance(version, Mapping) for version in versions):
            raise InvalidArgument(
                "agreement_documents must be one agreement: a version document (mapping), a list of them, "
                f"or a LoadedAgreement; got {type(documents).__name__}"
            )
        try:
            loaded_all = load_agreements_from_mappings(versions, source="agreement_documents")
        except DocumentErrors as errors:
            raise InvalidArgument(f"agreement_documents do not load:\n{errors}") from None
        if len(loaded_all) != 1:
            raise InvalidArgument(f"agreement_documents must hold one agreement; got {len(loaded_all)}")
        loaded = loaded_all[0]
    first = loaded.versions[0].document
    kind = first.settlement.period
    periods = settlement_periods(first.term.start, first.term.end, kind)
    versions = tuple(
        _VersionTerms(
            version.number,
            version.document.effective,
            {pool.id: pool.gpus for pool in version.document.pools},
            version.document.backstop is not None,
            version.document.revenue_share is not None,
            version.document.revenue_floor is not None,
            version.document.guarantee is not None,
            version.document.guarantee.cure_days if version.document.guarantee is not None else 0,
            version.document.settlement.payment_terms_days,
        )
        for version in loaded.versions
    )
    tranches = tuple((t.id, t.shares) for t in first.warrants.tranches) if first.warrants is not None else ()
    return _AgreementTerms(
        loaded.id, first.parties.provider, first.parties.guarantor, first.currency,
        first.settlement.rounding.places, first.settlement.lock_after_periods, kind,
        first.term.start, first.term.end, periods, versions, tranches, first.parties.lender,
    )


def event_logs(
    agreement_documents: Any,
    *,
    max_lines: int = LINES_MAX_DEFAULT,
    closes: int | None = None,
    corrections: bool = True,
    duplicates: bool = True,
    payments: bool = True,
    true_ups: bool = True,
    market_events: bool = True,
    id_prefix: str = "",
) -> st.SearchStrategy[list[str]]:
    """Valid event logs (lists of JSON-lines `str`, no line ends) for one agreement.

    Lines are utilization within capacity and inside one period, revenue (negative too),
    corrections (replacements and voids) of open and closed-but-unlocked periods, exact
    re-sends of applied lines (some with their members reordered or spaced out), payments in
    both directions (some with `applies_to` naming likely entry ids), true-ups and closes in
    period order; with warrants also share prices, stock splits and exercises; (v2) with a
    lender, payments among the three parties and guarantee calls around the cure date. Every
    line is applied or a duplicate, except exercises and guarantee calls, which the warrant
    and guarantee state may reject.

    `closes` pins how many periods are closed (default: any number); `max_lines` bounds the
    log; the booleans leave kinds of lines out; `id_prefix` starts every event id (to keep
    the ids of several logs apart when they are replayed together).
    """
    _check_int("max_lines", max_lines, 1, 10_000)
    if closes is not None:
        _check_int("closes", closes, 0, max_lines)
    if not isinstance(id_prefix, str):
        raise InvalidArgument(f"id_prefix must be a string; got {id_prefix!r}")
    terms = _agreement_terms(agreement_documents)
    if closes is not None and closes > len(terms.periods):
        raise InvalidArgument(f"closes={closes} but the term has only {len(terms.periods)} settlement periods")
    options = _LogOptions(max_lines, closes, corrections, duplicates, payments, true_ups, market_events, id_prefix)
    return _event_log(terms, options)


def agreements_with_logs(
    *, log_options: Mapping[str, Any] | None = None, **pins: Any
) -> st.SearchStrategy[tuple[list[dict[str, Any]], list[str]]]:
    """(documents, lines): an agreement from `agreements(**pins)` and a log from
    `event_logs(documents, **log_options)`. `pins` may also give `versions` as a strategy."""
    options = dict(log_options or {})
    versions = pins.pop("versions", 1)
    versions_strategy = versions if isinstance(versions, st.SearchStrategy) else st.just(versions)
    agreements(versions=versions if isinstance(versions, int) else 1, **pins)  # bad pins fail here, not mid-test

    @st.composite
    def pairs(draw):
        documents = draw(agreements(versions=draw(versions_strategy), **pins))
        return documents, draw(event_logs(documents, **options))

    return pairs()


@dataclass(frozen=True)
class _LogOptions:
    max_lines: int
    closes: int | None
    corrections: bool
    duplicates: bool
    payments: bool
    true_ups: bool
    market_events: bool
    id_prefix: str


@dataclass
class _Input:
    """An applied utilization or revenue event and where its values count now."""

    id: str
    type: str
    original_period: int
    period: int | None  # None once voided
    period_max: int
    pool: str | None
    available: Decimal


@dataclass
class _Sent:
    """An applied line that may be re-sent: its text and the periods whose lock forbids that."""

    line: str
    kind: str
    lock_periods: tuple[int, ...]


@dataclass
class _LogModel:
    terms: _AgreementTerms
    options: _LogOptions
    style: random.Random
    fancy_ids: bool
    with_meta: bool
    lines: list[str] = field(default_factory=list)
    closed: int = 0
    counter: int = 0
    used: dict[tuple[int, str], Decimal] = field(default_factory=dict)  # Σ available per (period, pool)
    inputs: dict[str, _Input] = field(default_factory=dict)
    sent: list[_Sent] = field(default_factory=list)
    last_share_price: date | None = None
    calls: list[str] = field(default_factory=list)  # (v2) ids of the guarantee calls written

    # ---- state ---------------------------------------------------------------------------

    def locked(self, index: int) -> bool:
        lock = self.terms.lock
        return lock is not None and self.closed >= index + 1 + lock

    def last_closed_end(self) -> date | None:
        return self.terms.periods[self.closed - 1].end if self.closed else None

    def input_periods(self, want: str) -> list[Period]:
        """Unlocked periods that accept `want` inputs; the next open period first."""
        chosen = []
        for period in self.terms.periods:
            version = self.terms.governing(period)
            if want == "utilization":
                accepts = version.has_backstop and version.pools
            else:
                accepts = version.has_revenue_share or version.has_floor
            if accepts and not self.locked(period.index):
                chosen.append(period)
        chosen.sort(key=lambda period: (period.index < self.closed, abs(period.index - self.closed)))
        return chosen

    def correctable(self) -> list[_Input]:
        return [
            item for item in self.inputs.values()
            if not self.locked(item.period_max) and (item.period is None or not self.locked(item.period))
        ]

    def resendable(self) -> list[_Sent]:
        return [sent for sent in self.sent if not any(self.locked(index) for index in sent.lock_periods)]

    def actions(self) -> list[str]:
        actions: list[str] = []
        if self.input_periods("utilization"):
            actions += ["utilization"] * 4
        if self.input_periods("revenue"):
            actions += ["revenue"] * 3
        if self.options.corrections and self.correctable():
            actions += ["correction"] * 2
        if self.options.payments:
            actions += ["payment"] * 2
        if self.options.duplicates and self.sent:
            actions += ["duplicate"]
        if self.options.true_ups:
            actions += ["true_up"]
        if self.options.market_events and self.terms.tranches:
            actions += ["share_price", "stock_split", "exercise"]
        if self.terms.lender is not None and self.closed:
            actions += ["guarantee_call"] * 2
        return actions or ["payment" if self.options.payments else "true_up"]

    # ---- writing lines -------------------------------------------------------------------

    def next_id(self, tag: str) -> str:
        self.counter += 1
        flourish = ""
        if self.fancy_ids and self.counter % 3 == 0:
            flourish = ("/é", " \u2028", "💸", "\"q\"", "\\")[self.counter % 5]
        return f"{self.options.id_prefix}{tag}-{self.counter}{flourish}"

    def event(self, event_id: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        event = {"id": event_id, "type": kind, "agreement": self.terms.id, **fields}
        if self.with_meta and self.counter % 4 == 0:
            event["meta"] = {"source": "generated", "n": RawNumber(str(self.counter)), "weight": RawNumber("0.5e1"), "tags": ["a", True]}
        return event

    def write(self, event: dict[str, Any], lock_periods: tuple[int, ...] | None) -> str:
        """Append the event's line; `lock_periods` None: the line may not be re-sent."""
        line = dump_line(event, self.style)
        self.lines.append(line)
        if lock_periods is not None:
            self.sent.append(_Sent(line, event["type"], lock_periods))
        return line

    # ---- actions -------------------------------------------------------------------------

    def utilization(self, draw) -> None:
        period = draw(_biased(self.input_periods("utilization")))
        pool, room = draw(self.pool_room(period, None))
        available, sold = draw(_usage(room))
        start, end = draw(_interval(period))
        event_id = self.next_id("u")
        fields = {"pool": pool, "start": start, "end": end, "available_gpu_hours": available, "sold_gpu_hours": sold}
        self.write(self.event(event_id, "utilization", fields), (period.index,))
        self.used[(period.index, pool)] = self.used.get((period.index, pool), Decimal(0)) + _value(available)
        self.inputs[event_id] = _Input(event_id, "utilization", period.index, period.index, period.index, pool, _value(available))

    def pool_room(self, period: Period, replacing: _Input | None) -> st.SearchStrategy[tuple[str, Decimal]]:
        """A pool of the period's governing version and the GPU-hours it can still report."""
        version = self.terms.governing(period)
        choices = []
        for pool, gpus in version.pools.items():
            room = gpus * period.hours - self.used.get((period.index, pool), Decimal(0))
            if replacing is not None and replacing.period == period.index and replacing.pool == pool:
                room += replacing.available
            choices.append((pool, room))
        return st.sampled_from(choices)

    def revenue(self, draw) -> None:
        period = draw(_biased(self.input_periods("revenue")))
        event_id = self.next_id("r")
        fields = {"period": period.id, "amount": draw(_revenue_amounts()), "currency": self.terms.currency}
        self.write(self.event(event_id, "revenue", fields), (period.index,))
        self.inputs[event_id] = _Input(event_id, "revenue", period.index, period.index, period.index, None, Decimal(0))

    def correction(self, draw) -> None:
        target = draw(st.sampled_from(self.correctable()))
        want = target.type
        candidates = self.input_periods(want)
        event_id = self.next_id("c")
        if not candidates or draw(st.integers(0, 3)) == 0:
            fields: dict[str, Any] = {"corrects": target.id, "void": True}
            new_period, new_pool, new_available = None, None, Decimal(0)
        else:
            period = draw(_biased(candidates))
            if want == "utilization":
                pool, room = draw(self.pool_room(period, target))
                available, sold = draw(_usage(room))
                start, end = draw(_interval(period))
                replacement = {"pool": pool, "start": start, "end": end, "available_gpu_hours": available, "sold_gpu_hours": sold}
                new_pool, new_available = pool, _value(available)
            else:
                replacement = {"period": period.id, "amount": draw(_revenue_amounts()), "currency": self.terms.currency}
                new_pool, new_available = None, Decimal(0)
            fields = {"corrects": target.id, "replacement": _shuffled(replacement, self.style)}
            new_period = period.index
        touched = tuple(sorted({index for index in (target.period, new_period) if index is not None}))
        self.write(self.event(event_id, "correction", fields), touched)
        if target.period is not None and target.pool is not None:
            self.used[(target.period, target.pool)] -= target.available
        if new_period is not None and new_pool is not None:
            self.used[(new_period, new_pool)] = self.used.get((new_period, new_pool), Decimal(0)) + new_available
        target.period, target.pool, target.available = new_period, new_pool, new_available
        if new_period is not None:
            target.period_max = max(target.period_max, new_period)

    def duplicate(self, draw) -> None:
        candidates = self.resendable()
        if not candidates:
            return
        sent = draw(st.sampled_from(candidates))
        self.lines.append(sent.line if draw(st.booleans()) else reformatted(sent.line, self.style))

    def payment(self, draw) -> None:
        terms = self.terms
        parties = [terms.provider, terms.guarantor] + ([terms.lender] if terms.lender else [])
        payer, payee = draw(st.lists(st.sampled_from(parties), min_size=2, max_size=2, unique=True))
        digits = draw(st.integers(0, terms.places))
        amount = draw(decimals(places=digits, min_value=Decimal(1).scaleb(-digits), max_value=draw(st.sampled_from([100, 50_000, 3_000_000]))))
        horizon = (self.last_closed_end() or terms.start) + timedelta(days=120)
        day = draw(st.dates(terms.start - timedelta(days=40), horizon))
        fields: dict[str, Any] = {"payer": payer, "payee": payee, "amount": _decimal_field(amount, draw),
                                  "currency": terms.currency, "date": day.isoformat()}
        if draw(st.integers(0, 2)) == 0:
            fields["applies_to"] = draw(self.likely_entry_ids())
        self.write(self.event(self.next_id("pay"), "payment", fields), ())

    def likely_entry_ids(self) -> st.SearchStrategy[str]:
        terms = self.terms
        ids = [f"{terms.id}/no-such-entry"]
        for period in terms.periods[: max(1, self.closed)]:
            version = terms.governing(period)
            ids += [f"{terms.id}/{period.id}/lease_back/{pool}" for pool in version.pools]
            ids += [f"{terms.id}/{period.id}/revenue_share", f"{terms.id}/{period.id}/revenue_share/adj1"]
            if version.has_floor:
                ids += [f"{terms.id}/{period.id}/revenue_top_up"]
            if version.has_guarantee:
                ids += [f"{terms.id}/{period.id}/debt_service"]
        ids += [f"{terms.id}/call/{call}/reimbursement" for call in self.calls[-3:]]
        return st.sampled_from(ids)

    def guarantee_call(self, draw) -> None:
        """(v2) A call on a closed period's debt service, mostly after its cure date; the
        guarantee state may reject it (too early, called before, nothing owed, the cap)."""
        terms = self.terms
        period = draw(st.sampled_from(terms.periods[: self.closed]))
        version = terms.governing(period)
        due = period.end + timedelta(days=version.payment_terms_days)
        day = due + timedelta(days=version.cure_days + draw(st.sampled_from([-1, 0, 0, 1, 10, 45])))
        event_id = self.next_id("call")
        self.calls.append(event_id)
        fields = {"date": day.isoformat(), "obligation": f"{terms.id}/{period.id}/debt_service"}
        self.write(self.event(event_id, "guarantee_call", fields), None)

    def true_up(self, draw) -> None:
        last = self.last_closed_end()
        if last is None:
            day = draw(st.dates(self.terms.start - timedelta(days=30), self.terms.end + timedelta(days=30)))
        else:
            day = last + timedelta(days=draw(st.integers(0, 90)))
        self.write(self.event(self.next_id("t"), "true_up", {"date": day.isoformat()}), ())

    def share_price(self, draw) -> None:
        if self.last_share_price is None:
            day = draw(st.dates(self.terms.start - timedelta(days=30), self.terms.end))
        else:
            day = self.last_share_price + timedelta(days=draw(st.integers(1, 45)))
        self.last_share_price = day
        price = draw(decimals(places=draw(st.integers(0, 4)), min_value=Decimal("0.01"), max_value=400))
        volume = draw(decimals(places=0, min_value=1, max_value=10_000_000))
        fields = {"date": day.isoformat(), "price": _decimal_field(price, draw), "volume": _decimal_field(volume, draw)}
        self.write(self.event(self.next_id("sp"), "share_price", fields), ())

    def stock_split(self, draw) -> None:
        day = draw(st.dates(self.terms.start - timedelta(days=30), self.terms.end + timedelta(days=60)))
        fields = {"date": day.isoformat(), "numerator": RawNumber(str(draw(st.integers(1, 4)))),
                  "denominator": RawNumber(str(draw(st.integers(1, 4))))}
        self.write(self.event(self.next_id("split"), "stock_split", fields), ())

    def exercise(self, draw) -> None:
        tranche, shares = draw(st.sampled_from(self.terms.tranches))
        method = draw(st.sampled_from(["cash", "net"]))
        day = draw(st.dates(self.terms.start - timedelta(days=10), self.terms.end + timedelta(days=400)))
        fields: dict[str, Any] = {"tranche": tranche, "shares": RawNumber(str(draw(st.integers(1, max(1, shares))))),
                                  "method": method, "date": day.isoformat()}
        value = draw(decimals(places=2, min_value=Decimal("0.01"), max_value=500))
        if method == "net":
            fields["fair_market_value"] = f"{value:f}"
        else:
            # SPEC §4: for a cash exercise the field is not read at all (any value, or none).
            extra = draw(st.sampled_from(["absent", "value", "null", "junk"]))
            if extra != "absent":
                fields["fair_market_value"] = {"value": f"{value:f}", "null": None, "junk": RawNumber("1.5e300")}[extra]
        # An exercise may be rejected by the warrant state; its line is never re-sent.
        self.write(self.event(self.next_id("x"), "exercise", fields), None)

    def close(self) -> None:
        period = self.terms.periods[self.closed]
        self.write(self.event(self.next_id("close"), "close", {"period": period.id}), ())
        self.closed += 1


@st.composite
def _event_log(draw, terms: _AgreementTerms, options: _LogOptions) -> list[str]:
    # Cosmetic choices (member order, spacing, escaping) come from one drawn seed: cheap, and
    # they never decide whether a line is valid, so shrinking loses nothing by it.
    style = random.Random(draw(st.integers(0, 2**32 - 1)))
    model = _LogModel(terms, options, style, fancy_ids=draw(st.booleans()), with_meta=draw(st.booleans()))
    most_closes = min(len(terms.periods), options.max_lines)
    closes = options.closes if options.closes is not None else draw(st.integers(0, most_closes))
    for phase in range(closes + 1):
        room = options.max_lines - len(model.lines) - (closes - phase)
        share = max(1, 2 * (options.max_lines - closes) // (closes + 1))
        for _ in range(draw(st.integers(0, max(0, min(room, share, 12))))):
            getattr(model, draw(st.sampled_from(model.actions())))(draw)
        if phase < closes:
            model.close()
    return model.lines


def _biased(periods: Sequence[Period]) -> st.SearchStrategy[Period]:
    """Mostly the first (the next open period), sometimes any other."""
    return st.sampled_from(list(periods[:1]) * 3 + list(periods))


@st.composite
def _usage(draw, room: Decimal):
    """(available, sold) as decimal fields, with available ≤ room and sold ≤ available."""
    digits = draw(st.sampled_from([0, 0, 1, 2, 3]))
    scale = Decimal(10) ** digits
    room_units = max(0, _floor(room * scale))
    available_units = draw(st.integers(0, room_units) | st.just(room_units))
    sold_units = draw(st.integers(0, available_units))
    return (
        _decimal_field(_scaled(available_units, digits), draw),
        _decimal_field(_scaled(sold_units, digits), draw),
    )


def _revenue_amounts():
    return st.builds(
        lambda digits, units, negative: f"{'-' if negative and units else ''}{_scaled(units, digits):f}",
        st.integers(0, 4), st.integers(0, 2_000_000_000), st.sampled_from([False, False, False, True]),
    )


@st.composite
def _interval(draw, period: Period) -> tuple[str, str]:
    """[start, end) inside the period, as timestamp texts in random offsets."""
    seconds = period.hours * 3600
    if draw(st.booleans()):
        first, last = 0, seconds
    else:
        first = draw(st.integers(0, seconds - 1))
        last = draw(st.integers(first + 1, seconds))
    origin = datetime(period.start.year, period.start.month, period.start.day, tzinfo=UTC)
    start = _timestamp_text(origin + timedelta(seconds=first), draw(_offsets()), draw(st.integers(0, 3)))
    end = _timestamp_text(origin + timedelta(seconds=last), draw(_offsets()), draw(st.integers(0, 3)))
    return start, end


def _offsets() -> st.SearchStrategy[int | None]:
    """UTC offsets in minutes; None writes `Z`."""
    return st.sampled_from([None, None, 0, 60, -300, 330, 23 * 60 + 59, -(23 * 60 + 59)]) | st.integers(-1439, 1439)


def _timestamp_text(instant: datetime, offset_minutes: int | None, digits: int) -> str:
    """`instant` written in the given offset, with `digits` fraction digits when exact."""
    if offset_minutes is None:
        local, suffix = instant.astimezone(UTC), "Z"
    else:
        zone = timezone(timedelta(minutes=offset_minutes))
        local = instant.astimezone(zone)
        sign = "+" if offset_minutes >= 0 else "-"
        hours, minutes = divmod(abs(offset_minutes), 60)
        suffix = f"{sign}{hours:02d}:{minutes:02d}"
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{local.microsecond:06d}".rstrip("0") if local.microsecond else ""
    fraction = fraction.ljust(min(6, max(digits, len(fraction))), "0")
    if fraction:
        text += "." + fraction
    return text + suffix


def _decimal_field(value: Decimal, draw) -> Any:
    """A decimal as an event field: a JSON string, or a JSON integer when it has no fraction."""
    if value == value.to_integral_value() and _fraction_digits(value) == 0 and draw(st.integers(0, 3)) == 0:
        return RawNumber(str(int(value)))
    return f"{value:f}"


def _value(field_value: Any) -> Decimal:
    return Decimal(field_value.text if isinstance(field_value, RawNumber) else field_value)


# =============================================================================================
# JSON lines with numbers kept as written
# =============================================================================================


class RawNumber:
    """A JSON number written exactly as `text` (a `float` would be reformatted)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"RawNumber({self.text!r})"


def dump_line(value: Any, style: random.Random | None = None) -> str:
    """One JSON line. With a `style` random source, member order, spacing and escaping vary."""
    if style is None:
        return _dump(value, ",", ":", False, None)
    spaced = style.random() < 0.2
    return _dump(value, ", " if spaced else ",", ": " if spaced else ":", style.random() < 0.2, style)


def _dump(value: Any, comma: str, colon: str, ascii_only: bool, style: random.Random | None) -> str:
    if isinstance(value, RawNumber):
        return value.text
    if isinstance(value, dict):
        keys = list(value)
        if style is not None and style.random() < 0.15:
            style.shuffle(keys)
        return "{" + comma.join(
            json.dumps(key, ensure_ascii=ascii_only) + colon + _dump(value[key], comma, colon, ascii_only, style) for key in keys
        ) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + comma.join(_dump(item, comma, colon, ascii_only, style) for item in value) + "]"
    if value is None or isinstance(value, (bool, str)):
        return json.dumps(value, ensure_ascii=ascii_only)
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} in an event line")


def load_line(line: str | bytes) -> Any:
    """A JSON line parsed with its numbers kept as `RawNumber` (their text)."""
    return json.loads(line, parse_int=RawNumber, parse_float=RawNumber, parse_constant=RawNumber)


def reformatted(line: str, style: random.Random) -> str:
    """The same JSON value with members in another order and other white space (SPEC §7)."""
    value = load_line(line)

    def reorder(item: Any) -> Any:
        if isinstance(item, dict):
            keys = list(item)
            style.shuffle(keys)
            if len(keys) > 1 and keys == list(item):
                keys.reverse()
            return {key: reorder(item[key]) for key in keys}
        if isinstance(item, list):
            return [reorder(inner) for inner in item]
        return item

    return _dump(reorder(value), " , ", " : ", style.random() < 0.5, None).replace("{", "{ ", 1)


def _shuffled(mapping: dict[str, Any], style: random.Random) -> dict[str, Any]:
    keys = list(mapping)
    style.shuffle(keys)
    return {key: mapping[key] for key in keys}


# =============================================================================================
# Bad lines (SPEC §4: each rejected on its own)
# =============================================================================================


def bad_lines(*, agreement: str = "acme") -> st.SearchStrategy[bytes]:
    """Lines that SPEC §4 rejects on their own, whatever the log and agreement state.

    Each holds exactly one defect of: malformed JSON (truncated, trailing data, single
    quotes, a byte-order mark, a raw control character), another top-level value, NaN or
    Infinity, floats or exponents in amounts, malformed decimal strings, counts given as
    strings or fractions, naive or malformed timestamps and dates, unknown fields, nulls,
    repeated keys, nesting deeper than 32 levels, lone surrogates, non-UTF-8 bytes, ids that
    are empty or too long, a line over 1 MiB, and rules of single events (start ≥ end,
    sold > available, payer = payee, amount ≤ 0, both replacement and void, …). Lines hold
    no LF and are not blank.
    """
    if not isinstance(agreement, str):
        raise InvalidArgument(f"agreement must be a string; got {agreement!r}")
    ids = st.integers(0, 10_000).map(lambda n: f"bad-{n}")
    makers = (st.builds(make, ids, st.just(agreement)) for _, make in _BAD_MAKERS)
    return st.one_of(*makers, _truncated(ids, agreement))


def coded_bad_lines(*, agreement: str = "acme") -> st.SearchStrategy[tuple[bytes, str]]:
    """(line, code): a line of `bad_lines()` and the rejection code of semantics §7 that its
    one defect calls for, so that a test can check that the engine names the fault it was given."""
    if not isinstance(agreement, str):
        raise InvalidArgument(f"agreement must be a string; got {agreement!r}")
    ids = st.integers(0, 10_000).map(lambda n: f"bad-{n}")
    makers = (st.tuples(st.builds(make, ids, st.just(agreement)), st.just(code)) for code, make in _BAD_MAKERS)
    return st.one_of(*makers, st.tuples(_truncated(ids, agreement), st.just("malformed")))


def _base(kind: str, event_id: str, agreement: str) -> dict[str, Any]:
    base = dict(_BAD_BASES[kind])
    return {"id": event_id, "type": kind, "agreement": agreement, **base}


_BAD_BASES: dict[str, dict[str, Any]] = {
    "utilization": {"pool": "p1", "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z",
                    "available_gpu_hours": "100.00", "sold_gpu_hours": "50.00"},
    "revenue": {"period": "2026-01", "amount": "1000.00", "currency": "USD"},
    "payment": {"payer": "Guarantor", "payee": "Provider", "amount": "10.00", "currency": "USD", "date": "2026-03-01"},
    "stock_split": {"date": "2026-03-01", "numerator": RawNumber("2"), "denominator": RawNumber("1")},
    "exercise": {"tranche": "A", "shares": RawNumber("10"), "method": "net", "date": "2026-03-01", "fair_market_value": "20.00"},
    "correction": {"corrects": "u-1", "void": True},
    "close": {"period": "2026-01"},
    "share_price": {"date": "2026-03-01", "price": "10.00", "volume": "1000"},
}


def _line_with(kind: str, **changes: Any) -> Callable[[str, str], bytes]:
    def make(event_id: str, agreement: str) -> bytes:
        event = _base(kind, event_id, agreement)
        for key, value in changes.items():
            event[key] = value
        return dump_line(event).encode("utf-8")

    return make


def _text_line(template: str) -> Callable[[str, str], bytes]:
    def make(event_id: str, agreement: str) -> bytes:
        return template.replace("ID", event_id).replace("AGR", agreement).encode("utf-8", "surrogatepass")

    return make


def _replaced(kind: str, old: bytes, new: bytes) -> Callable[[str, str], bytes]:
    def make(event_id: str, agreement: str) -> bytes:
        line = dump_line(_base(kind, event_id, agreement)).encode("utf-8")
        assert old in line, (old, line)
        return line.replace(old, new, 1)

    return make


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def _too_deep(event_id: str, agreement: str) -> bytes:
    # The top-level object is level 1 and `meta` level 2, so 31 lists inside meta make 33.
    event = {**_base("close", event_id, agreement), "meta": {"deep": _nested(31)}}
    return dump_line(event).encode("utf-8")


def _far_too_deep(event_id: str, agreement: str) -> bytes:
    # Written out directly: a recursive writer would hit Python's own recursion limit.
    line = dump_line({**_base("close", event_id, agreement), "meta": {}}).encode("utf-8")
    return line.replace(b'"meta":{}', b'"meta":' + b"[" * 5000 + b"1" + b"]" * 5000)


def _over_one_mebibyte(event_id: str, agreement: str) -> bytes:
    event = {**_base("close", event_id, agreement), "meta": {"padding": "x" * (1 << 20)}}
    return dump_line(event).encode("utf-8")


# (code, maker): the maker writes a line with one defect, given an id and an agreement; the code
# is the rejection code of semantics §7 that the defect calls for.
_BAD_MAKERS: tuple[tuple[str, Callable[[str, str], bytes]], ...] = (
    # Malformed JSON and other top-level values.
    ("malformed", _text_line('{"id":"ID","type":"close","agreement":"AGR","period":"2026-01",}')),
    ("malformed", _text_line("{'id':'ID','type':'close','agreement':'AGR','period':'2026-01'}")),
    ("malformed", _text_line('{"id":"ID","type":"close","agreement":"AGR","period":"2026-01"}{}')),
    ("malformed", _text_line('{"id":"ID","type":"close","agreement":"AGR","period":"2026-01"} x')),
    ("malformed", _text_line('\ufeff{"id":"ID","type":"close","agreement":"AGR","period":"2026-01"}')),
    ("malformed", _text_line('{"id":"ID","type":"close","agreement":"AGR","period":"2026-\t01"}')),
    ("malformed", _text_line('[{"id":"ID","type":"close","agreement":"AGR","period":"2026-01"}]')),
    ("malformed", _text_line('"ID"')),
    ("malformed", _text_line("42")),
    ("malformed", _text_line("null")),
    ("malformed", _text_line("true")),
    ("malformed", _text_line('{"id":"ID","type":"close","agreement":"AGR","period":"2026-01","meta":{"x":NaN}}')),
    ("malformed", _text_line('{"id":"ID","type":"revenue","agreement":"AGR","period":"2026-01","amount":Infinity,"currency":"USD"}')),
    ("malformed", _text_line('{"id":"ID","type":"revenue","agreement":"AGR","period":"2026-01","amount":-Infinity,"currency":"USD"}')),
    # Floats and exponents where a decimal belongs; malformed decimal strings.
    ("number", _line_with("revenue", amount=RawNumber("1000.5"))),
    ("number", _line_with("revenue", amount=RawNumber("1e3"))),
    ("number", _line_with("revenue", amount=RawNumber("1000.0"))),
    ("number", _line_with("utilization", available_gpu_hours=RawNumber("100.25"))),
    ("number", _line_with("payment", amount=RawNumber("10.00"))),
    ("number", _line_with("revenue", amount="+5")),
    ("number", _line_with("revenue", amount=" 5")),
    ("number", _line_with("revenue", amount="5.")),
    ("number", _line_with("revenue", amount=".5")),
    ("number", _line_with("revenue", amount="1e3")),
    ("number", _line_with("revenue", amount="1,000")),
    ("number", _line_with("revenue", amount="1_000")),
    ("number", _line_with("revenue", amount="NaN")),
    ("number", _line_with("revenue", amount="Infinity")),
    ("number", _line_with("revenue", amount="0x10")),
    ("number", _line_with("revenue", amount="\u0663")),
    ("number", _line_with("revenue", amount="1" * 21)),
    ("number", _line_with("revenue", amount="0." + "1" * 13)),
    ("number", _line_with("revenue", amount=RawNumber("1" * 21))),
    ("field", _line_with("revenue", amount=True)),
    # Counts that are not JSON integers ≥ 1.
    ("number", _line_with("stock_split", numerator="2")),
    ("number", _line_with("stock_split", numerator=RawNumber("2.0"))),
    ("number", _line_with("stock_split", denominator=RawNumber("0"))),
    ("number", _line_with("stock_split", numerator=RawNumber("-1"))),
    ("number", _line_with("exercise", shares=RawNumber("1.5"))),
    # Timestamps and dates.
    ("date", _line_with("utilization", start="2026-01-01T00:00:00")),
    ("date", _line_with("utilization", start="2026-01-01t00:00:00Z")),
    ("date", _line_with("utilization", start="2026-01-01T00:00:00z")),
    ("date", _line_with("utilization", start="2026-01-01 00:00:00Z")),
    ("date", _line_with("utilization", start="2026-01-01T00:00:60Z")),
    ("date", _line_with("utilization", start="2026-01-01T24:00:00Z")),
    ("date", _line_with("utilization", start="2026-01-01T00:00:00+24:00")),
    ("date", _line_with("utilization", start="2026-01-01T00:00:00.1234567Z")),
    ("date", _line_with("utilization", start="2026-02-30T00:00:00Z")),
    ("date", _line_with("utilization", start="2026-01-01T00:00:00+0100")),
    ("date", _line_with("utilization", end="2026-01-01")),
    ("date", _line_with("payment", date="2026-02-30")),
    ("date", _line_with("payment", date="2026-3-01")),
    ("date", _line_with("payment", date="2026-03-01T00:00:00Z")),
    # Unknown fields, nulls, missing fields, wrong types.
    ("field", _line_with("close", colour="red")),
    ("field", _line_with("revenue", ammount="1.00")),
    ("field", _line_with("payment", applies_to=None)),
    ("field", _line_with("close", meta=None)),
    ("field", _line_with("close", period=None)),
    ("field", _line_with("close", id=None)),
    ("field", _line_with("close", meta=5)),
    ("field", _line_with("close", type="closing")),
    ("field", _line_with("close", type=None)),
    ("field", _line_with("close", id=5)),
    ("field", _line_with("close", id="")),
    ("field", _line_with("close", id="x" * 129)),
    ("unknown_reference", _line_with("close", period="2026-13")),
    ("unknown_reference", _line_with("close", period="2026-Q5")),
    ("field", _line_with("close", period="2026-1")),
    ("field", _line_with("close", agreement=["acme"])),
    ("field", _line_with("revenue", currency=None)),
    ("field", _replaced("close", b',"period":"2026-01"', b"")),
    # Repeated keys.
    ("repeated_key", _replaced("close", b'"period":"2026-01"', b'"period":"2026-01","period":"2026-01"')),
    ("repeated_key", _replaced("close", b'"type":"close"', b'"type":"close","type":"close"')),
    ("repeated_key", _replaced("revenue", b'"amount":"1000.00"', b'"amount":"1000.00","meta":{"a":1,"a":1}')),
    # Nesting, surrogates, non-UTF-8 bytes, size.
    ("too_deep", _too_deep),
    ("too_deep", _far_too_deep),
    ("malformed", _replaced("close", b'"period":"2026-01"', b'"period":"2026-01","meta":{"note":"\\ud800"}')),
    ("malformed", _replaced("close", b'"period":"2026-01"', b'"period":"2026-01","meta":{"\\udfff":1}')),
    ("malformed", _replaced("close", b'"period":"2026-01"', b'"period":"2026-01","meta":{"note":"\\ude00\\ud83d"}')),
    ("malformed", _replaced("close", b'"2026-01"', b'"2026-01\xff"')),
    ("malformed", _replaced("close", b'"2026-01"', b'"2026-01\xc3\x28"')),
    ("malformed", _replaced("close", b'"2026-01"', b'"2026-01\xc0\xaf"')),
    ("malformed", _replaced("close", b'"2026-01"', b'"2026-01\xed\xa0\x80"')),
    ("malformed", _replaced("close", b'"2026-01"', b'"2026-01\xe2\x82"')),
    ("too_long", _over_one_mebibyte),
    # Rules of one event, judged on the line alone.
    ("interval", _line_with("utilization", end="2026-01-01T00:00:00Z")),
    ("interval", _line_with("utilization", end="2025-12-31T00:00:00Z")),
    ("capacity", _line_with("utilization", sold_gpu_hours="100.01")),
    ("number", _line_with("utilization", available_gpu_hours="-1")),
    ("unknown_reference", _line_with("payment", payee="Guarantor")),
    ("number", _line_with("payment", amount="0")),
    ("number", _line_with("payment", amount="-5.00")),
    ("field", _line_with("correction", replacement={"period": "2026-01", "amount": "1", "currency": "USD"})),
    ("field", _line_with("correction", void=False)),
    ("field", _replaced("correction", b',"void":true', b"")),
    ("field", _line_with("exercise", method="stock")),
    ("field", _replaced("exercise", b',"fair_market_value":"20.00"', b"")),
    ("field", _line_with("exercise", fair_market_value=None)),
    ("number", _line_with("exercise", fair_market_value="0")),
    ("number", _line_with("share_price", price="0")),
    ("number", _line_with("share_price", volume="-1")),
)


def _truncated(ids: st.SearchStrategy[str], agreement: str) -> st.SearchStrategy[bytes]:
    """A valid event line cut short somewhere before its closing brace."""

    def cut(event_id: str, kind: str, data: st.DataObject) -> bytes:
        line = dump_line(_base(kind, event_id, agreement)).encode("utf-8")
        return line[: data.draw(st.integers(1, len(line) - 1), label="cut")]

    return st.builds(cut, ids, st.sampled_from(sorted(_BAD_BASES)), st.data())


# =============================================================================================
# Argument checks and small helpers
# =============================================================================================


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an integer; got {value!r}")
    if not low <= value <= high:
        raise InvalidArgument(f"{name} must be in {low}..{high}; got {value}")


def _check_choice(name: str, value: Any, choices: tuple) -> None:
    if value is not ANY and value not in choices:
        shown = " | ".join(repr(choice) for choice in choices)
        raise InvalidArgument(f"{name} must be one of {shown}; got {value!r}")


def _as_decimal(name: str, value: Any) -> Decimal:
    if isinstance(value, float) or isinstance(value, bool):
        raise InvalidArgument(f"{name} must be a Decimal, int or decimal string, not {type(value).__name__} {value!r}")
    try:
        result = Decimal(value)
    except Exception:
        raise InvalidArgument(f"{name} must be a Decimal, int or decimal string; got {value!r}") from None
    if not result.is_finite():
        raise InvalidArgument(f"{name} must be finite; got {value!r}")
    return result


def _scaled(units: int, places: int) -> Decimal:
    return Decimal(units).scaleb(-places)


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding="ROUND_FLOOR"))


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding="ROUND_CEILING"))


def _fraction_digits(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
