#!/usr/bin/env python3
"""Regenerate the sample event logs in examples/ from a fixed seed.

    python3 examples/generate_logs.py             # rewrite examples/*.jsonl
    python3 examples/generate_logs.py --expected  # also print the expected ledger

The logs are meant to replay against contracts/ with no rejected line (exit status 0), so
every event is generated together with the state it will meet: a small model of SPEC §4-§5
tracks period inputs, closes, locks, targets, the cap, adjustments, obligations and
credits. The model checks the rules an event must obey before the event is written (a
broken rule is a bug in this script, so it fails loudly), and it prices the payments so
that they are plausible: exact payments of obligations, partial ones, late ones and an
overpayment. It also models warrants (SPEC §5.6: vesting, VWAP, splits, exercises), so
that every exercise it writes is of a vested tranche with enough remaining shares. The
engine in engine/ is the authority on the ledger; this model is only a cross-check, which
`--expected` prints.

Only the standard library is used, randomness comes from seeded random.Random instances
(integers only, never floats), and nothing reads the clock, so the output is the same bytes
on every run and machine.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

OUT_DIR = Path(__file__).resolve().parent
UTC = timezone.utc
ZERO = Fraction(0)
G2P = "guarantor->provider"  # lease-back, top-ups, exercise prices and their late interest
P2G = "provider->guarantor"  # revenue share, cash in lieu, reimbursements and their late interest; shares
P2L = "provider->lender"  # (v2) debt service and its late interest; discharges
G2L = "guarantor->lender"  # (v2) guarantee calls and their late interest
DIRECTIONS = (G2P, P2G, P2L, G2L, "lender->provider", "lender->guarantor")
SHARE_KINDS = frozenset({"warrant_vested", "split_adjustment", "share_delivery"})


# --------------------------------------------------------------------------------------
# Agreement terms. These mirror contracts/*/v*.yaml (the generator is stdlib-only, so it
# cannot read YAML); change both together.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    id: str
    gpu_model: str
    gpus: int


@dataclass(frozen=True)
class Guarantee:
    """(v2) The guarantee of the provider's debt service to the lender."""

    debt_service: tuple[tuple[int, Fraction], ...]  # (from_year, amount per whole month or quarter)
    covers: Fraction
    cure_days: int
    cap: Fraction | None
    reimbursement_days: int
    reimbursement_late_interest: tuple[Fraction, int] | None


@dataclass(frozen=True)
class Version:
    number: int
    effective: date
    pools: tuple[Pool, ...]
    rates: dict[str, Fraction] | None  # None: no backstop
    threshold: Fraction | None
    covers: str | None
    cap: Fraction | None
    steps: tuple[tuple[int, Fraction], ...]  # empty: no revenue share
    payment_terms_days: int
    late_interest: tuple[Fraction, int] | None  # (annual rate, day-count basis)
    floor: tuple[tuple[int, Fraction], ...] = ()  # (v2) revenue floor steps; empty: no floor
    floor_cap: Fraction | None = None
    above_floor: bool = False
    guarantee: Guarantee | None = None

    def pool(self, pool_id: str) -> Pool | None:
        return next((p for p in self.pools if p.id == pool_id), None)


# A vesting condition, as in the documents: ("on_or_after", date),
# ("lease_back_total_at_least", Fraction), ("vwap_at_least", Fraction, days),
# ("all", (condition, ...)) or ("any", (condition, ...)).
Condition = tuple


@dataclass(frozen=True)
class Tranche:
    id: str
    shares: int
    vests: Condition


@dataclass(frozen=True)
class Warrants:
    strike: Fraction
    expires: date
    tranches: tuple[Tranche, ...]


@dataclass(frozen=True)
class Agreement:
    id: str
    provider: str
    guarantor: str
    currency: str
    start: date
    end: date
    period: str  # "monthly" or "quarterly"
    places: int
    mode: str
    lock_after: int | None
    versions: tuple[Version, ...]
    warrants: Warrants | None = None  # the same in every version here (conditions could differ)
    lender: str | None = None  # (v2)


def F(text: str) -> Fraction:
    """An exact decimal from its text (never through a binary float)."""
    return Fraction(Decimal(text))


GB300_POOLS = (Pool("gb300-a", "GB300", 4608), Pool("gb300-b", "GB300", 2304), Pool("b300-c", "B300", 1024))
GB300_MONTHLY = Agreement(
    id="gb300-monthly", provider="NimbusGPU", guarantor="HelixSilicon", currency="USD",
    start=date(2026, 1, 1), end=date(2032, 1, 1), period="monthly", places=2, mode="half_even",
    lock_after=3,
    versions=(
        Version(
            number=1, effective=date(2026, 1, 1), pools=GB300_POOLS,
            rates={"GB300": F("3.40"), "B300": F("2.60")}, threshold=F("0.85"), covers="shortfall",
            cap=F("180000000.00"),
            steps=((1, F("0.15")), (2, F("0.12")), (3, F("0.09")), (4, F("0.06")), (5, F("0.04")), (6, F("0.02"))),
            payment_terms_days=30, late_interest=(F("0.08"), 365),
        ),
    ),
)

RESIDUAL_POOLS = (Pool("alto-tx1", "GB300", 36864), Pool("alto-nd2", "GB300", 18432), Pool("alto-oh3", "B300", 9216))
RESIDUAL_QUARTERLY = Agreement(
    id="residual-quarterly", provider="AltoCompute", guarantor="HelixSilicon", currency="USD",
    start=date(2026, 4, 1), end=date(2032, 4, 1), period="quarterly", places=2, mode="half_up",
    lock_after=None,
    versions=(
        Version(
            number=1, effective=date(2026, 4, 1), pools=RESIDUAL_POOLS,
            rates={"GB300": F("2.95"), "B300": F("2.25"), "H200": F("1.60")}, threshold=F("0.95"),
            covers="idle", cap=F("6300000000.00"),
            steps=((1, F("0.03")), (3, F("0.02")), (5, F("0.01"))),
            payment_terms_days=60, late_interest=None,
        ),
    ),
)

H200_EAST = Pool("h200-east", "H200", 2048)
H200_WEST = Pool("h200-west", "H200", 1024)
H200_SOUTH = Pool("h200-south", "H200", 1536)  # added by v2
AMENDED_H200 = Agreement(
    id="amended-h200", provider="KestrelCloud", guarantor="HelixSilicon", currency="USD",
    start=date(2026, 1, 1), end=date(2029, 1, 1), period="monthly", places=2, mode="half_even",
    lock_after=2,
    versions=(
        Version(
            number=1, effective=date(2026, 1, 1), pools=(H200_EAST, H200_WEST),
            rates={"H200": F("2.10")}, threshold=F("0.80"), covers="shortfall", cap=F("9000000.00"),
            steps=((1, F("0.10")), (2, F("0.07")), (3, F("0.05"))),
            payment_terms_days=30, late_interest=(F("0.06"), 360),
        ),
        Version(
            number=2, effective=date(2026, 7, 1), pools=(H200_EAST, H200_WEST, H200_SOUTH),
            rates={"H200": F("1.85")}, threshold=F("0.75"), covers="shortfall", cap=F("11500000.00"),
            steps=((1, F("0.08")), (2, F("0.06")), (3, F("0.045"))),
            payment_terms_days=45, late_interest=(F("0.07"), 360),
        ),
    ),
)


MERIDIAN_POOLS = (Pool("cmh-1", "GB300", 6912), Pool("cmh-2", "GB300", 3456))
WARRANTS_MILESTONES = Agreement(
    id="warrants-milestones", provider="MeridianGPU", guarantor="HelixSilicon", currency="USD",
    start=date(2026, 1, 1), end=date(2030, 1, 1), period="monthly", places=2, mode="half_even",
    lock_after=2,
    versions=(
        Version(
            number=1, effective=date(2026, 1, 1), pools=MERIDIAN_POOLS,
            rates={"GB300": F("3.10")}, threshold=F("0.80"), covers="shortfall", cap=F("60000000.00"),
            steps=(), payment_terms_days=30, late_interest=(F("0.09"), 365),
        ),
    ),
    warrants=Warrants(
        strike=F("0.01"), expires=date(2033, 1, 1),
        tranches=(
            Tranche("capacity-10m", 2500000, ("lease_back_total_at_least", F("10000000.00"))),
            Tranche("capacity-20m", 2500000, ("lease_back_total_at_least", F("20000000.00"))),
            Tranche("capacity-40m", 2500000, ("lease_back_total_at_least", F("40000000.00"))),
            Tranche("price-150", 1500000, ("vwap_at_least", F("150.00"), 20)),
            Tranche("price-180", 1500000, ("vwap_at_least", F("180.00"), 20)),
            Tranche("price-250-year-2", 1000000,
                    ("all", (("on_or_after", date(2027, 1, 1)), ("vwap_at_least", F("250.00"), 30)))),
        ),
    ),
)


# (v2) A take-or-pay partnership: the guarantor tops quarterly revenue up to a floor that steps
# down over six years, and the provider shares the revenue above the floor.
FLOOR_PARTNERSHIP = Agreement(
    id="floor-partnership", provider="VantaCloud", guarantor="HelixSilicon", currency="USD",
    start=date(2026, 1, 1), end=date(2032, 1, 1), period="quarterly", places=2, mode="half_even",
    lock_after=2,
    versions=(
        Version(
            number=1, effective=date(2026, 1, 1), pools=(Pool("vanta-ams1", "GB300", 9216),),
            rates=None, threshold=None, covers=None, cap=None,
            steps=((1, F("0.25")), (3, F("0.20")), (5, F("0.15"))),
            payment_terms_days=45, late_interest=(F("0.07"), 365),
            floor=((1, F("45000000.00")), (2, F("40000000.00")), (3, F("35000000.00")), (4, F("30000000.00")),
                   (5, F("25000000.00")), (6, F("20000000.00"))),
            floor_cap=F("400000000.00"), above_floor=True,
        ),
    ),
)

# (v2) A data-centre builder's debt service to its lender, guaranteed by the chip vendor.
DC_GUARANTEE = Agreement(
    id="dc-guarantee", provider="NorthbeamCloud", guarantor="HelixSilicon", lender="HarbourBank", currency="USD",
    start=date(2026, 1, 1), end=date(2031, 1, 1), period="monthly", places=2, mode="half_even",
    lock_after=None,
    versions=(
        Version(
            number=1, effective=date(2026, 1, 1), pools=(Pool("nb-dfw1", "GB300", 4608),),
            rates=None, threshold=None, covers=None, cap=None, steps=(),
            payment_terms_days=15, late_interest=(F("0.08"), 360),
            guarantee=Guarantee(
                debt_service=((1, F("2400000.00")), (2, F("2600000.00")), (4, F("2200000.00"))),
                covers=F("0.90"), cure_days=30, cap=F("6000000.00"),
                reimbursement_days=60, reimbursement_late_interest=(F("0.11"), 365),
            ),
        ),
    ),
)


# --------------------------------------------------------------------------------------
# Numbers and calendar (SPEC §1, §2).
# --------------------------------------------------------------------------------------


