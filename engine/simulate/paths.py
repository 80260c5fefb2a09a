"""The draws: one scenario's paths of utilization, revenue, prices and default (NumPy).

Everything is drawn on a grid of **steps**: the pieces of the term cut at calendar-month
boundaries (a monthly period is one step, a quarter three), so that monthly and quarterly
agreements share one model and parameters are per year. The formulas are those of
docs/simulation.md:

- a regime-shock process (Poisson times, normal jumps) and a GPU-hour price index (geometric
  Brownian motion with the shocks' jumps), shared by every agreement of a scenario, on the
  calendar months from the book's `origin` (the earliest term start);
- per agreement, each pool's utilization: a level ramping in logit space from `start` to
  `target`, plus the shocks' fading offsets, plus an Ornstein–Uhlenbeck deviation whose noise
  is part common to the agreement's pools; sold GPU-hours and revenue follow;
- the provider's default: a hazard rising as the agreement's utilization falls;
- the provider's share price (agreements with warrants): geometric Brownian motion with the
  shocks' jumps, observed on weekdays (or weekly) up to the exercise.

Streams: scenario k of seed S draws from `SeedSequence(S).spawn(N)[k]`, that is
`SeedSequence(S, spawn_key=(k,))`, whatever the chunk or worker that runs it. Its child 0
drives the shared draws; the child `1 + crc32(agreement id)` drives that agreement's own, so
adding an agreement to a book leaves the others' draws as they were.

Quantities leave here in the units the events are written in: GPU-hours in hundredths,
revenue in the agreement's minor units, share prices in cents, all as exact integers.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from engine.calendar import Period, add_days
from engine.replay.terms import AgreementTerms

DAYS_PER_YEAR = 365.25


def scenario_seed(seed: int, scenario: int) -> np.random.SeedSequence:
    """Scenario k's seed sequence: `SeedSequence(seed).spawn(N)[k]`, built without the other N − 1."""
    return np.random.SeedSequence(seed, spawn_key=(scenario,))


def shared_generator(seed: int, scenario: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(scenario, 0))))


def agreement_generator(seed: int, scenario: int, agreement_id: str) -> np.random.Generator:
    key = 1 + zlib.crc32(agreement_id.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(scenario, key))))


def _years(start: date, day: date) -> float:
    return (day - start).days / DAYS_PER_YEAR


def _month_index(origin: date, day: date) -> int:
    return (day.year - origin.year) * 12 + day.month - origin.month


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _logit(u: float) -> float:
    return math.log(u / (1.0 - u))


# ---- the book: what every agreement of a scenario shares --------------------------------------


@dataclass(frozen=True)
class Book:
    """The calendar the shared draws live on: months from `origin` until `horizon`."""

    origin: date
    horizon: date
    month_starts: tuple[date, ...]  # origin, then the first of each month before horizon
    month_dt: np.ndarray  # each month's length in years

    @classmethod
    def spanning(cls, origin: date, horizon: date) -> Book:
        starts = [origin]
        while _next_month(starts[-1]) < horizon:
            starts.append(_next_month(starts[-1]))
        ends = starts[1:] + [horizon]
        dt = np.array([(end - start).days / DAYS_PER_YEAR for start, end in zip(starts, ends)])
        return cls(origin, horizon, tuple(starts), dt)

    @property
    def years(self) -> float:
        return _years(self.origin, self.horizon)


@dataclass(frozen=True)
class SharedDraws:
    """One scenario's regime shocks (times in years from the origin, demand jumps) and the
    GPU-hour price index per book month (1 at the origin)."""

    shock_times: np.ndarray
    shock_jumps: np.ndarray
    price_index: np.ndarray


