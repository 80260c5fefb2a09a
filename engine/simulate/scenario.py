"""One scenario: a path becomes an event log, the engine replays it, the entries give the figures.

Nothing here computes an amount of the agreement. The path (`paths`) is written as the JSON
lines a settlement system would send — utilization per pool and revenue per period, the
provider's share prices, its payments, the lender's calls, the guarantor's exercises — and
fed to `engine.replay.Engine` itself. Lease-back, top-ups, revenue share, calls,
reimbursements, caps and vesting are whatever the engine issues; the figures are read from
the issued entries. Lines that depend on what was issued (a payment of the revenue share, a
call on an unpaid debt service, an exercise of a vested tranche) are written after the engine
has issued it, as a counterparty would.

The log runs in date order per period: the period's utilization and revenue, its share
prices, the payments and calls dated inside it (in date order), then its close. What comes
due after the term's end follows the last close, then the exercises.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Iterable

import numpy as np

from engine.calendar import add_days
from engine.numbers import round_fraction
from engine.replay import Engine
from engine.replay.terms import AgreementTerms
from engine.simulate import paths as draws

# The figures of one agreement in one scenario, per period: rows of `flows`.
LEASE_BACK, ENTITLEMENT, TOP_UP, CALLS, REVENUE_SHARE, REVENUE_SHARE_RECEIVED, REIMBURSEMENTS, REIMBURSEMENTS_RECEIVED = range(8)
FLOWS = ("lease_back", "entitlement", "top_up", "guarantee_calls", "revenue_share", "revenue_share_received",
         "reimbursements", "reimbursements_received")
# The caps whose first binding period is recorded: columns of `binding`.
CAPS = ("lease_back", "top_up", "guarantee")
_FLOW_OF_KIND = {"lease_back": LEASE_BACK, "revenue_top_up": TOP_UP, "revenue_share": REVENUE_SHARE}
_CAP_OF_KIND = {"lease_back": 0, "revenue_top_up": 1, "guarantee_call": 2}
NOT_YET = -1  # no binding, no default, no vesting


class SimulationError(Exception):
    """The simulation cannot go on: a generated line was rejected (a bug of the generator,
    named with the line and the engine's reason), or an amount is too large to aggregate."""


# ---- reading the documents ------------------------------------------------------------------


@dataclass(frozen=True)
class Clauses:
    """What the simulation asks of one version document. The `backstop/v2` clauses are read
    through `getattr`, so documents without them (v1, or an engine before v2) simply lack them."""

    backstop: object | None
    revenue_share: object | None
    warrants: object | None
    revenue_floor: object | None
    guarantee: object | None
    lender: str | None

    @classmethod
    def of(cls, document) -> Clauses:
        return cls(document.backstop, document.revenue_share, document.warrants,
                   getattr(document, "revenue_floor", None), getattr(document, "guarantee", None),
                   getattr(document.parties, "lender", None))

    @property
    def takes_revenue(self) -> bool:
        return self.revenue_share is not None or self.revenue_floor is not None


def money_text(minor: int, places: int) -> str:
    """Minor units as a SPEC decimal with exactly `places` fraction digits."""
    if places == 0:
        return str(minor)
    sign, digits = ("-" if minor < 0 else ""), str(abs(minor)).rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def minor_units(text: str) -> int:
    """An amount as the ledger writes it (exactly `places` fraction digits) in minor units."""
    return int(text.replace(".", ""))


def _timestamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


# ---- the constant part of every scenario's log ---------------------------------------------------


class Plan:
    """One agreement's log, with the numbers left out: built once per worker and model."""

    def __init__(self, loaded, book: draws.Book, numbers) -> None:
        self.loaded = loaded
        self.terms = terms = AgreementTerms(loaded.id, tuple(loaded.versions))
        self.id = loaded.id
        self.numbers = numbers
        self.places = terms.places
        self.mode = terms.mode
        self.currency = terms.first.currency
        self.periods = terms.periods
        self.period_index = {period.id: period.index for period in terms.periods}
        self.exercise_date = draws.exercise_date_of(terms, numbers)
        self.grid = draws.build_grid(terms, book, numbers, self.exercise_date)
        self.clauses = [Clauses.of(terms.version_for_period(period).document) for period in terms.periods]
        self.has = {name: any(getattr(c, name) is not None for c in self.clauses)
                    for name in ("backstop", "revenue_share", "warrants", "revenue_floor", "guarantee")}
        self.tranches = tuple(t.id for t in terms.first.warrants.tranches) if terms.first.warrants else ()
        self._lines(loaded.id)

    def _lines(self, agreement: str) -> None:
        """The fixed text of every utilization, revenue, share-price and close line."""
        quoted = f'"agreement":"{agreement}"'
        self.utilization: list[list[tuple[int, bytes]]] = []  # per period: (pool column, line up to the sold hours)
        self.revenue: list[bytes | None] = []
        self.close: list[bytes] = []
        for period, clauses in zip(self.periods, self.clauses):
            pools = []
            if clauses.backstop is not None:
                document = self.terms.version_for_period(period).document
                for pool in document.pools:
                    column = self.grid.pools.index(pool.id)
                    available = money_text(int(self.grid.available_per_period[period.index, column]), 2)
                    pools.append((column, (
                        f'{{"id":"u/{period.id}/{pool.id}","type":"utilization",{quoted},"pool":"{pool.id}",'
                        f'"start":"{_timestamp(period.start)}","end":"{_timestamp(period.end)}",'
                        f'"available_gpu_hours":"{available}","sold_gpu_hours":"'
                    ).encode()))
            self.utilization.append(pools)
            self.revenue.append(
                f'{{"id":"r/{period.id}","type":"revenue",{quoted},"period":"{period.id}","amount":"'.encode()
                if clauses.takes_revenue else None
            )
            self.close.append(f'{{"id":"c/{period.id}","type":"close",{quoted},"period":"{period.id}"}}'.encode())
        self.revenue_tail = f'","currency":"{self.currency}"}}'.encode()
        volume = f"{self.numbers.share_volume:f}"
        dates = self.grid.observation_dates
        self.share_heads = [f'{{"id":"s/{day}","type":"share_price",{quoted},"date":"{day}","price":"'.encode()
                            for day in dates]
        self.share_tail = f'","volume":"{volume}"}}'.encode()
        # Observations by the batch they go in: the period holding their date, or after the term.
        batches = [draws.period_of_date(self.periods, day) for day in dates]
        self.share_batches = np.searchsorted(np.array(batches, dtype=np.int64), np.arange(len(self.periods) + 2))

    def run(self, path: draws.AgreementPath, *, log: list[bytes] | None = None) -> Figures:
        """Replay one path through a fresh engine; the figures come from the entries it issues."""
        return _Scenario(self, path, log).run()


# ---- one scenario ----------------------------------------------------------------------------


@dataclass
class Figures:
    """One agreement in one scenario: minor units per period, the first period each cap cut an
    amount, the period of the provider's default, per tranche the period it vested and its
    intrinsic value at exercise, and the number of lines fed."""

    flows: np.ndarray  # (len(FLOWS), periods) int64
    binding: np.ndarray  # (len(CAPS),) int32
    default: int
    vested: np.ndarray  # (tranches,) int32
    value: np.ndarray  # (tranches,) int64
    lines: int


class _Scenario:
    def __init__(self, plan: Plan, path: draws.AgreementPath, log: list[bytes] | None) -> None:
        self.plan = plan
        self.path = path
        self.log = log
        self.engine = Engine([plan.loaded])
        self.number = 0
        periods = len(plan.periods)
        self.flows = [[0] * periods for _ in FLOWS]
        self.binding = [NOT_YET] * len(CAPS)
        self.vested = {tranche: NOT_YET for tranche in plan.tranches}
        self.remaining: dict[str, int] = {}
        self.value = {tranche: Fraction(0) for tranche in plan.tranches}
        self.owed_by_provider: dict[str, tuple[int, int]] = {}  # obligation id -> (received flow, period)
        self.debt_service_period: dict[str, int] = {}
        self.calls_total = 0
        self.schedule: list[tuple[date, int, tuple]] = []
        self.scheduled = 0
        self.batch = 0  # the period whose lines are being fed (len(periods): after the term)
        terms = plan.terms
        self.provider, self.guarantor = terms.provider, terms.guarantor
        self.lender = Clauses.of(terms.first).lender
        self.fair_market_value: Decimal | None = None

    # ---- feeding ----

    def feed(self, lines: Iterable[bytes]) -> None:
        numbered = []
        for raw in lines:
            self.number += 1
            numbered.append((self.number, raw))
        if self.log is not None:
            self.log.extend(raw for _, raw in numbered)
        for outcome in self.engine.feed_numbered(numbered):
            if outcome.status == "rejected":
                raise SimulationError(
                    f"agreement {self.plan.id}: the engine rejected generated line {outcome.line} "
                    f"[{outcome.code}] {outcome.reason}: {outcome.raw.decode('utf-8', 'replace')}"
                )
            self.take(outcome.entries)

    def run(self) -> Figures:
        plan, path = self.plan, self.path
        places = plan.places
        shares = plan.share_batches
        prices = path.share_prices.tolist()
        sold, revenue = path.sold.tolist(), path.revenue.tolist()
        for period in plan.periods:
            index = period.index
            self.batch = index
            lines = [head + b"%d.%02d" % divmod(sold[index][column], 100) + b'"}'
                     for column, head in plan.utilization[index]]
            if plan.revenue[index] is not None:
                lines.append(plan.revenue[index] + money_text(revenue[index], places).encode() + plan.revenue_tail)
            lines += self._share_lines(shares[index], shares[index + 1], prices)
            self.feed(lines)
            self.drain(before=period.end)
            self.feed([plan.close[index]])
        self.batch = len(plan.periods)
        self.feed(self._share_lines(shares[len(plan.periods)], shares[len(plan.periods) + 1], prices))
        self.exercise()
        self.drain(before=None)
        return self.figures()

    def _share_lines(self, first: int, last: int, prices: list[int]) -> list[bytes]:
        heads, tail = self.plan.share_heads, self.plan.share_tail
        return [heads[i] + b"%d.%02d" % divmod(prices[i], 100) + tail for i in range(first, last)]

    def drain(self, before: date | None) -> None:
        """Feed the scheduled payments and calls dated before `before` (all: None), in date
        order, one at a time: what each issues may schedule more."""
        while self.schedule and (before is None or self.schedule[0][0] < before):
            day, _, (kind, *details) = heapq.heappop(self.schedule)
            line = self._payment_line(day, *details) if kind == "pay" else self._call_line(day, *details)
            if line is not None:
                self.feed([line])

    def later(self, day: date, *item) -> None:
        self.scheduled += 1
        heapq.heappush(self.schedule, (day, self.scheduled, item))

    def _payment_line(self, day: date, payer: str, payee: str, minor: int, applies_to: str) -> bytes:
        return (f'{{"id":"p{self.number + 1}","type":"payment","agreement":"{self.plan.id}","payer":"{payer}",'
                f'"payee":"{payee}","amount":"{money_text(minor, self.plan.places)}","currency":"{self.plan.currency}",'
                f'"date":"{day}","applies_to":"{applies_to}"}}').encode()

    def _call_line(self, day: date, obligation: str, minor: int) -> bytes | None:
        """The lender's call, unless the guarantee's cap is spent or nothing would be covered
        (the engine would reject the call: the lender would not make it)."""
        guarantee = Clauses.of(self.plan.terms.version_for_date(day).document).guarantee
        if guarantee is None:
            return None
        covered = round_fraction(Fraction(minor) * Fraction(guarantee.covers), 0, self.plan.mode)
        cap = guarantee.cap
        if covered <= 0 or cap is not None and self.calls_total >= minor_units(f"{cap:.{self.plan.places}f}"):
            return None
        return (f'{{"id":"k{self.number + 1}","type":"guarantee_call","agreement":"{self.plan.id}",'
                f'"date":"{day}","obligation":"{obligation}"}}').encode()

    # ---- what the entries say ----

    def defaulted(self, day: date) -> bool:
        default = self.path.default_date
        return default is not None and day >= default

    def take(self, entries) -> None:
        for entry in entries:
            fields = entry.fields
            kind = fields["kind"]
            if kind == "adjustment":
                kind = fields["of"]
            if kind in _FLOW_OF_KIND:
                self._period_amount(kind, fields)
            elif kind == "payment":
                self._payment(fields)
            elif kind == "debt_service":
                self._debt_service(fields)
            elif kind == "guarantee_call":
                self._call(fields)
            elif kind == "reimbursement":
                period = self.debt_service_period[fields["obligation"]]
                self.flows[REIMBURSEMENTS][period] += minor_units(fields["amount"])
                self._owed_by_provider(fields, REIMBURSEMENTS_RECEIVED, period)
            elif kind == "warrant_vested":
                self.vested[fields["tranche"]] = self.batch
                self.remaining[fields["tranche"]] = int(fields["amount"])
            elif kind in ("share_delivery", "cash_in_lieu", "exercise_price"):
                self._exercised(kind, fields)

    def _period_amount(self, kind: str, fields: dict) -> None:
        period = self.plan.period_index[fields["period"]]
        amount = minor_units(fields["amount"])
        self.flows[_FLOW_OF_KIND[kind]][period] += amount
        uncapped = fields.get("uncapped")
        if kind == "lease_back":
            self.flows[ENTITLEMENT][period] += amount if uncapped is None else minor_units(uncapped)
        if uncapped is not None and kind in _CAP_OF_KIND:
            self._bound(_CAP_OF_KIND[kind])
        if fields["kind"] == "revenue_share":
            self._owed_by_provider(fields, REVENUE_SHARE_RECEIVED, period)

    def _bound(self, cap: int) -> None:
        """A cap cut an amount: note the period being fed, if it is the first time (after the
        term: the last period)."""
        if self.binding[cap] == NOT_YET:
            self.binding[cap] = min(self.batch, len(self.plan.periods) - 1)

    def _owed_by_provider(self, fields: dict, received: int, period: int) -> None:
        """A debt of the provider to the guarantor: paid when due, or in part after a default.
        What is paid counts as `received` for `period`."""
        amount = minor_units(fields["amount"])
        if amount <= 0:
            return
        self.owed_by_provider[fields["id"]] = (received, period)
        due = date.fromisoformat(fields["due"])
        if not self.defaulted(due):
            self.later(due, "pay", self.provider, self.guarantor, amount, fields["id"])
            return
        recovered = int(round_fraction(Fraction(amount) * Fraction(self.plan.numbers.recovery), 0, self.plan.mode))
        if recovered > 0:
            self.later(add_days(due, self.plan.numbers.recovery_days), "pay", self.provider, self.guarantor,
                       recovered, fields["id"])

    def _payment(self, fields: dict) -> None:
        if fields["debtor"] != self.provider or fields["creditor"] != self.guarantor:
            return
        for applied in fields.get("applied", ()):
            owed = self.owed_by_provider.get(applied["entry"])
            if owed is not None:
                flow, period = owed
                self.flows[flow][period] += minor_units(applied["amount"])

    def _debt_service(self, fields: dict) -> None:
        """The provider pays its lender when due; once it has defaulted, the lender calls the
        guarantor as soon as the guarantee's cure period allows."""
        period = self.plan.period_index[fields["period"]]
        self.debt_service_period[fields["id"]] = period
        amount = minor_units(fields["amount"])
        if amount <= 0:
            return
        due = date.fromisoformat(fields["due"])
        if not self.defaulted(due):
            self.later(due, "pay", self.provider, self.lender, amount, fields["id"])
            return
        self.later(self._cure_date(due), "call", fields["id"], amount)

    def _cure_date(self, due: date) -> date:
        """The first date D ≥ due + cure_days of the version deciding for D (SPEC §5.7)."""
        day = due
        for _ in range(len(self.plan.terms.versions) + 1):
            guarantee = Clauses.of(self.plan.terms.version_for_date(day).document).guarantee
            cure_days = guarantee.cure_days if guarantee is not None else 0
            if day >= add_days(due, cure_days):
                return day
            day = add_days(due, cure_days)
        return day

    def _call(self, fields: dict) -> None:
        period = self.debt_service_period[fields["obligation"]]
        amount = minor_units(fields["amount"])
        self.flows[CALLS][period] += amount
        self.calls_total += amount
        if "uncapped" in fields:
            self._bound(_CAP_OF_KIND["guarantee_call"])

    # ---- warrants ----

    def exercise(self) -> None:
        """Exercise every vested tranche with shares left, at the last observed price, if the
        strike is below it (net: only when at least one whole share is delivered)."""
        plan = self.plan
        day = plan.exercise_date
        if day is None or not len(self.path.share_prices):
            return
        price = Fraction(int(self.path.share_prices[-1]), 100)
        strike = Fraction(plan.terms.version_for_date(day).document.warrants.strike)
        self.fair_market_value = Decimal(int(self.path.share_prices[-1])).scaleb(-2)
        method = plan.numbers.exercise_method
        lines = []
        for tranche in plan.tranches:
            shares = self.remaining.get(tranche, 0)
            if self.vested[tranche] == NOT_YET or shares <= 0 or price <= strike:
                continue
            if method == "net" and shares * (price - strike) < price:  # floor(k (V − K) / V) = 0
                continue
            value = f',"fair_market_value":"{self.fair_market_value:f}"' if method == "net" else ""
            lines.append((f'{{"id":"x/{tranche}","type":"exercise","agreement":"{plan.id}","tranche":"{tranche}",'
                          f'"shares":{shares},"method":"{method}","date":"{day}"{value}}}').encode())
        self.feed(lines)

    def _exercised(self, kind: str, fields: dict) -> None:
        tranche = fields["tranche"]
        if kind == "share_delivery":
            self.value[tranche] += int(fields["amount"]) * Fraction(self.fair_market_value)
        elif kind == "cash_in_lieu":
            self.value[tranche] += Fraction(Decimal(fields["amount"]))
        else:
            self.value[tranche] -= Fraction(Decimal(fields["amount"]))

    # ---- the result ----

    def figures(self) -> Figures:
        places, mode = self.plan.places, self.plan.mode
        values = [int(round_fraction(self.value[t], places, mode).scaleb(places)) for t in self.plan.tranches]
        try:
            flows = np.array(self.flows, dtype=np.int64)
            value = np.array(values, dtype=np.int64)
        except OverflowError:
            raise SimulationError(
                f"agreement {self.plan.id}: an amount beyond ±9.2 × 10^18 minor units cannot be aggregated"
            ) from None
        default = self.path.default_date
        return Figures(
            flows=flows, binding=np.array(self.binding, dtype=np.int32),
            default=NOT_YET if default is None else self._default_period(default),
            vested=np.array([self.vested[t] for t in self.plan.tranches], dtype=np.int32),
            value=value, lines=self.number,
        )

    def _default_period(self, default: date) -> int:
        """The period in which the provider defaulted (its date is the end of a step of it)."""
        return min(draws.period_of_date(self.plan.periods, add_days(default, -1)), len(self.plan.periods) - 1)


# ---- a chunk of scenarios: what one task of an executor runs ------------------------------------


def book_of(agreements, numbers) -> draws.Book:
    """The calendar shared by the agreements simulated together: from the earliest term start
    to the latest term end or exercise."""
    origin = min(agreement.versions[0].document.term.start for agreement in agreements)
    horizon = origin
    for agreement in agreements:
        terms = AgreementTerms(agreement.id, tuple(agreement.versions))
        exercise = draws.exercise_date_of(terms, numbers)
        horizon = max(horizon, terms.first.term.end, add_days(exercise, 1) if exercise else horizon)
    return draws.Book.spanning(origin, horizon)


class Simulation:
    """The agreements and model of a run, with their plans: built once per process."""

    def __init__(self, agreements, model) -> None:
        self.numbers = numbers = model.numbers()
        self.book = book_of(agreements, numbers)
        self.plans = [Plan(agreement, self.book, numbers) for agreement in agreements]

    def scenario(self, seed: int, index: int, *, logs: dict[str, list[bytes]] | None = None) -> dict[str, Figures]:
        """Scenario `index` of `seed`: every agreement's figures (and, given `logs`, its lines)."""
        shared = draws.draw_shared(self.book, self.numbers, draws.shared_generator(seed, index))
        figures = {}
        for plan in self.plans:
            generator = draws.agreement_generator(seed, index, plan.id)
            path = draws.draw_path(plan.grid, shared, self.numbers, generator, plan.places)
            log = None if logs is None else logs.setdefault(plan.id, [])
            figures[plan.id] = plan.run(path, log=log)
        return figures


@dataclass(frozen=True)
class Job:
    """Scenarios [start, stop) of a run: everything a worker needs, and small enough to send."""

    agreements: tuple
    model: object
    seed: int
    start: int
    stop: int


@dataclass
class ChunkResult:
    """The figures of scenarios [start, stop), per agreement, stacked along a first axis."""

    start: int
    stop: int
    agreements: dict[str, dict[str, np.ndarray]]


_SIMULATIONS: dict[tuple, Simulation] = {}  # per process: the last few runs' plans


def simulation_for(agreements, model) -> Simulation:
    key = (tuple((a.id, tuple(v.sha256 for v in a.versions)) for a in agreements), model.fingerprint())
    found = _SIMULATIONS.get(key)
    if found is None:
        if len(_SIMULATIONS) >= 4:
            _SIMULATIONS.clear()
        found = _SIMULATIONS[key] = Simulation(agreements, model)
    return found


def run_chunk(job: Job) -> ChunkResult:
    """Run one chunk; a function of the job alone, so any worker gives the same arrays."""
    simulation = simulation_for(job.agreements, job.model)
    rows: dict[str, list[Figures]] = {plan.id: [] for plan in simulation.plans}
    for index in range(job.start, job.stop):
        for agreement, figures in simulation.scenario(job.seed, index).items():
            rows[agreement].append(figures)
    return ChunkResult(job.start, job.stop, {agreement: _stacked(figures) for agreement, figures in rows.items()})


def _stacked(figures: list[Figures]) -> dict[str, np.ndarray]:
    return {
        "flows": np.stack([f.flows for f in figures]),
        "binding": np.stack([f.binding for f in figures]),
        "default": np.array([f.default for f in figures], dtype=np.int32),
        "vested": np.stack([f.vested for f in figures]),
        "value": np.stack([f.value for f in figures]),
        "lines": np.array([f.lines for f in figures], dtype=np.int64),
    }