def round_amount(x: Fraction, places: int, mode: str) -> Fraction:
    """Round exactly once, as SPEC §1 says, to `places` digits with `mode`."""
    scaled = x * 10**places
    floor, rest = divmod(scaled.numerator, scaled.denominator)
    frac = Fraction(rest, scaled.denominator)
    half = Fraction(1, 2)
    if frac == 0:
        q = floor
    elif mode == "down":  # toward zero
        q = floor if scaled > 0 else floor + 1
    elif mode == "half_up":  # halves away from zero
        q = floor + 1 if (frac > half or (frac == half and scaled > 0)) else floor
    elif mode == "half_even":
        q = floor + 1 if (frac > half or (frac == half and floor % 2 == 1)) else floor
    else:
        raise ValueError(mode)
    return Fraction(q, 10**places)


def money(x: Fraction, places: int = 2) -> str:
    """A decimal string with exactly `places` fraction digits; zero has no sign."""
    q = x * 10**places
    assert q.denominator == 1, f"{x} has more than {places} fraction digits"
    whole, part = divmod(abs(q.numerator), 10**places)
    sign = "-" if q.numerator < 0 else ""
    return f"{sign}{whole}.{part:0{places}d}" if places else f"{sign}{whole}"


def floor_to(x: Fraction, places: int = 2) -> Fraction:
    return Fraction((x * 10**places).numerator // (x * 10**places).denominator, 10**places)


def stamp(at: datetime, offset_hours: int = 0) -> str:
    """A SPEC §2 timestamp: `Z` for UTC, else the same instant written with an offset."""
    if offset_hours == 0:
        return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    local = at.astimezone(timezone(timedelta(hours=offset_hours)))
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{'+' if offset_hours > 0 else '-'}{abs(offset_hours):02d}:00"


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def days(first: date, last_exclusive: date) -> Iterator[date]:
    d = first
    while d < last_exclusive:
        yield d
        d += timedelta(days=1)


def add_months(d: date, n: int) -> date:
    """The first day of the month n months after d's month."""
    years, month0 = divmod(d.month - 1 + n, 12)
    return date(d.year + years, month0 + 1, 1)


def add_years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February in a common year
        return date(d.year + n, 2, 28)


class Calendar:
    """Settlement periods, versions and due dates of one agreement (SPEC §2, §3)."""

    def __init__(self, agr: Agreement):
        self.agr = agr

    def _boundary(self, d: date) -> date:
        if self.agr.period == "monthly":
            return date(d.year, d.month, 1)
        return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)

    def period_of(self, d: date) -> str:
        """The id of the period containing day d (d inside the term)."""
        assert self.agr.start <= d < self.agr.end, f"{d} is outside the term of {self.agr.id}"
        start = max(self._boundary(d), self.agr.start)
        if self.agr.period == "monthly":
            return f"{start.year:04d}-{start.month:02d}"
        return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"

    def bounds(self, period: str) -> tuple[date, date]:
        year, rest = period.split("-")
        month = int(rest) if self.agr.period == "monthly" else 3 * (int(rest[1]) - 1) + 1
        natural = date(int(year), month, 1)
        step = 1 if self.agr.period == "monthly" else 3
        return max(natural, self.agr.start), min(add_months(natural, step), self.agr.end)

    def hours(self, period: str) -> int:
        start, end = self.bounds(period)
        return (end - start).days * 24

    def next_period(self, period: str) -> str:
        return self.period_of(self.bounds(period)[1])

    def version_for_period(self, period: str) -> Version:
        start = self.bounds(period)[0]
        return [v for v in self.agr.versions if v.effective <= start][-1]

    def version_for_date(self, d: date) -> Version:
        if d < self.agr.start:
            return self.agr.versions[0]
        if d >= self.agr.end:
            return self.agr.versions[-1]
        return self.version_for_period(self.period_of(d))

    def due(self, period: str) -> date:
        return self.bounds(period)[1] + timedelta(days=self.version_for_period(period).payment_terms_days)

    def contract_year(self, d: date) -> int:
        k = 1
        while add_years(self.agr.start, k) <= d:
            k += 1
        return k

    def scheduled(self, steps: tuple[tuple[int, Fraction], ...], period: str) -> Fraction:
        """(v2) An amount schedule's value for a period: the step of the contract year of its
        start, times the days of the period over the days of its calendar month or quarter."""
        start, end = self.bounds(period)
        year = self.contract_year(start)
        amount = [amount for from_year, amount in steps if from_year <= year][-1]
        natural = self._boundary(start)
        whole = (add_months(natural, 1 if self.agr.period == "monthly" else 3) - natural).days
        return amount * (end - start).days / whole


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# --------------------------------------------------------------------------------------
# The expectation model (SPEC §5, warrants included).
# --------------------------------------------------------------------------------------


@dataclass
class Obligation:
    entry: str
    kind: str
    seq: int
    direction: str
    due: date
    outstanding: Fraction