def draw_shared(book: Book, numbers, generator: np.random.Generator) -> SharedDraws:
    """Shocks: N ~ Poisson(λT), times uniform on [0, T), jumps ~ Normal(mean, spread). Price
    index: log X rises by (μ − σ²/2)Δ + σ√Δ Z a month, and by the price jump at each shock."""
    count = generator.poisson(numbers.shock_rate * book.years)
    times = np.sort(generator.uniform(0.0, book.years, count))
    jumps = generator.normal(numbers.shock_demand, numbers.shock_demand_spread, count)
    dt = book.month_dt
    normals = generator.standard_normal(len(dt))
    increments = (numbers.price_drift - numbers.price_volatility**2 / 2) * dt + numbers.price_volatility * np.sqrt(dt) * normals
    month_times = np.concatenate(([0.0], np.cumsum(dt)[:-1]))
    log_index = np.concatenate(([0.0], np.cumsum(increments)[:-1]))
    log_index = log_index + numbers.shock_price * np.searchsorted(times, month_times, side="right")
    return SharedDraws(times, jumps, np.exp(log_index))


# ---- one agreement's grid: constants of every scenario ------------------------------------------


@dataclass(frozen=True)
class Grid:
    """An agreement's steps and everything about them that no draw changes."""

    terms: AgreementTerms
    pools: tuple[str, ...]  # every pool of every version, in order of first appearance
    step_period: np.ndarray  # (steps,) the period index of each step
    period_first_step: np.ndarray  # (periods,) for np.add.reduceat
    step_end: tuple[date, ...]
    step_dt: np.ndarray  # (steps,) years
    step_month: np.ndarray  # (steps,) the book month of each step
    available: np.ndarray  # (steps, pools) hundredths of a GPU-hour; 0 where the pool is not governed
    available_per_period: np.ndarray  # (periods, pools) int64 hundredths
    base_price: np.ndarray  # (steps, pools) the price per GPU-hour at index 1
    level: np.ndarray  # (steps,) the ramp in logit space at each step's start
    ou_weights: np.ndarray  # (steps, steps): deviation at step n's start from the noise of steps j ≤ n
    ou_scale: np.ndarray  # (steps,) the standard deviation of each step's noise
    shock_offset_years: float  # the term's start, in years from the book's origin
    observation_dates: tuple[date, ...]  # share-price dates (agreements with warrants)
    observation_dt: np.ndarray  # years from the previous observation (the first: from the term's start)
    observation_years: np.ndarray  # years from the book's origin


def build_grid(terms: AgreementTerms, book: Book, numbers, exercise_date: date | None) -> Grid:
    """The steps of an agreement's term (its periods cut at month starts) and their constants."""
    periods = terms.periods
    step_period, starts, ends = [], [], []
    for period in periods:
        start = period.start
        while start < period.end:
            end = min(_next_month(start), period.end)
            step_period.append(period.index)
            starts.append(start)
            ends.append(end)
            start = end
    steps = len(starts)
    term_start = terms.first.term.start
    pools: list[str] = []
    for version in terms.versions:
        pools += [pool.id for pool in version.document.pools if pool.id not in pools]
    available = np.zeros((steps, len(pools)))
    base_price = np.zeros((steps, len(pools)))
    for step, (index, start, end) in enumerate(zip(step_period, starts, ends)):
        document = terms.version_for_period(periods[index]).document
        for pool in document.pools:
            column = pools.index(pool.id)
            available[step, column] = round(pool.gpus * 24 * (end - start).days * numbers.availability * 100)
            base_price[step, column] = numbers.price(pool.gpu_model)
    step_period_array = np.array(step_period)
    first_step = np.searchsorted(step_period_array, np.arange(len(periods)))
    times = np.array([_years(term_start, start) for start in starts])
    dt = np.array([(end - start).days / DAYS_PER_YEAR for start, end in zip(starts, ends)])
    return Grid(
        terms=terms, pools=tuple(pools), step_period=step_period_array, period_first_step=first_step,
        step_end=tuple(ends), step_dt=dt, step_month=np.array([_month_index(book.origin, start) for start in starts]),
        available=available, available_per_period=np.add.reduceat(available.astype(np.int64), first_step, axis=0),
        base_price=base_price, level=_ramp(times, numbers), ou_weights=_ou_weights(times, numbers.reversion),
        ou_scale=_ou_scale(np.concatenate(([0.0], dt[:-1])), numbers),
        shock_offset_years=_years(book.origin, term_start),
        **_observations(terms, book, numbers, exercise_date),
    )