@dataclass
class Books:
    """Replays one agreement's events the way SPEC §5 describes, asserting every rule."""

    agr: Agreement
    cal: Calendar = field(init=False)
    lines: dict[str, str] = field(default_factory=dict)  # applied id -> its line
    kinds: dict[str, str] = field(default_factory=dict)  # utilization/revenue id -> type
    contrib: dict[str, tuple | None] = field(default_factory=dict)  # id -> current contribution
    closed: list[str] = field(default_factory=list)
    restated: set[str] = field(default_factory=set)
    last_target: dict[tuple, Fraction] = field(default_factory=dict)
    first_entry: dict[tuple, str] = field(default_factory=dict)
    adjustments: dict[tuple, int] = field(default_factory=dict)
    entitlement: Fraction = ZERO  # E of SPEC §5.3
    issued: Fraction = ZERO  # I of SPEC §5.3
    top_up_entitlement: Fraction = ZERO  # (v2) E and I of the top-ups, apart from the lease-back's
    top_up_issued: Fraction = ZERO
    called: set[str] = field(default_factory=set)  # (v2) debt-service entries already called
    calls: Fraction = ZERO  # (v2) C: every call so far
    open: dict[str, Obligation] = field(default_factory=dict)
    credit: dict[str, Fraction] = field(default_factory=lambda: dict.fromkeys(DIRECTIONS, ZERO))
    entries: list[dict] = field(default_factory=list)
    # Warrants (SPEC §5.6): per tranche, vested or not and its remaining shares; the share
    # prices as (date, price, volume, split factor when recorded); the split factor f.
    vested: dict[str, bool] = field(default_factory=dict)
    remaining: dict[str, int] = field(default_factory=dict)
    observations: list[tuple[date, Fraction, Fraction, Fraction]] = field(default_factory=list)
    factor: Fraction = Fraction(1)

    def __post_init__(self) -> None:
        self.cal = Calendar(self.agr)
        for tranche in self.agr.warrants.tranches if self.agr.warrants else ():
            self.vested[tranche.id], self.remaining[tranche.id] = False, tranche.shares

    # ---- bookkeeping helpers ----

    def rnd(self, x: Fraction) -> Fraction:
        return round_amount(x, self.agr.places, self.agr.mode)

    def is_locked(self, period: str) -> bool:
        if self.agr.lock_after is None or period not in self.closed:
            return False
        return len(self.closed) - 1 - self.closed.index(period) >= self.agr.lock_after

    def open_period(self) -> str:
        return self.cal.next_period(self.closed[-1]) if self.closed else self.cal.period_of(self.agr.start)

    def inputs(self, period: str, pool: str | None) -> tuple[Fraction, Fraction]:
        """(Σ available, Σ sold) of a pool, or (Σ revenue, 0) of a period when pool is None."""
        a = s = ZERO
        for c in self.contrib.values():
            if c is None or c[1] != period:
                continue
            if pool is None and c[0] == "revenue":
                a += c[2]
            elif pool is not None and c[0] == "utilization" and c[2] == pool:
                a, s = a + c[3], s + c[4]
        return a, s

    # ---- validation of inputs (SPEC §4) ----

    def utilization_contribution(self, fields: dict) -> tuple:
        start, end = parse_stamp(fields["start"]), parse_stamp(fields["end"])
        assert start < end
        period = self.cal.period_of(start.date())
        p_start, p_end = self.cal.bounds(period)
        assert midnight(p_start) <= start and end <= midnight(p_end), f"{fields} crosses a period"
        version = self.cal.version_for_period(period)
        pool = version.pool(fields["pool"])
        assert pool is not None, f"{fields['pool']} is not a pool of {period}"
        available, sold = F(fields["available_gpu_hours"]), F(fields["sold_gpu_hours"])
        assert 0 <= sold <= available
        return ("utilization", period, pool.id, available, sold)

    def revenue_contribution(self, fields: dict) -> tuple:
        assert fields["currency"] == self.agr.currency
        period = fields["period"]
        assert self.cal.bounds(period)[0] < self.cal.bounds(period)[1]
        version = self.cal.version_for_period(period)
        assert version.steps or version.floor, "revenue needs a revenue_share or a revenue_floor"
        return ("revenue", period, F(fields["amount"]))

    def check_capacity(self, contribution: tuple, removed: str | None = None) -> None:
        if contribution[0] != "utilization":
            return
        _, period, pool_id, available, _ = contribution
        total = available + sum(
            (c[3] for i, c in self.contrib.items()
             if i != removed and c and c[0] == "utilization" and c[1] == period and c[2] == pool_id),
            ZERO,
        )
        gpus = self.cal.version_for_period(period).pool(pool_id).gpus
        assert total <= gpus * self.cal.hours(period), f"{pool_id} over capacity in {period}"

    def touch(self, periods: set[str]) -> None:
        for period in periods:
            assert not self.is_locked(period), f"{period} is locked"
        for period in periods:
            if period in self.closed:
                self.restated.add(period)

    # ---- applying events ----

    def apply(self, event: dict, line: str) -> None:
        assert event["agreement"] == self.agr.id
        assert event["id"] not in self.lines, f"id {event['id']} reused"
        getattr(self, "on_" + event["type"])(event)
        self.lines[event["id"]] = line

    def on_utilization(self, event: dict) -> None:
        c = self.utilization_contribution(event)
        self.check_capacity(c)
        self.touch({c[1]})
        self.kinds[event["id"]], self.contrib[event["id"]] = "utilization", c

    def on_revenue(self, event: dict) -> None:
        c = self.revenue_contribution(event)
        self.touch({c[1]})
        self.kinds[event["id"]], self.contrib[event["id"]] = "revenue", c

    def on_correction(self, event: dict) -> None:
        target = event["corrects"]
        assert target in self.kinds, f"{target} is not an applied utilization or revenue event"
        current = self.contrib[target]
        touched = {current[1]} if current else set()
        if "void" in event:
            assert event["void"] is True and "replacement" not in event
            new = None
        else:
            fields = event["replacement"]
            expected = {"pool", "start", "end", "available_gpu_hours", "sold_gpu_hours"} \
                if self.kinds[target] == "utilization" else {"period", "amount", "currency"}
            assert set(fields) == expected, f"replacement fields {sorted(fields)}"
            new = getattr(self, self.kinds[target] + "_contribution")(fields)
            self.check_capacity(new, removed=target)
            touched.add(new[1])
        self.touch(touched)
        self.contrib[target] = new

    def on_close(self, event: dict) -> None:
        period = event["period"]
        assert period == self.open_period(), f"close {period}, expected {self.open_period()}"
        end = self.cal.bounds(period)[1]
        version = self.cal.version_for_period(period)
        due = self.cal.due(period)
        self.issue_adjustments(end, due, version.cap, version.floor_cap, event["id"])
        for pool in version.pools if version.rates else ():
            self.issue_change((period, "lease_back", pool.id), version, end, due, version.cap,
                              f"{self.agr.id}/{period}/lease_back/{pool.id}", "lease_back")
        if version.floor:
            self.issue_change((period, "revenue_top_up"), version, end, due, version.floor_cap,
                              f"{self.agr.id}/{period}/revenue_top_up", "revenue_top_up")
        if version.steps:
            self.issue_change((period, "revenue_share"), version, end, due, None,
                              f"{self.agr.id}/{period}/revenue_share", "revenue_share")
        if version.guarantee:
            owed = self.rnd(self.cal.scheduled(version.guarantee.debt_service, period))
            if owed:
                self.record(f"{self.agr.id}/{period}/debt_service", "debt_service", period, end, due, owed, P2L)
        self.closed.append(period)
        if self.agr.warrants:
            self.vest(end, self.due_to_vest(end))

    def on_true_up(self, event: dict) -> None:
        on = date.fromisoformat(event["date"])
        if self.closed:
            assert on >= self.cal.bounds(self.closed[-1])[1], "true_up dated before the last closed period ended"
        version = self.cal.version_for_date(on)
        # Every version here has the clauses it adjusts, so each cap in force is that version's.
        self.issue_adjustments(on, on + timedelta(days=version.payment_terms_days), version.cap, version.floor_cap,
                               event["id"])

    def on_payment(self, event: dict) -> None:
        parties = {self.agr.provider: "provider", self.agr.guarantor: "guarantor", self.agr.lender: "lender"}
        payer, payee = parties[event["payer"]], parties[event["payee"]]
        assert payer != payee and event["currency"] == self.agr.currency
        amount = F(event["amount"])
        assert amount > 0 and amount == self.rnd(amount)
        direction = f"{payer}->{payee}"
        on = date.fromisoformat(event["date"])
        applied: list[tuple[Obligation, Fraction]] = []
        rest = amount
        first = self.open.get(event.get("applies_to", ""))
        queue = ([first] if first and first.direction == direction else []) + self.ordered(direction)
        for ob in queue:
            if rest == 0:
                break
            if ob.outstanding == 0:
                continue
            a = min(rest, ob.outstanding)
            ob.outstanding -= a
            rest -= a
            applied.append((ob, a))
        self.credit[direction] += rest
        self.record(f"{self.agr.id}/payment/{event['id']}", "payment", None, on, None, amount, direction,
                    applied=[(ob.entry, a) for ob, a in applied], unapplied=rest)
        self.prune()
        version = self.cal.version_for_date(on)
        n = 0
        for ob, a in applied:
            # Late interest bears no interest (SPEC §5.5), so paying it late costs nothing more;
            # a reimbursement bears it on the guarantee's own terms (v2).
            terms = version.late_interest
            if ob.kind == "reimbursement":
                terms = version.guarantee.reimbursement_late_interest if version.guarantee else None
            if terms is None or ob.due >= on or ob.kind == "late_interest":
                continue
            rate, basis = terms
            interest = self.rnd(a * rate * (on - ob.due).days / basis)
            if interest != 0:
                n += 1
                self.record(f"{self.agr.id}/late_interest/{event['id']}/{n}", "late_interest", None, on,
                            on + timedelta(days=version.payment_terms_days), interest, direction)

    # ---- guarantee calls (SPEC §5.7, v2) ----

    def on_guarantee_call(self, event: dict) -> None:
        on, target = date.fromisoformat(event["date"]), event["obligation"]
        version = self.cal.version_for_date(on)
        guarantee = version.guarantee
        debt = next(entry for entry in self.entries if entry["id"] == target)
        assert guarantee and debt["kind"] == "debt_service" and target not in self.called, f"{target} cannot be called"
        assert on >= date.fromisoformat(debt["due"]) + timedelta(days=guarantee.cure_days), f"{target} is not in default"
        owed = self.outstanding(target)
        assert owed > 0, f"{target} has nothing outstanding"
        uncapped = self.rnd(owed * guarantee.covers)
        amount = uncapped if guarantee.cap is None else min(uncapped, max(ZERO, guarantee.cap - self.calls))
        assert amount > 0, "the call covers nothing"
        self.called.add(target)
        self.calls += amount
        base = f"{self.agr.id}/call/{event['id']}"
        self.record(base, "guarantee_call", None, on, on + timedelta(days=version.payment_terms_days), amount, G2L,
                    uncapped=uncapped if amount != uncapped else None, obligation=target)
        self.record(f"{base}/discharge", "discharge", None, on, None, -amount, P2L, obligation=target)
        self.record(f"{base}/reimbursement", "reimbursement", None, on, on + timedelta(days=guarantee.reimbursement_days),
                    amount, P2G, obligation=target)

    # ---- warrants (SPEC §5.6) ----

    def holds(self, condition: Condition, on: date) -> bool:
        kind = condition[0]
        if kind == "on_or_after":
            return on >= condition[1]
        if kind == "lease_back_total_at_least":
            return self.issued >= condition[1]
        if kind == "vwap_at_least":
            threshold, n = condition[1], condition[2]
            window = [o for o in self.observations if o[0] <= on][-n:]
            if len(window) < n:
                return False
            # An observation made at split factor g is worth price ÷ (f/g), volume × (f/g) now.
            value = sum((price * volume for _, price, volume, _ in window), ZERO)
            volume = sum((volume * self.factor / g for _, _, volume, g in window), ZERO)
            return value / volume >= threshold / self.factor
        parts = [self.holds(part, on) for part in condition[1]]
        return all(parts) if kind == "all" else any(parts)

    def due_to_vest(self, on: date) -> list[str]:
        if on >= self.agr.warrants.expires:
            return []
        return [t.id for t in self.agr.warrants.tranches if not self.vested[t.id] and self.holds(t.vests, on)]

    def vest(self, on: date, tranche_ids: list[str]) -> None:
        for tranche_id in tranche_ids:
            self.vested[tranche_id] = True
            if self.remaining[tranche_id]:  # a tranche left with 0 shares vests without an entry
                self.record(f"{self.agr.id}/warrants/{tranche_id}/vested", "warrant_vested", None, on, None,
                            self.remaining[tranche_id], P2G, tranche=tranche_id)

    def on_share_price(self, event: dict) -> None:
        on = date.fromisoformat(event["date"])
        assert self.agr.warrants and (not self.observations or on > self.observations[-1][0])
        price, volume = F(event["price"]), F(event["volume"])
        assert price > 0 and volume > 0
        self.observations.append((on, price, volume, self.factor))
        self.vest(on, self.due_to_vest(on))

    def on_stock_split(self, event: dict) -> None:
        n, m = event["numerator"], event["denominator"]
        assert self.agr.warrants and n >= 1 and m >= 1
        for tranche in self.agr.warrants.tranches:
            before = self.remaining[tranche.id]
            self.remaining[tranche.id] = before * n // m
            if self.vested[tranche.id] and self.remaining[tranche.id] != before:
                self.record(f"{self.agr.id}/warrants/{tranche.id}/split/{event['id']}", "split_adjustment", None,
                            date.fromisoformat(event["date"]), None, self.remaining[tranche.id] - before, P2G,
                            tranche=tranche.id)
        self.factor *= Fraction(n, m)

    def on_exercise(self, event: dict) -> None:
        terms = self.agr.warrants
        on, tranche_id, k = date.fromisoformat(event["date"]), event["tranche"], event["shares"]
        assert terms and on < terms.expires and tranche_id in self.remaining
        vesting = self.due_to_vest(on)
        assert self.vested[tranche_id] or tranche_id in vesting, f"{tranche_id} has not vested by {on}"
        assert 1 <= k <= self.remaining[tranche_id], f"{k} shares exceed {tranche_id}'s {self.remaining[tranche_id]}"
        strike = terms.strike / self.factor
        if event["method"] == "net":
            value = F(event["fair_market_value"])
            assert value > strike
            net = k * (value - strike) / value
            assert net >= 1
        self.vest(on, vesting)
        base = f"{self.agr.id}/warrants/{tranche_id}/exercise/{event['id']}"
        due = on + timedelta(days=self.cal.version_for_date(on).payment_terms_days)
        if event["method"] == "cash":
            price = self.rnd(k * strike)
            if price:
                self.record(f"{base}/price", "exercise_price", None, on, due, price, G2P, tranche=tranche_id)
            self.record(f"{base}/shares", "share_delivery", None, on, on, k, P2G, tranche=tranche_id)
        else:
            whole = net.numerator // net.denominator
            self.record(f"{base}/shares", "share_delivery", None, on, on, whole, P2G, tranche=tranche_id)
            cash = self.rnd((net - whole) * value)
            if cash:
                self.record(f"{base}/cash_in_lieu", "cash_in_lieu", None, on, due, cash, P2G, tranche=tranche_id)
        self.remaining[tranche_id] -= k

    def share_price_on(self, on: date) -> Fraction:
        """The last recorded share price dated on or before `on`, in the shares in force now."""
        d, price, _, g = [o for o in self.observations if o[0] <= on][-1]
        return price * g / self.factor

    # ---- issuing entries (SPEC §5.2-§5.5) ----

    def target(self, key: tuple, version: Version) -> Fraction:
        period = key[0]
        if key[1] == "lease_back":
            pool = version.pool(key[2])
            a, s = self.inputs(period, pool.id)
            if a == 0 or s >= version.threshold * a:
                return ZERO
            covered = version.threshold * a - s if version.covers == "shortfall" else a - s
            return self.rnd(covered * version.rates[pool.gpu_model])
        r, _ = self.inputs(period, None)
        floor = self.cal.scheduled(version.floor, period) if version.floor else None
        if key[1] == "revenue_top_up":
            return self.rnd(floor - r) if r < floor else ZERO
        year = self.cal.contract_year(self.cal.bounds(period)[0])
        rate = [rate for from_year, rate in version.steps if from_year <= year][-1]
        base = r - floor if version.above_floor else r
        return self.rnd(base * rate) if base > 0 else ZERO

    def issue_change(self, key, version, on, due, cap, entry_id, kind, of=None) -> None:
        new = self.target(key, version)
        d = new - self.last_target.get(key, ZERO)
        if d == 0:
            return
        amount = d
        if key[1] == "lease_back":
            amount = self.capped(d, cap, self.entitlement, self.issued)
            self.entitlement += d
            self.issued += amount
        elif key[1] == "revenue_top_up":  # its own cap and sums: the two caps never share a cent
            amount = self.capped(d, cap, self.top_up_entitlement, self.top_up_issued)
            self.top_up_entitlement += d
            self.top_up_issued += amount
        self.last_target[key] = new
        adjusts = self.first_entry.get(key) if kind == "adjustment" else None
        self.first_entry.setdefault(key, entry_id)
        direction = P2G if key[1] == "revenue_share" else G2P
        self.record(entry_id, kind, key[0], on, due, amount, direction,
                    uncapped=d if amount != d else None, of=of, adjusts=adjusts)

    @staticmethod
    def capped(d: Fraction, cap: Fraction | None, entitlement: Fraction, issued: Fraction) -> Fraction:
        """A change d as the cap lets it be issued (SPEC §5.3)."""
        if d > 0:
            return d if cap is None else min(d, max(ZERO, cap - issued))
        return min(ZERO, max(d, entitlement + d - issued))

    def issue_adjustments(self, on: date, due: date, cap: Fraction | None, top_up_cap: Fraction | None,
                          cause: str) -> None:
        for period in sorted(self.restated, key=lambda p: self.cal.bounds(p)[0]):
            version = self.cal.version_for_period(period)
            keys = [(period, "lease_back", p.id) for p in version.pools] if version.rates else []
            keys += [(period, "revenue_top_up")] if version.floor else []
            keys += [(period, "revenue_share")] if version.steps else []
            for key in keys:
                n = self.adjustments.get(key, 0) + 1
                base = f"{self.agr.id}/{period}/{key[1]}" + (f"/{key[2]}" if len(key) == 3 else "")
                before = len(self.entries)
                self.issue_change(key, version, on, due, top_up_cap if key[1] == "revenue_top_up" else cap,
                                  f"{base}/adj{n}", "adjustment", of=key[1])
                if len(self.entries) > before:
                    self.adjustments[key] = n
        self.restated.clear()

    def ordered(self, direction: str) -> list[Obligation]:
        return sorted((o for o in self.open.values() if o.direction == direction), key=lambda o: (o.due, o.seq))

    def prune(self) -> None:
        self.open = {k: o for k, o in self.open.items() if o.outstanding > 0}

    def record(self, entry_id, kind, period, on, due, amount, direction, **extra) -> None:
        entry = {"seq": len(self.entries) + 1, "id": entry_id, "kind": kind, "period": period,
                 "date": on.isoformat(), "due": due.isoformat() if due else None,
                 "amount": str(amount) if kind in SHARE_KINDS else money(amount, self.agr.places),
                 "direction": direction}
        entry.update({k: v for k, v in extra.items() if v is not None})
        self.entries.append(entry)
        if kind == "payment" or kind in SHARE_KINDS:  # shares are never obligations or credits
            return
        if amount > 0:  # an obligation: unapplied credit of its direction goes to it at once
            ob = Obligation(entry_id, kind, entry["seq"], direction, due, amount)
            used = min(self.credit[direction], amount)
            ob.outstanding -= used
            self.credit[direction] -= used
            entry["credit_applied"] = used
            self.open[entry_id] = ob
        elif kind == "discharge":  # applied to its own debt service alone (SPEC §5.7)
            self.open[extra["obligation"]].outstanding += amount
        elif amount < 0:  # a credit: applied at once to open obligations of its direction
            rest = -amount
            for ob in self.ordered(direction):
                a = min(rest, ob.outstanding)
                ob.outstanding -= a
                rest -= a
            self.credit[direction] += rest
        self.prune()

    # ---- questions the payment plans ask ----

    def owed(self, direction: str, due_by: date | None = None) -> Fraction:
        return sum((o.outstanding for o in self.ordered(direction) if due_by is None or o.due <= due_by), ZERO)

    def outstanding(self, entry_id: str) -> Fraction:
        ob = self.open.get(entry_id)
        return ob.outstanding if ob else ZERO