def _ramp(times: np.ndarray, numbers) -> np.ndarray:
    """The level in logit space: from logit(start) to logit(target), linearly over ramp_years."""
    start, target = _logit(numbers.demand_start), _logit(numbers.demand_target)
    share = np.ones_like(times) if numbers.ramp_years == 0 else np.minimum(1.0, times / numbers.ramp_years)
    return start + (target - start) * share


def _ou_weights(times: np.ndarray, reversion: float) -> np.ndarray:
    """W[n, j] = exp(−κ (t_n − t_j)) for j ≤ n, else 0: the deviation at t_n is Σ_j W[n, j] s_j ε_j,
    the exact Ornstein–Uhlenbeck solution sampled at the steps' starts (no rounding builds up)."""
    elapsed = times[:, None] - times[None, :]
    return np.where(elapsed >= 0, np.exp(-reversion * np.maximum(elapsed, 0.0)), 0.0)


def _ou_scale(dt: np.ndarray, numbers) -> np.ndarray:
    """The standard deviation of the noise added over each step before t_n: σ √((1 − e^{−2κΔ}) / 2κ)
    (σ √Δ when κ = 0); zero for the first step, whose start is the term's start, known at signing."""
    kappa, sigma = numbers.reversion, numbers.demand_volatility
    if kappa == 0:
        return sigma * np.sqrt(dt)
    return sigma * np.sqrt(-np.expm1(-2 * kappa * dt) / (2 * kappa))


def _observations(terms: AgreementTerms, book: Book, numbers, exercise_date: date | None) -> dict:
    """Share-price dates from the term's start to the exercise, weekdays or Mondays; the
    exercise date is always the last, so the exercise sees that day's price."""
    if exercise_date is None:
        return {"observation_dates": (), "observation_dt": np.zeros(0), "observation_years": np.zeros(0)}
    start = terms.first.term.start
    days = []
    day = start
    while day < exercise_date:
        if day.weekday() < 5 and (numbers.share_observations == "weekdays" or day.weekday() == 0):
            days.append(day)
        day += timedelta(days=1)
    days.append(exercise_date)
    previous = [start] + days[:-1]
    dt = np.array([(day - before).days / DAYS_PER_YEAR for day, before in zip(days, previous)])
    return {
        "observation_dates": tuple(days), "observation_dt": dt,
        "observation_years": np.array([_years(book.origin, day) for day in days]),
    }


def exercise_date_of(terms: AgreementTerms, numbers) -> date | None:
    """When the guarantor exercises: the term's end or the last day before expiry, whichever
    the model says, and never on or after expiry; None without warrants or when expired."""
    warrants = terms.first.warrants
    if warrants is None:
        return None
    last_day = add_days(warrants.expires, -1) if warrants.expires > date.min else None
    if last_day is None or last_day < terms.first.term.start:
        return None
    return last_day if numbers.exercise == "last_day" else min(terms.first.term.end, last_day)


# ---- one agreement's path --------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementPath:
    """One scenario's path of one agreement, in the units of the events."""

    sold: np.ndarray  # (periods, pools) int64 hundredths of a GPU-hour
    revenue: np.ndarray  # (periods,) int64 minor units of the currency
    utilization: np.ndarray  # (steps,) the agreement's share sold, for reports
    default_date: date | None  # the end of the step in which the provider defaulted
    share_prices: np.ndarray  # (observations,) int64 cents, ≥ 1


def draw_path(grid: Grid, shared: SharedDraws, numbers, generator: np.random.Generator, places: int) -> AgreementPath:
    """One agreement's path: utilization, sold hours and revenue per period, default, share prices."""
    steps, pools = grid.available.shape
    noise = generator.standard_normal((steps, pools + 1))
    uniforms = generator.uniform(size=steps)
    share_normals = generator.standard_normal(len(grid.observation_dates))

    rho = numbers.correlation
    mixed = math.sqrt(rho) * noise[:, pools:] + math.sqrt(1.0 - rho) * noise[:, :pools]
    deviation = grid.ou_weights @ (grid.ou_scale[:, None] * mixed)
    step_years = grid.shock_offset_years + np.concatenate(([0.0], np.cumsum(grid.step_dt)[:-1]))
    logit = grid.level + _shock_offset(step_years, shared, numbers.shock_recovery)
    utilization = 1.0 / (1.0 + np.exp(-(logit[:, None] + deviation)))
    sold_steps = np.rint(utilization * grid.available)
    sold = np.add.reduceat(sold_steps.astype(np.int64), grid.period_first_step, axis=0)

    price = grid.base_price * shared.price_index[grid.step_month][:, None]
    revenue_steps = (sold_steps * price).sum(axis=1) * (10.0 ** places / 100)
    revenue = np.rint(np.add.reduceat(revenue_steps, grid.period_first_step)).astype(np.int64)

    available = grid.available.sum(axis=1)
    share_sold = np.divide(sold_steps.sum(axis=1), available, out=np.ones(steps), where=available > 0)
    return AgreementPath(
        sold=sold, revenue=revenue, utilization=share_sold,
        default_date=_default_date(grid, share_sold, uniforms, numbers),
        share_prices=_share_prices(grid, shared, numbers, share_normals),
    )


def _shock_offset(years: np.ndarray, shared: SharedDraws, recovery: float) -> np.ndarray:
    """Σ over shocks before t of jump × e^{−recovery (t − τ)}: every pool's level, shifted alike."""
    if not len(shared.shock_times):
        return np.zeros_like(years)
    elapsed = years[:, None] - shared.shock_times[None, :]
    return np.where(elapsed >= 0, shared.shock_jumps * np.exp(-recovery * np.maximum(elapsed, 0.0)), 0.0).sum(axis=1)


def _default_date(grid: Grid, share_sold: np.ndarray, uniforms: np.ndarray, numbers) -> date | None:
    """The first step whose uniform falls below 1 − exp(−h(u) Δ), h(u) = h0 e^{β (pivot − u)}."""
    if numbers.default_rate == 0:
        return None
    hazard = numbers.default_rate * np.exp(numbers.default_sensitivity * (numbers.default_pivot - share_sold))
    defaulted = np.flatnonzero(uniforms < -np.expm1(-hazard * grid.step_dt))
    return grid.step_end[defaulted[0]] if len(defaulted) else None


def _share_prices(grid: Grid, shared: SharedDraws, numbers, normals: np.ndarray) -> np.ndarray:
    if not len(normals):
        return np.zeros(0, dtype=np.int64)
    dt, sigma = grid.observation_dt, numbers.share_volatility
    log_price = np.cumsum((numbers.share_drift - sigma**2 / 2) * dt + sigma * np.sqrt(dt) * normals)
    after_start = np.searchsorted(shared.shock_times, grid.observation_years, side="right")
    before_start = np.searchsorted(shared.shock_times, grid.shock_offset_years, side="right")
    log_price = log_price + numbers.shock_share_price * (after_start - before_start)
    cents = np.rint(numbers.share_initial * 100 * np.exp(log_price))
    return np.maximum(cents, 1).astype(np.int64)


def period_of_date(periods: tuple[Period, ...], day: date) -> int:
    """The index of the period holding `day`; len(periods) from the term's end on."""
    for period in periods:
        if day < period.end:
            return period.index
    return len(periods)