# --------------------------------------------------------------------------------------
# Building the logs: each scenario yields timed items, replayed in time order.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pay:
    """A payment decided when the log reaches `on` (its amount depends on the books then).

    `amount(books)` returns the amount, or None to skip a payment with nothing to pay.
    """

    on: date
    payer: str  # "provider", "guarantor" or (v2) "lender"
    amount: Callable[[Books], Fraction | None]
    applies_to: str | None = None
    meta: dict | None = None
    tag: str | None = None  # lets a Resend name this payment before its id is known
    payee: str | None = None  # by default the other of provider and guarantor


@dataclass(frozen=True)
class Resend:
    """An exact copy of an earlier line: a feed or a bank re-sending what it already sent.

    `event_id` is the id of the earlier event, or the tag of an earlier Pay.
    """

    event_id: str


class Timeline:
    """Items of one agreement's log with the instant each is sent; ties keep insertion order."""

    def __init__(self, agr: Agreement):
        self.agr = agr
        self.items: list[tuple[datetime, int, object]] = []

    def add(self, sent: datetime, item: object) -> None:
        self.items.append((sent, len(self.items), item))

    def event(self, sent: datetime, type_: str, event_id: str, meta: dict | None = None, **fields) -> dict:
        event = {"id": event_id, "type": type_, "agreement": self.agr.id, **fields}
        if meta:
            event["meta"] = meta
        self.add(sent, event)
        return event


def dumps(event: dict) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def replay(timeline: Timeline) -> tuple[list[tuple[datetime, int, str]], Books]:
    """Put a timeline in order, price its payments, and check every line against the books."""
    books = Books(timeline.agr)
    out: list[tuple[datetime, int, str]] = []
    payments = 0
    tags: dict[str, str] = {}
    for sent, order, item in sorted(timeline.items, key=lambda t: (t[0], t[1])):
        if isinstance(item, Resend):
            event_id = tags.get(item.event_id, item.event_id)
            line = books.lines[event_id]
            contribution = books.contrib.get(event_id)
            assert contribution is None or not books.is_locked(contribution[1])
            out.append((sent, order, line))
            continue
        if isinstance(item, Exercise):
            fields = dict(item.fields)
            if "fair_market_value" in fields:
                # The previous trading day's close, in the shares in force when it is exercised.
                fmv = books.share_price_on(fields["fair_market_value"][1] - timedelta(days=1))
                fields["fair_market_value"] = money(floor_to(fmv))
            item = {"id": item.event_id, "type": "exercise", "agreement": timeline.agr.id, **fields}
        elif isinstance(item, Pay):
            assert sent.date() == item.on
            amount = item.amount(books)
            if amount is None or amount <= 0:
                continue
            payments += 1
            event_id = f"{timeline.agr.id}:pay:{item.on.isoformat()}:{payments:03d}"
            if item.tag:
                tags[item.tag] = event_id
            parties = {"provider": timeline.agr.provider, "guarantor": timeline.agr.guarantor,
                       "lender": timeline.agr.lender}
            payee = item.payee or ("guarantor" if item.payer == "provider" else "provider")
            item = {
                "id": event_id,
                "type": "payment", "agreement": timeline.agr.id,
                "payer": parties[item.payer], "payee": parties[payee],
                "amount": money(amount), "currency": timeline.agr.currency, "date": item.on.isoformat(),
                **({"applies_to": item.applies_to} if item.applies_to else {}),
                **({"meta": item.meta} if item.meta else {}),
            }
        line = dumps(item)
        books.apply(item, line)
        out.append((sent, order, line))
    return out, books


# ---- payment amounts ----


def exactly(entry_id: str) -> Callable[[Books], Fraction]:
    """The outstanding balance of one obligation: a remittance that names its invoice."""
    def amount(books: Books) -> Fraction:
        owed = books.outstanding(entry_id)
        assert owed > 0, f"{entry_id} is not open"
        return owed
    return amount


def bill(direction: str, due_by: date | None = None, share: Fraction = Fraction(1),
         round_up_to: int | None = None) -> Callable[[Books], Fraction | None]:
    """Everything the payer owes that falls due by `due_by`: its share, rounded down to the
    cent, or rounded up to a round figure (an overpayment that leaves unapplied credit)."""
    def amount(books: Books) -> Fraction | None:
        owed = books.owed(direction, due_by)
        if owed == 0:
            return None
        if round_up_to:
            return Fraction(-(-owed // round_up_to) * round_up_to)
        return floor_to(owed * share)
    return amount


def fixed(text: str) -> Callable[[Books], Fraction]:
    return lambda books: F(text)


# ---- utilization and revenue ----


@dataclass(frozen=True)
class Profile:
    """How a pool is used: a sold share per period (in basis points) and its reliability."""

    sold_bp: dict[str, int]  # period or month "YYYY-MM" -> average sold share of available
    noise_bp: int = 300  # daily swing around the average
    unit: int = 72  # GPUs lost when one failure domain goes down (an NVL72 rack, an HGX node)
    incidents: tuple[int, int] = (1, 6)  # failures per day
    maintenance: dict[date, int] = field(default_factory=dict)  # day -> GPUs taken offline all day


def daily_hours(pool: Pool, profile: Profile, day: date, rng: random.Random,
                hours: int = 24) -> tuple[Fraction, Fraction]:
    """(available, sold) GPU-hours of a pool over `hours` hours of one day.

    Availability loses whole failure domains for quarter-hour multiples, plus planned
    maintenance; sales are a noisy share of what was available, cut to the cent.
    """
    lost = Fraction(profile.maintenance.get(day, 0) * hours)
    if hours == 24:
        for _ in range(rng.randint(*profile.incidents)):
            lost += profile.unit * Fraction(rng.randint(4, 96), 4)
    else:  # one hour of an hourly feed: at most two failure domains down for part of it
        for _ in range(rng.randint(0, 2)):
            lost += profile.unit * Fraction(rng.randint(1, 4), 4)
    available = max(Fraction(pool.gpus * hours) - lost, ZERO)
    bp = profile.sold_bp[day.strftime("%Y-%m")] + rng.randint(-profile.noise_bp, profile.noise_bp)
    sold = floor_to(available * min(max(bp, 0), 10000) / 10000)
    return available, sold


def add_day(tl: Timeline, pool: Pool, day: date, available: Fraction, sold: Fraction, *,
            event_id: str | None = None, sent: datetime | None = None, offset_hours: int = 0,
            meta: dict | None = None, stamped_day: date | None = None) -> dict:
    """One daily utilization report, sent after the day has ended (early next morning)."""
    stamped = stamped_day or day
    return tl.event(
        sent or midnight(day) + timedelta(days=1, hours=2, minutes=sum(map(ord, pool.id)) % 60),
        "utilization", event_id or f"{tl.agr.id}:util:{pool.id}:{day.isoformat()}",
        meta=meta, pool=pool.id,
        start=stamp(midnight(stamped), offset_hours), end=stamp(midnight(stamped) + timedelta(days=1), offset_hours),
        available_gpu_hours=money(available), sold_gpu_hours=money(sold),
    )


def replacement_of(event: dict, **changes) -> dict:
    """The fields a correction must carry: the corrected event's own, less id/type/agreement/meta."""
    fields = {k: v for k, v in event.items() if k not in ("id", "type", "agreement", "meta")}
    assert set(changes) <= set(fields)
    fields.update(changes)
    return fields


def revenue_lines(tl: Timeline, period: str, sent: datetime, total: Fraction, split: list[tuple[str, int]],
                  meta: dict | None = None) -> dict[str, dict]:
    """A period's revenue as invoiced per customer segment (amounts add up per period)."""
    events, rest = {}, total
    for n, (segment, share_bp) in enumerate(split):
        amount = rest if n == len(split) - 1 else floor_to(total * share_bp / 10000)
        rest -= amount
        events[segment] = tl.event(sent + timedelta(minutes=n), "revenue", f"{tl.agr.id}:rev:{period}:{segment}",
                                   meta=meta, period=period, amount=money(amount), currency=tl.agr.currency)
    return events


def monthly(months: list[str], sold_bp: list[int]) -> dict[str, int]:
    """A sold share (basis points) per month, checked to cover every month."""
    return dict(zip(months, sold_bp, strict=True))


def at(d: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


# --------------------------------------------------------------------------------------
# Scenario 1: gb300-monthly.
# --------------------------------------------------------------------------------------


MONTHS_2026 = [f"2026-{m:02d}" for m in range(1, 13)]


def gb300_monthly() -> Timeline:
    """Thirteen months of a GB300 ramp, January 2026 to January 2027.

    The pools start well below the 85 % floor and fill up through the year, so lease-back
    is large early and fades out; revenue share runs at 15 % in contract year 1 and 12 %
    from January 2027. Exercises: daily reports per pool, one pool reporting hourly for
    March, one pool's February reports written with a +01:00 offset, corrections and voids
    of open and of closed periods (moving an event to another pool and to another period),
    re-sent lines, a true-up, late, partial, exact and over-payments.
    """
    agr, cal = GB300_MONTHLY, Calendar(GB300_MONTHLY)
    tl = Timeline(agr)
    rng = random.Random(2026_01_01)
    a, b, c = GB300_POOLS
    months = MONTHS_2026 + ["2027-01"]
    profiles = {
        a.id: Profile(monthly(months, [6200, 6500, 6900, 7200, 7600, 7900, 8150, 8300, 8600, 8800, 8900, 9000, 9050]),
                      # September: row 7 (8 racks) off for a liquid-cooling retrofit.
                      maintenance={d: 576 for d in days(date(2026, 9, 8), date(2026, 9, 20))}),
        b.id: Profile(monthly(months, [5800, 6000, 6300, 6600, 7000, 7300, 7500, 7700, 7900, 8100, 8300, 8400, 8600]),
                      # May: NVLink switch trays replaced rack by rack.
                      maintenance={d: 144 for d in days(date(2026, 5, 4), date(2026, 5, 16))}),
        c.id: Profile(monthly(months, [5000, 5300, 5600, 6000, 6300, 6600, 6900, 7200, 7400, 7600, 7800, 8000, 8100]),
                      unit=8, incidents=(2, 10)),
    }
    telemetry = {"source": "rack-telemetry"}
    util: dict[str, dict] = {}
    sold_hours: dict[tuple[str, str], Fraction] = {}
    for day in days(date(2026, 1, 1), date(2027, 2, 1)):
        month = day.strftime("%Y-%m")
        for pool in (a, b, c):
            if pool is b and month == "2026-03":
                # March: the new telemetry pipeline reports gb300-b hourly during its pilot.
                for hour in range(24):
                    start = midnight(day) + timedelta(hours=hour)
                    av, so = daily_hours(pool, profiles[b.id], day, rng, hours=1)
                    sold_hours[(month, pool.id)] = sold_hours.get((month, pool.id), ZERO) + so
                    tl.event(start + timedelta(hours=1, minutes=3), "utilization",
                             f"{agr.id}:util:{pool.id}:{start.strftime('%Y-%m-%dT%H')}",
                             meta={"source": "rack-telemetry", "pipeline": "v2-pilot"} if hour == 0 else None,
                             pool=pool.id, start=stamp(start), end=stamp(start + timedelta(hours=1)),
                             available_gpu_hours=money(av), sold_gpu_hours=money(so))
                continue
            av, so = daily_hours(pool, profiles[pool.id], day, rng)
            sold_hours[(month, pool.id)] = sold_hours.get((month, pool.id), ZERO) + so
            kwargs: dict = {}
            if pool is c and month == "2026-02":
                # February: the B300 hall's DCIM exported UTC days in Central European Time.
                kwargs = {"offset_hours": 1, "meta": {"source": "fra-dcim", "tz": "Europe/Berlin"}}
            elif day.day == 1:
                kwargs = {"meta": telemetry}
            if pool is b and day == date(2026, 8, 19):
                # A collector mapping bug files gb300-b's 19 August under gb300-a (fixed below).
                event = add_day(tl, pool, day, av, so, **kwargs)
                event["pool"] = a.id
            elif pool is a and day == date(2026, 10, 1):
                # An off-by-one in the collector stamps gb300-a's 1 October as 30 September.
                event = add_day(tl, pool, day, av, so, stamped_day=date(2026, 9, 30), **kwargs)
            else:
                event = add_day(tl, pool, day, av, so, **kwargs)
            util[event["id"]] = event

    # Revenue: reserved contracts and on-demand, invoiced on the 3rd of the next month.
    prices = {"GB300": F("5.80"), "B300": F("4.40")}
    revenue: dict[str, dict[str, dict]] = {}
    for month in months:
        gross = sum((sold_hours[(month, p.id)] * prices[p.gpu_model] for p in GB300_POOLS), ZERO)
        gross = floor_to(gross * (10000 + rng.randint(-150, 150)) / 10000)
        sent = at(add_months(date.fromisoformat(month + "-01"), 1) + timedelta(days=2), 9)
        revenue[month] = revenue_lines(tl, month, sent, gross, [("reserved", 7000), ("on-demand", 0)],
                                       meta={"source": "billing"} if month == "2026-01" else None)
    # June: an SLA credit note for the May switch-tray work is booked as negative revenue.
    tl.event(at(date(2026, 7, 3), 9, 30), "revenue", f"{agr.id}:rev:2026-06:sla-credit",
             meta={"source": "billing", "memo": "SLA credit, May maintenance"},
             period="2026-06", amount="-125000.00", currency="USD")
    # March: the on-demand invoice run was booked twice (voided in May, after March closed).
    march_dup = tl.event(at(date(2026, 4, 3), 9, 5), "revenue", f"{agr.id}:rev:2026-03:on-demand-rerun",
                         period="2026-03", amount=revenue["2026-03"]["on-demand"]["amount"], currency="USD")

    # A second report of gb300-b's 11 May from the failover collector (voided two days later).
    failover = tl.event(at(date(2026, 5, 12), 2, 40), "utilization", f"{agr.id}:util:{b.id}:2026-05-11:failover",
                        meta={"source": "failover-collector"}, pool=b.id,
                        start="2026-05-11T12:00:00Z", end="2026-05-12T00:00:00Z",
                        available_gpu_hours="26496.00", sold_gpu_hours="18021.50")

    corrections = 0

    def correct(when: datetime, target: dict, reason: str, **change) -> None:
        nonlocal corrections
        corrections += 1
        body = {"void": True} if change.pop("void", False) else {"replacement": replacement_of(target, **change)}
        tl.event(when, "correction", f"{agr.id}:corr:{corrections:04d}", meta={"reason": reason},
                 corrects=target["id"], **body)

    def raise_sold(event: dict, extra_bp: int) -> str:
        """Sold GPU-hours that a meter fix adds back (never above available)."""
        av, so = F(event["available_gpu_hours"]), F(event["sold_gpu_hours"])
        return money(min(av, floor_to(so + av * extra_bp / 10000)))

    # Open period: a meter bug under-counted gb300-a's sales on 14 January.
    jan14 = util[f"{agr.id}:util:{a.id}:2026-01-14"]
    correct(at(date(2026, 1, 20), 10), jan14, "meter firmware under-counted sold hours",
            sold_gpu_hours=raise_sold(jan14, 900))
    # Closed period (February closed on 6 March; locked only after May closes): a late
    # restatement of gb300-a's 10 February, then a true-up issues the adjustment at once.
    feb10 = util[f"{agr.id}:util:{a.id}:2026-02-10"]
    correct(at(date(2026, 4, 16), 11), feb10, "customer usage restated after billing dispute",
            sold_gpu_hours=money(floor_to(F(feb10["sold_gpu_hours"]) * 9 / 10)))
    tl.event(at(date(2026, 4, 30), 18), "true_up", f"{agr.id}:true-up:2026-04-30", date="2026-04-30")
    # Open period void of the failover duplicate.
    correct(at(date(2026, 5, 13), 9), failover, "duplicate of the primary collector's report", void=True)
    # Closed period void (March closed 6 April): the double-booked March invoice run.
    correct(at(date(2026, 5, 20), 14), march_dup, "invoice run booked twice", void=True)
    # Open period, moved to another pool: the mis-mapped gb300-b report of 19 August.
    misfiled = util[f"{agr.id}:util:{b.id}:2026-08-19"]
    correct(at(date(2026, 8, 25), 10), misfiled, "collector pool mapping fixed", pool=b.id)
    # From a closed period to an open one: the mis-stamped 1 October report (September closed 6 October).
    oct1 = util[f"{agr.id}:util:{a.id}:2026-10-01"]
    correct(at(date(2026, 10, 8), 10), oct1, "collector day off by one",
            start="2026-10-01T00:00:00Z", end="2026-10-02T00:00:00Z")
    # Open period revenue: the November on-demand invoice was reissued before the close.
    nov = revenue["2026-11"]["on-demand"]
    correct(at(date(2026, 12, 4), 16), nov, "invoice reissued with corrected usage",
            amount=money(F(nov["amount"]) + F("48250.00")))
    # Closed period (December closed 6 January 2027): a rack's sales were booked as idle.
    dec21 = util[f"{agr.id}:util:{c.id}:2026-12-21"]
    correct(at(date(2027, 1, 19), 15), dec21, "reserved block booked as idle", sold_gpu_hours=raise_sold(dec21, 1500))

    # Re-sent lines: the 3 June telemetry batch and one billing line arrive twice.
    for pool in GB300_POOLS:
        tl.add(at(date(2026, 6, 3), 6), Resend(f"{agr.id}:util:{pool.id}:2026-06-01"))
        tl.add(at(date(2026, 6, 3), 6), Resend(f"{agr.id}:util:{pool.id}:2026-06-02"))
    tl.add(at(date(2026, 9, 3), 11), Resend(revenue["2026-08"]["reserved"]["id"]))

    # Closes: on the 6th of each month, once usage and revenue are in.
    for month in months:
        tl.event(at(add_months(date.fromisoformat(month + "-01"), 1) + timedelta(days=5), 12),
                 "close", f"{agr.id}:close:{month}", period=month)

    # Payments.
    pay = lambda on, payer, amount, **kw: tl.add(at(on, 16), Pay(on, payer, amount, **kw))  # noqa: E731
    jan_a = f"{agr.id}/2026-01/lease_back/{a.id}"
    pay(date(2026, 3, 2), "guarantor", exactly(jan_a), applies_to=jan_a, meta={"bank_ref": "HLX-260302-0117"})
    pay(date(2026, 3, 13), "guarantor", bill(G2P, cal.due("2026-01")))  # the rest of January, ten days late
    pay(date(2026, 3, 3), "provider", bill(P2G))  # January's revenue share, on its due date
    pay(date(2026, 3, 30), "guarantor", bill(G2P))  # February and January's late interest
    pay(date(2026, 3, 27), "provider", bill(P2G, round_up_to=250000))  # overpays: credit for March
    feb_a_adj = f"{agr.id}/2026-02/lease_back/{a.id}/adj1"  # issued by the 30 April true-up
    pay(date(2026, 5, 8), "guarantor", exactly(feb_a_adj), applies_to=feb_a_adj)
    pay(date(2026, 5, 1), "guarantor", fixed("2000000.00"))  # March in part on time...
    pay(date(2026, 5, 22), "guarantor", bill(G2P, cal.due("2026-03")))  # ...and the rest three weeks late
    pay(date(2026, 4, 29), "provider", bill(P2G))
    for month in MONTHS_2026[3:]:
        due = cal.due(month)
        late = {"2026-06": 17, "2026-10": 9}.get(month, 0)
        pay(due + timedelta(days=late - 1 if late else -1), "guarantor", bill(G2P, due))
        p_late = {"2026-07": 8}.get(month, 0)
        if month == "2026-05":
            pay(due - timedelta(days=5), "provider", bill(P2G, due, share=Fraction(3, 5)))
            pay(due + timedelta(days=4), "provider", bill(P2G, due))
        else:
            pay(due + timedelta(days=p_late if p_late else -2), "provider", bill(P2G, due))
    sep_b = f"{agr.id}/2026-09/lease_back/{b.id}"
    # A remittance naming September's gb300-b lease-back, ahead of the run that pays the rest.
    pay(date(2026, 10, 20), "guarantor", exactly(sep_b), applies_to=sep_b, meta={"bank_ref": "HLX-261020-0442"})
    # January 2027's obligations (due 3 March 2027) are left outstanding at the end of the log.
    return tl


# --------------------------------------------------------------------------------------
# Scenario 2: residual-quarterly.
# --------------------------------------------------------------------------------------


def residual_quarterly() -> Timeline:
    """Four quarters (2026-Q2 to 2027-Q1) of a residual-capacity purchase.

    `covers: idle` with a 95 % threshold: a pool selling 95 % or more owes nothing, below
    that the vendor buys every idle GPU-hour. alto-oh3 runs above 95 % in 2026-Q2, so its
    first key issues no entry. Exercises: quarterly period ids, a prepayment dated before
    the term, no late interest, half_up rounding, monthly revenue into quarterly periods,
    corrections of open and closed (never locked) periods, a true-up with something to
    adjust and one with nothing, and instalment payments.
    """
    agr, cal = RESIDUAL_QUARTERLY, Calendar(RESIDUAL_QUARTERLY)
    tl = Timeline(agr)
    rng = random.Random(2026_04_01)
    tx1, nd2, oh3 = RESIDUAL_POOLS
    months = [add_months(date(2026, 4, 1), n).strftime("%Y-%m") for n in range(12)]
    by_quarter = lambda bps: {m: bps[i // 3] for i, m in enumerate(months)}  # noqa: E731
    profiles = {
        tx1.id: Profile(by_quarter([7000, 7800, 8600, 9000]), incidents=(4, 20)),
        nd2.id: Profile(by_quarter([6000, 6800, 7600, 8200]), incidents=(2, 12)),
        oh3.id: Profile(by_quarter([9720, 9400, 9000, 8800]), noise_bp=120, unit=8, incidents=(4, 20)),
    }
    util: dict[str, dict] = {}
    sold_hours: dict[tuple[str, str], Fraction] = {}
    for day in days(date(2026, 4, 1), date(2027, 4, 1)):
        month = day.strftime("%Y-%m")
        for pool in RESIDUAL_POOLS:
            av, so = daily_hours(pool, profiles[pool.id], day, rng)
            sold_hours[(month, pool.id)] = sold_hours.get((month, pool.id), ZERO) + so
            quarter_start = day.day == 1 and day.month in (1, 4, 7, 10)
            meta = {"source": "dcim-export", "site": pool.id[5:]} if quarter_start else None
            event = add_day(tl, pool, day, av, so, meta=meta)
            util[event["id"]] = event

    prices = {"GB300": F("4.90"), "B300": F("3.70")}
    revenue: dict[str, dict[str, dict]] = {}
    for month in months:
        first = date.fromisoformat(month + "-01")
        gross = sum((sold_hours[(month, p.id)] * prices[p.gpu_model] for p in RESIDUAL_POOLS), ZERO)
        gross = floor_to(gross * (10000 + rng.randint(-200, 200)) / 10000)
        # Monthly invoices all count toward the quarter they fall in.
        revenue[month] = revenue_lines(tl, cal.period_of(first), at(add_months(first, 1) + timedelta(days=4), 8),
                                       gross, [(f"{month}-enterprise", 8200), (f"{month}-marketplace", 0)])

    corrections = 0

    def correct(when: datetime, target: dict, reason: str, **change) -> None:
        nonlocal corrections
        corrections += 1
        body = {"void": True} if change.pop("void", False) else {"replacement": replacement_of(target, **change)}
        tl.event(when, "correction", f"{agr.id}:corr:{corrections:04d}", meta={"reason": reason},
                 corrects=target["id"], **body)

    # Open period: a day of alto-nd2 lost power for six hours; availability is restated.
    aug = util[f"{agr.id}:util:{nd2.id}:2026-08-14"]
    av = F(aug["available_gpu_hours"]) - 18432 * 6
    correct(at(date(2026, 8, 20), 9), aug, "utility outage not in the export",
            available_gpu_hours=money(av),
            sold_gpu_hours=money(min(F(aug["sold_gpu_hours"]), floor_to(av * F("0.62")))))
    # Closed period, long after its close (no lock): the annual audit voids a test-harness
    # report for alto-tx1 on 2026-05-05 and restates two days' sales; a true-up issues them.
    correct(at(date(2026, 12, 14), 10), util[f"{agr.id}:util:{tx1.id}:2026-05-05"], "audit: test harness report",
            void=True)
    for d in ("2026-06-10", "2026-06-11"):
        e = util[f"{agr.id}:util:{tx1.id}:{d}"]
        correct(at(date(2026, 12, 14), 10, 1), e, "audit: reserved block billed but reported idle",
                sold_gpu_hours=money(min(F(e["available_gpu_hours"]), F(e["sold_gpu_hours"]) + 1_200_00)))
    tl.event(at(date(2026, 12, 15), 17), "true_up", f"{agr.id}:true-up:2026-12-15", date="2026-12-15",
             meta={"reason": "annual usage audit"})
    # Open period revenue: the February marketplace statement was restated.
    feb = revenue["2027-02"]["2027-02-marketplace"]
    correct(at(date(2027, 3, 9), 9), feb, "marketplace fees netted twice",
            amount=money(F(feb["amount"]) + F("1840000.00")))
    # A quarterly true-up with nothing restated writes nothing (the finance calendar runs it anyway).
    tl.event(at(date(2027, 2, 1), 7), "true_up", f"{agr.id}:true-up:2027-02-01", date="2027-02-01")

    # Re-sent lines.
    tl.add(at(date(2026, 11, 2), 5), Resend(f"{agr.id}:util:{oh3.id}:2026-10-31"))
    tl.add(at(date(2027, 1, 6), 8), Resend(revenue["2026-12"]["2026-12-enterprise"]["id"]))

    for quarter in ("2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1"):
        end = cal.bounds(quarter)[1]
        tl.event(at(end + timedelta(days=9), 12), "close", f"{agr.id}:close:{quarter}", period=quarter)

    pay = lambda on, payer, amount, **kw: tl.add(at(on, 16), Pay(on, payer, amount, **kw))  # noqa: E731
    # A prepayment before the term: unapplied credit until the first quarter's lease-back.
    pay(date(2026, 3, 25), "guarantor", fixed("50000000.00"), meta={"memo": "advance on 2026-Q2 residual purchase"})
    q2_tx1 = f"{agr.id}/2026-Q2/lease_back/{tx1.id}"
    pay(date(2026, 8, 28), "guarantor", exactly(q2_tx1), applies_to=q2_tx1)
    pay(date(2026, 9, 15), "guarantor", bill(G2P))  # alto-nd2's share two weeks late (no interest)
    pay(date(2026, 8, 27), "provider", bill(P2G, round_up_to=100000))  # rounds up: credit toward Q3
    q3_due = cal.due("2026-Q3")
    for n, share in enumerate((Fraction(1, 3), Fraction(1, 2), Fraction(1))):  # three instalments
        pay(q3_due - timedelta(days=20 - 10 * n), "guarantor", bill(G2P, share=share))
    pay(q3_due - timedelta(days=1), "provider", bill(P2G))
    q4_due = cal.due("2026-Q4")
    pay(q4_due, "guarantor", bill(G2P, q4_due))
    pay(q4_due + timedelta(days=12), "provider", bill(P2G, q4_due))
    # 2027-Q1's invoices (due 30 May 2027) are left outstanding.
    return tl


# --------------------------------------------------------------------------------------
# Scenario 3: amended-h200.
# --------------------------------------------------------------------------------------


def amended_h200() -> Timeline:
    """Thirteen months across an amendment: v1 governs January-June 2026, v2 July on.

    h200-south reports only from July (v2 adds it). The cap (9 M under v1, 11.5 M under v2)
    is reached late in the year, so lease-back entries record `uncapped`, and a later
    restatement of a capped month issues a zero amount. Exercises: version choice per
    period (rates, threshold, pools, steps, payment terms, late interest), a June
    restatement adjusted under v1 terms at the July close, ACT/360 late interest, a payment
    whose `applies_to` names an already settled entry, a contract-year-2 revenue share.
    """
    agr, cal = AMENDED_H200, Calendar(AMENDED_H200)
    tl = Timeline(agr)
    rng = random.Random(2026_07_01)
    months = MONTHS_2026 + ["2027-01"]
    profiles = {
        H200_EAST.id: Profile(monthly(months, [6300, 6400, 6200, 6100, 6000, 5900,
                                               5800, 5900, 6000, 6100, 6300, 6500, 6600]),
                              unit=8, incidents=(2, 12)),
        H200_WEST.id: Profile(monthly(months, [6800, 6600, 6500, 6300, 6200, 6000,
                                               6100, 6200, 6300, 6400, 6500, 6700, 6900]),
                              unit=8, incidents=(1, 8)),
        H200_SOUTH.id: Profile(monthly(months, [0] * 6 + [2500, 3500, 4500, 5300, 6000, 6500, 6800]),
                               unit=8, incidents=(1, 8)),
    }
    util: dict[str, dict] = {}
    sold_hours: dict[tuple[str, str], Fraction] = {}
    for day in days(date(2026, 1, 1), date(2027, 2, 1)):
        month = day.strftime("%Y-%m")
        version = cal.version_for_period(cal.period_of(day))
        for pool in version.pools:
            av, so = daily_hours(pool, profiles[pool.id], day, rng)
            sold_hours[(month, pool.id)] = sold_hours.get((month, pool.id), ZERO) + so
            meta = {"source": "bmc-exporter"} if pool is H200_SOUTH and day == date(2026, 7, 1) else None
            event = add_day(tl, pool, day, av, so, meta=meta)
            util[event["id"]] = event

    revenue: dict[str, dict[str, dict]] = {}
    for month in months:
        first = date.fromisoformat(month + "-01")
        gross = sum((so * F("3.45") for (m, _), so in sold_hours.items() if m == month), ZERO)
        gross = floor_to(gross * (10000 + rng.randint(-250, 250)) / 10000)
        revenue[month] = revenue_lines(tl, month, at(add_months(first, 1) + timedelta(days=1), 10), gross,
                                       [("committed", 6500), ("spot", 0)])

    corrections = 0

    def correct(when: datetime, target: dict, reason: str, **change) -> None:
        nonlocal corrections
        corrections += 1
        body = {"void": True} if change.pop("void", False) else {"replacement": replacement_of(target, **change)}
        tl.event(when, "correction", f"{agr.id}:corr:{corrections:04d}", meta={"reason": reason},
                 corrects=target["id"], **body)

    # Open period: a spot invoice for March was issued in error and is voided before the close.
    spot_err = tl.event(at(date(2026, 4, 2), 10, 30), "revenue", f"{agr.id}:rev:2026-03:spot-adhoc",
                        period="2026-03", amount="86400.00", currency="USD")
    correct(at(date(2026, 4, 3), 9), spot_err, "ad-hoc invoice cancelled", void=True)
    # Closed period (May closed 5 June; locked once July closes): May's committed revenue was overstated.
    may = revenue["2026-05"]["committed"]
    correct(at(date(2026, 6, 18), 11), may, "credit note on committed contract",
            amount=money(F(may["amount"]) - F("210000.00")))
    # A v1 month restated under v2: June (closed 5 July, locked once August closes) had a
    # batch of sales booked as idle; the July close adjusts it with v1's rate and floor.
    for d in ("2026-06-22", "2026-06-23", "2026-06-24"):
        e = util[f"{agr.id}:util:{H200_EAST.id}:{d}"]
        correct(at(date(2026, 7, 20), 14), e, "reserved block booked as idle",
                sold_gpu_hours=money(min(F(e["available_gpu_hours"]), F(e["sold_gpu_hours"]) + 6000)))
    # Open period utilization replacement in October.
    e = util[f"{agr.id}:util:{H200_SOUTH.id}:2026-10-07"]
    correct(at(date(2026, 10, 9), 8), e, "BMC exporter double-counted a node",
            available_gpu_hours=money(F(e["available_gpu_hours"]) - 192),
            sold_gpu_hours=money(min(F(e["sold_gpu_hours"]), F(e["available_gpu_hours"]) - 192)))
    # A true-up right after the November restatement of a v2 month's revenue.
    nov = revenue["2026-11"]["spot"]
    correct(at(date(2026, 12, 9), 15), nov, "spot usage re-rated", amount=money(F(nov["amount"]) + F("37500.00")))
    tl.event(at(date(2026, 12, 10), 9), "true_up", f"{agr.id}:true-up:2026-12-10", date="2026-12-10",
             meta={"requested_by": "HelixSilicon treasury"})
    # Closed and capped (December closed 5 January 2027): sales moved from idle; the lease-back
    # target falls, but the cap had already cut more than that, so nothing is clawed back.
    for d in ("2026-12-28", "2026-12-29"):
        e = util[f"{agr.id}:util:{H200_SOUTH.id}:{d}"]
        correct(at(date(2027, 1, 14), 10), e, "late customer activation",
                sold_gpu_hours=money(min(F(e["available_gpu_hours"]), F(e["sold_gpu_hours"]) + 4000)))

    tl.add(at(date(2026, 2, 2), 10, 5), Resend(revenue["2026-01"]["committed"]["id"]))
    tl.add(at(date(2026, 9, 1), 3), Resend(f"{agr.id}:util:{H200_WEST.id}:2026-08-31"))

    for month in months:
        tl.event(at(add_months(date.fromisoformat(month + "-01"), 1) + timedelta(days=4), 12),
                 "close", f"{agr.id}:close:{month}", period=month)

    pay = lambda on, payer, amount, **kw: tl.add(at(on, 16), Pay(on, payer, amount, **kw))  # noqa: E731
    for month in MONTHS_2026:
        due = cal.due(month)
        g_late = {"2026-02": 12, "2026-06": 20, "2026-09": 6}.get(month, 0)
        pay(due + timedelta(days=g_late or -1), "guarantor", bill(G2P, due), tag=f"guarantor-{month}")
        p_late = {"2026-04": 15, "2026-10": 3}.get(month, 0)
        pay(due + timedelta(days=p_late or -3), "provider", bill(P2G, due))
    jan_rs = f"{agr.id}/2026-01/revenue_share"
    # KestrelCloud's remittance names January's revenue share, long settled: the reference is
    # kept on the entry and the money goes to the oldest open obligation instead.
    pay(date(2026, 8, 10), "provider", fixed("150000.00"), applies_to=jan_rs, meta={"remittance": "INV-2026-0117"})
    pay(date(2027, 1, 20), "guarantor", fixed("250000.00"), meta={"memo": "on account"})
    # HelixSilicon's bank re-sends the payment advice for June's lease-back the next morning.
    tl.add(at(cal.due("2026-06") + timedelta(days=21), 7), Resend("guarantor-2026-06"))
    return tl


# --------------------------------------------------------------------------------------
# Scenario 4: warrants-milestones.
# --------------------------------------------------------------------------------------


# US exchange holidays on weekdays in the log's range: no closing price on these days.
EXCHANGE_HOLIDAYS = frozenset(date.fromisoformat(d) for d in (
    "2026-02-16", "2026-04-03", "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07", "2026-11-26",
    "2026-12-25", "2027-01-01", "2027-01-18",
))
# MeridianGPU's share price path in dollars per share as at signing (before any split), as
# anchors between which the daily closes move; each day adds up to ±1.5 % of noise.
MERIDIAN_PRICE_ANCHORS = (
    (date(2026, 2, 2), F("118.00")), (date(2026, 4, 1), F("141.00")), (date(2026, 5, 1), F("158.00")),
    (date(2026, 6, 1), F("176.00")), (date(2026, 7, 1), F("192.00")), (date(2026, 8, 3), F("201.00")),
    (date(2026, 9, 1), F("194.00")), (date(2026, 10, 1), F("213.00")), (date(2026, 11, 2), F("231.00")),
    (date(2026, 12, 1), F("249.00")), (date(2027, 1, 4), F("257.00")), (date(2027, 1, 29), F("262.00")),
)
# Stock splits: (effective date, numerator, denominator, event id suffix).
MERIDIAN_SPLITS = ((date(2026, 6, 15), 4, 1, "4-for-1"), (date(2026, 11, 16), 1, 2, "1-for-2-reverse"))


def anchored_price(day: date) -> Fraction:
    """The price path between its anchors, linear in calendar days."""
    for (d0, p0), (d1, p1) in zip(MERIDIAN_PRICE_ANCHORS, MERIDIAN_PRICE_ANCHORS[1:]):
        if d0 <= day <= d1:
            return p0 + (p1 - p0) * (day - d0).days / (d1 - d0).days
    raise AssertionError(f"{day} is outside the price path")


def warrants_milestones() -> Timeline:
    """Thirteen months of a backstop whose consideration is warrants, not a revenue share.

    Two GB300 buildings ramp from about 55 % to 87 % sold, so lease-back is large early and
    fades by the summer; the capacity tranches vest at the closes that take the lease-back
    issued past 10 and 20 million (40 million is never reached). MeridianGPU lists in
    February 2026 and its daily closes drive the price tranches: price-150 vests on a share
    price, price-180 on a 20-day window that spans the 4-for-1 split of 15 June, and
    price-250-year-2 at the December close, whose evaluation date (2027-01-01) is the first
    on which its on_or_after holds. Exercises: a cash exercise whose price is paid late (late
    interest), a net exercise with cash in lieu after the split, cash exercises settled at
    once by unapplied credit (a payment on account), and cash and net exercises after the
    1-for-2 reverse split of 16 November, which costs a vested tranche with an odd count
    half a share. capacity-40m never vests: the reverse split halves it without an entry.
    """
    agr, cal = WARRANTS_MILESTONES, Calendar(WARRANTS_MILESTONES)
    tl = Timeline(agr)
    rng = random.Random(2026_02_02)
    cmh1, cmh2 = MERIDIAN_POOLS
    months = MONTHS_2026 + ["2027-01"]
    profiles = {
        cmh1.id: Profile(monthly(months, [5600, 6000, 6500, 6900, 7300, 7600, 7900,
                                          8100, 8300, 8500, 8600, 8700, 8800]), noise_bp=250),
        cmh2.id: Profile(monthly(months, [4800, 5300, 5900, 6400, 6900, 7300, 7700,
                                          8000, 8200, 8400, 8500, 8600, 8700]), noise_bp=250, incidents=(0, 4)),
    }
    for day in days(date(2026, 1, 1), date(2027, 2, 1)):
        for pool in MERIDIAN_POOLS:
            av, so = daily_hours(pool, profiles[pool.id], day, rng)
            add_day(tl, pool, day, av, so, meta={"source": "dcim"} if day == date(2026, 1, 1) else None)

    # Daily closing prices and volumes, quoted in the shares in force on the day (a split
    # divides the quoted price and multiplies the volume), sent after the close.
    factor = Fraction(1)
    splits = list(MERIDIAN_SPLITS)
    for day in days(date(2026, 2, 2), date(2027, 1, 30)):
        while splits and splits[0][0] <= day:
            effective, n, m, name = splits.pop(0)
            tl.event(at(effective, 6), "stock_split", f"{agr.id}:split:{effective.isoformat()}:{name}",
                     meta={"source": "transfer-agent"}, date=effective.isoformat(), numerator=n, denominator=m)
            factor *= Fraction(n, m)
        if day.weekday() >= 5 or day in EXCHANGE_HOLIDAYS:
            continue
        close = floor_to(anchored_price(day) * (10000 + rng.randint(-150, 150)) / 10000 / factor)
        volume = Fraction(rng.randint(1_800_000, 3_200_000)) * factor
        tl.event(at(day, 21, 30), "share_price", f"{agr.id}:price:{day.isoformat()}",
                 meta={"source": "consolidated-tape"} if day == date(2026, 2, 2) else None,
                 date=day.isoformat(), price=money(close), volume=str(volume.numerator))

    for month in months:
        tl.event(at(add_months(date.fromisoformat(month + "-01"), 1) + timedelta(days=3), 12),
                 "close", f"{agr.id}:close:{month}", period=month)

    def exercise(on: date, tranche: str, shares: int, method: str, hour: int = 15) -> None:
        fields: dict = {"tranche": tranche, "shares": shares, "method": method, "date": on.isoformat()}
        if method == "net":
            # Fair market value: the previous trading day's close, as the warrant agreement says.
            fields["fair_market_value"] = ("@fmv", on)
        tl.add(at(on, hour), Exercise(f"{agr.id}:exercise:{on.isoformat()}:{tranche}", fields))

    # Cash, before the split: 1,000,000 shares at 0.01. The price (due 15 May) is paid with
    # May's lease-back bill at the end of the month, late, so it bears late interest.
    exercise(date(2026, 4, 15), "capacity-10m", 1_000_000, "cash")
    # Net, after the 4-for-1 split: an odd count leaves a fraction of a share, paid in cash.
    exercise(date(2026, 8, 14), "price-150", 2_000_001, "net")
    # Cash, settled at once by the 25,000.00 HelixSilicon paid on account on 6 October (by
    # then no lease-back is open, so the payment is all unapplied credit).
    exercise(date(2026, 10, 20), "capacity-20m", 4_000_000, "cash")
    # After the 1-for-2 reverse split (strike in force 0.005): the rest of price-180 for cash,
    # whose 15,000.00 the last of the credit on account settles, and part of capacity-10m net.
    exercise(date(2027, 1, 20), "price-180", 3_000_000, "cash")
    exercise(date(2027, 1, 26), "capacity-10m", 1_234_567, "net")

    pay = lambda on, payer, amount, **kw: tl.add(at(on, 16), Pay(on, payer, amount, **kw))  # noqa: E731
    for month in MONTHS_2026:
        due = cal.due(month)
        pay(due - timedelta(days=1), "guarantor", bill(G2P, due))
    pay(date(2026, 10, 6), "guarantor", fixed("25000.00"), meta={"memo": "on account: warrant exercise prices"})
    # MeridianGPU pays the cash in lieu of August's net exercise a week early.
    pay(date(2026, 9, 6), "provider", bill(P2G))
    return tl


@dataclass(frozen=True)
class Exercise:
    """An exercise whose fair market value (for `net`) is read from the books when it is sent."""

    event_id: str
    fields: dict


# --------------------------------------------------------------------------------------
# Writing.
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Scenario 5 (v2): floor-partnership.
# --------------------------------------------------------------------------------------


def floor_partnership() -> Timeline:
    """Five quarters (2026-Q1 to 2027-Q1) of a take-or-pay partnership.

    Revenue starts below the 45 million floor (the guarantor tops it up) and grows past it
    (the provider shares 25 % of what is above it). Exercises: revenue top-ups, the revenue
    share on the base above the floor, a correction of a closed quarter that lowers a top-up
    (a credit the guarantor keeps as unapplied credit), a late top-up payment with late
    interest, an instalment payment of the share, and the contract-year-2 floor in 2027-Q1.
    """
    agr = FLOOR_PARTNERSHIP
    tl = Timeline(agr)
    monthly_revenue = {
        "2026-Q1": ("9500000.00", "10000000.00", "10500000.00"), "2026-Q2": ("13000000.00", "14000000.00", "15000000.00"),
        "2026-Q3": ("16000000.00", "17500000.00", "18500000.00"), "2026-Q4": ("19000000.00", "20500000.00", "21500000.00"),
        "2027-Q1": ("18000000.00", "19500000.00", "20500000.00"),
    }
    lines: dict[str, dict] = {}
    for quarter, amounts in monthly_revenue.items():
        start = Calendar(agr).bounds(quarter)[0]
        for n, amount in enumerate(amounts):
            month = add_months(start, n)
            sent = at(add_months(month, 1) + timedelta(days=2), 9)  # invoiced on the 3rd of the next month
            lines[month.strftime("%Y-%m")] = tl.event(sent, "revenue", f"{agr.id}:rev:{month:%Y-%m}",
                                                       period=quarter, amount=amount, currency=agr.currency)
        end = Calendar(agr).bounds(quarter)[1]
        tl.event(at(end + timedelta(days=5), 10), "close", f"{agr.id}:close:{quarter}", period=quarter)
    # June's invoice is restated after Q2 closed: Q2's revenue rises and its top-up falls.
    tl.event(at(date(2026, 7, 20), 11), "correction", f"{agr.id}:corr:0001", meta={"reason": "credit note reversed"},
             corrects=lines["2026-06"]["id"], replacement=replacement_of(lines["2026-06"], amount="16200000.00"))
    q1, q2 = f"{agr.id}/2026-Q1/revenue_top_up", f"{agr.id}/2026-Q2/revenue_top_up"
    tl.add(at(date(2026, 5, 15), 15), Pay(date(2026, 5, 15), "guarantor", exactly(q1), applies_to=q1))
    tl.add(at(date(2026, 8, 28), 15), Pay(date(2026, 8, 28), "guarantor", exactly(q2), applies_to=q2))  # 13 days late
    tl.add(at(date(2026, 9, 15), 15), Pay(date(2026, 9, 15), "guarantor", bill(G2P)))  # the late interest
    q3, q4 = f"{agr.id}/2026-Q3/revenue_share", f"{agr.id}/2026-Q4/revenue_share"
    tl.add(at(date(2026, 11, 14), 15), Pay(date(2026, 11, 14), "provider", exactly(q3)))
    tl.add(at(date(2027, 2, 10), 15), Pay(date(2027, 2, 10), "provider", fixed("2000000.00")))
    tl.add(at(date(2027, 3, 1), 15), Pay(date(2027, 3, 1), "provider", exactly(q4), applies_to=q4))  # 14 days late
    return tl


# --------------------------------------------------------------------------------------
# Scenario 6 (v2): dc-guarantee.
# --------------------------------------------------------------------------------------


def dc_guarantee() -> Timeline:
    """Thirteen months (2026-01 to 2027-01) of a guaranteed debt service.

    The provider pays its lender on time until May, when it pays part; it misses June to
    August. Thirty days after each default the lender calls the guarantor, who pays the
    covered 90 % (one call late, with interest) and is owed it back; the fourth call meets
    the 6 million cap. The provider reimburses the guarantor, partly late (interest on the
    guarantee's own terms, 11 %), and settles the rest of what it owed the lender late (8 %
    ACT/360). January 2027 is contract year 2: the debt service steps up.
    """
    agr = DC_GUARANTEE
    cal = Calendar(agr)
    tl = Timeline(agr)
    months = [f"2026-{m:02d}" for m in range(1, 13)] + ["2027-01"]
    for month in months:
        end = cal.bounds(month)[1]
        tl.event(at(end + timedelta(days=1), 6), "close", f"{agr.id}:close:{month}", period=month)

    def service(month: str) -> str:
        return f"{agr.id}/{month}/debt_service"

    for month in ("2026-01", "2026-02", "2026-03", "2026-04", "2026-09", "2026-10", "2026-11", "2026-12"):
        due = cal.due(month)
        tl.add(at(due, 14), Pay(due, "provider", exactly(service(month)), applies_to=service(month), payee="lender"))
    may_due = cal.due("2026-05")
    tl.add(at(may_due, 14), Pay(may_due, "provider", fixed("1000000.00"), applies_to=service("2026-05"), payee="lender"))
    # The lender calls each defaulted amount once its cure period (30 days) has run.
    calls = {"2026-05": date(2026, 7, 20), "2026-06": date(2026, 8, 17), "2026-07": date(2026, 9, 15),
             "2026-08": date(2026, 10, 16)}
    for n, (month, day) in enumerate(calls.items(), start=1):
        tl.event(at(day, 10), "guarantee_call", f"{agr.id}:call:{n}", date=day.isoformat(), obligation=service(month))
    call = lambda n: f"{agr.id}/call/{agr.id}:call:{n}"  # noqa: E731
    for n, day in ((1, date(2026, 8, 4)), (2, date(2026, 9, 1)), (3, date(2026, 10, 5)), (4, date(2026, 10, 31))):
        tl.add(at(day, 16), Pay(day, "guarantor", exactly(call(n)), applies_to=call(n), payee="lender"))
    reimbursed = lambda n: f"{call(n)}/reimbursement"  # noqa: E731
    tl.add(at(date(2026, 9, 18), 15), Pay(date(2026, 9, 18), "provider", exactly(reimbursed(1)), applies_to=reimbursed(1)))
    tl.add(at(date(2026, 11, 5), 15), Pay(date(2026, 11, 5), "provider", exactly(reimbursed(2)), applies_to=reimbursed(2)))
    tl.add(at(date(2026, 12, 15), 15), Pay(date(2026, 12, 15), "provider", bill(P2G)))
    # What the guarantee did not cover, and the interest on it, settled late.
    tl.add(at(date(2026, 11, 16), 16), Pay(date(2026, 11, 16), "provider", bill(P2L, due_by=date(2026, 9, 15)),
                                           payee="lender"))
    tl.add(at(date(2027, 1, 4), 16), Pay(date(2027, 1, 4), "provider", bill(P2L, due_by=date(2026, 12, 31)),
                                         payee="lender"))
    return tl


SCENARIOS = (gb300_monthly, residual_quarterly, amended_h200, warrants_milestones, floor_partnership,
             dc_guarantee)


def describe(entry: dict) -> str:
    """The kind-specific fields of an expected entry, for `--expected`."""
    parts = []
    if entry.get("tranche"):
        parts.append(f"tranche={entry['tranche']}")
    if entry.get("adjusts"):
        parts.append(f"adjusts={entry['adjusts']}")
    if "uncapped" in entry:
        parts.append(f"uncapped={money(entry['uncapped'])}")
    if entry.get("credit_applied"):
        parts.append(f"credit_applied={money(entry['credit_applied'])}")
    if "applied" in entry:
        parts.append("applied=[" + ", ".join(f"{i} {money(a)}" for i, a in entry["applied"]) + "]")
        parts.append(f"unapplied={money(entry['unapplied'])}")
    return " ".join(parts)


def main(argv: list[str]) -> int:
    merged: list[tuple[datetime, int, int, str]] = []
    for index, scenario in enumerate(SCENARIOS):
        timeline = scenario()
        lines, books = replay(timeline)
        text = "".join(line + "\n" for _, _, line in lines)
        (OUT_DIR / f"{timeline.agr.id}.jsonl").write_text(text, encoding="utf-8", newline="\n")
        merged.extend((t, index, order, line) for t, order, line in lines)
        print(f"{timeline.agr.id}.jsonl: {len(lines)} lines, closes {books.closed[0]}..{books.closed[-1]}, "
              f"{len(books.entries)} expected entries")
        if "--expected" in argv:
            for entry in books.entries:
                print("  ", entry["seq"], entry["id"], entry["kind"], entry["date"], entry["due"], entry["amount"],
                      describe(entry))
    # all.jsonl: the logs interleaved by the instant each line was sent; each
    # agreement keeps its own order, which is all that its replay depends on.
    merged.sort(key=lambda m: (m[0], m[1], m[2]))
    (OUT_DIR / "all.jsonl").write_text("".join(m[3] + "\n" for m in merged), encoding="utf-8", newline="\n")
    print(f"all.jsonl: {len(merged)} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
