"""Distributions over scenarios: exact, in minor units, the same bytes for any chunking.

Every per-scenario figure is an integer number of minor units read from the ledger, so the
statistics are exact: a quantile is one scenario's value (nearest rank: the ⌈qN⌉-th smallest),
the mean is the exact sum over N rounded once, half-even, to the agreement's places, and a
probability is a count over N rounded to six places. Scenarios are taken in their order, so
the result depends on the seed and the number of scenarios alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import numpy as np

from engine.calendar import contract_year
from engine.numbers import round_fraction
from engine.simulate.scenario import (
    CALLS, CAPS, ENTITLEMENT, LEASE_BACK, NOT_YET, REIMBURSEMENTS, REIMBURSEMENTS_RECEIVED, REVENUE_SHARE,
    REVENUE_SHARE_RECEIVED, TOP_UP, ChunkResult, Clauses, Plan, money_text,
)

QUANTILES = (("p50", Fraction(1, 2)), ("p90", Fraction(9, 10)), ("p99", Fraction(99, 100)))
FAN_QUANTILES = (("p10", Fraction(1, 10)), ("p50", Fraction(1, 2)), ("p90", Fraction(9, 10)), ("p99", Fraction(99, 100)))
PROBABILITY_PLACES = 6

# What each reported figure sums, with the clause that makes it apply (None: always).
METRICS = (
    ("lease_back", (LEASE_BACK,), (), "backstop"),
    ("lease_back_uncapped", (ENTITLEMENT,), (), "backstop"),
    ("top_up", (TOP_UP,), (), "revenue_floor"),
    ("guarantee_calls", (CALLS,), (), "guarantee"),
    ("payout", (LEASE_BACK, TOP_UP, CALLS), (), None),
    ("revenue_share", (REVENUE_SHARE,), (), "revenue_share"),
    ("revenue_share_received", (REVENUE_SHARE_RECEIVED,), (), "revenue_share"),
    ("reimbursements", (REIMBURSEMENTS,), (), "guarantee"),
    ("reimbursements_received", (REIMBURSEMENTS_RECEIVED,), (), "guarantee"),
    ("received", (REVENUE_SHARE_RECEIVED, REIMBURSEMENTS_RECEIVED), (), None),
    ("net", (REVENUE_SHARE_RECEIVED, REIMBURSEMENTS_RECEIVED), (LEASE_BACK, TOP_UP, CALLS), None),
)


@dataclass(frozen=True)
class Facts:
    """What the aggregation needs of one agreement: its periods, years, caps and tranches."""

    id: str
    currency: str
    places: int
    periods: tuple[str, ...]
    years: tuple[int, ...]  # the contract year of each period
    caps: dict[str, tuple]  # cap name -> the cap in force at each period's close (Decimal or None)
    tranches: tuple[tuple[str, int], ...]
    clauses: frozenset[str]
    exercise_date: date | None

    @classmethod
    def of(cls, plan: Plan) -> Facts:
        terms = plan.terms
        start = terms.first.term.start
        versions = [terms.version_for_period(period) for period in terms.periods]
        caps = {
            "lease_back": tuple(terms.cap_in_force(version) for version in versions),
            "top_up": tuple(_latest(terms, version, "revenue_floor") for version in versions),
            "guarantee": tuple(_latest(terms, version, "guarantee") for version in versions),
        }
        warrants = terms.first.warrants
        return cls(
            id=plan.id, currency=plan.currency, places=plan.places, periods=tuple(p.id for p in terms.periods),
            years=tuple(contract_year(start, p.start) for p in terms.periods),
            caps={name: values for name, values in caps.items() if any(value is not None for value in values)},
            tranches=tuple((t.id, t.shares) for t in warrants.tranches) if warrants else (),
            clauses=frozenset(name for name, present in plan.has.items() if present),
            exercise_date=plan.exercise_date,
        )


def _latest(terms, version, clause: str):
    """The cap of `clause` decided by `version`: its own or the latest earlier version's."""
    for earlier in reversed(terms.versions[: version.number]):
        found = getattr(Clauses.of(earlier.document), clause)
        if found is not None:
            return found.cap
    return None


def merged(chunks: list[ChunkResult], agreement: str) -> dict[str, np.ndarray]:
    """One agreement's arrays over all scenarios, in scenario order."""
    ordered = sorted(chunks, key=lambda chunk: chunk.start)
    return {name: np.concatenate([chunk.agreements[agreement][name] for chunk in ordered])
            for name in ordered[0].agreements[agreement]}


# ---- statistics ------------------------------------------------------------------------------


def _rank(count: int, quantile: Fraction) -> int:
    """The 0-based index of the ⌈qN⌉-th smallest of N values (nearest rank)."""
    return max(0, -(-quantile.numerator * count // quantile.denominator) - 1)


def statistics(values: np.ndarray, places: int) -> dict[str, str]:
    """mean, p50, p90, p99, max and min of minor-unit values, as amounts with `places` digits."""
    ordered = np.sort(values)
    count = len(ordered)
    mean = round_fraction(Fraction(sum(ordered.tolist()), count * 10**places), places, "half_even")
    out = {"mean": f"{mean:f}"}
    for name, quantile in QUANTILES:
        out[name] = money_text(int(ordered[_rank(count, quantile)]), places)
    out["max"] = money_text(int(ordered[-1]), places)
    out["min"] = money_text(int(ordered[0]), places)
    return out


def probability(count: int, total: int) -> str:
    return f"{round_fraction(Fraction(count, total), PROBABILITY_PLACES, 'half_even'):f}"


def metric_values(flows: np.ndarray, plus: tuple[int, ...], minus: tuple[int, ...]) -> np.ndarray:
    """(scenarios, periods) minor units of one metric."""
    values = flows[:, list(plus), :].sum(axis=1)
    if minus:
        values = values - flows[:, list(minus), :].sum(axis=1)
    return values


# ---- one agreement ---------------------------------------------------------------------------


def summarize(facts: Facts, arrays: dict[str, np.ndarray]) -> dict:
    """The JSON-ready report of one agreement over every scenario."""
    flows = arrays["flows"]
    count = len(flows)
    years = np.array(facts.years)
    year_numbers = sorted(set(facts.years))
    distributions = {}
    for name, plus, minus, clause in METRICS:
        if clause is not None and clause not in facts.clauses:
            continue
        per_period = metric_values(flows, plus, minus)
        distributions[name] = {
            "term": statistics(per_period.sum(axis=1), facts.places),
            "years": {str(year): statistics(per_period[:, years == year].sum(axis=1), facts.places)
                      for year in year_numbers},
        }
    report = {
        "currency": facts.currency,
        "periods": len(facts.periods),
        "contract_years": len(year_numbers),
        "distributions": distributions,
        "caps": {name: _cap_report(facts, name, arrays["binding"][:, CAPS.index(name)]) for name in facts.caps},
        "default": _default_report(facts, arrays["default"]),
        "lines_per_scenario": f"{round_fraction(Fraction(int(arrays['lines'].sum()), count), 1, 'half_even'):f}",
    }
    if facts.tranches:
        report["warrants"] = _warrant_report(facts, arrays)
    report["fan"] = fan(facts, flows)
    return report


def _cap_report(facts: Facts, name: str, first: np.ndarray) -> dict:
    """How often the cap cut an amount, and in which period it first did."""
    bound = first[first != NOT_YET]
    by_period = {facts.periods[index]: int(times) for index, times in zip(*np.unique(bound, return_counts=True))}
    caps = [cap for cap in facts.caps[name] if cap is not None]
    report = {
        "cap": f"{caps[-1]:.{facts.places}f}" if len(set(caps)) == 1 else [
            None if cap is None else f"{cap:.{facts.places}f}" for cap in facts.caps[name]],
        "probability": probability(len(bound), len(first)),
        "scenarios": len(bound),
        "first_period": by_period,
    }
    if len(bound):
        ordered = np.sort(bound)
        report["first_period_p50"] = facts.periods[int(ordered[_rank(len(ordered), Fraction(1, 2))])]
    return report


def _default_report(facts: Facts, default: np.ndarray) -> dict:
    defaulted = default[default != NOT_YET]
    return {
        "probability": probability(len(defaulted), len(default)),
        "scenarios": len(defaulted),
        "by_year": {str(year): int(count) for year, count in
                    zip(*np.unique(np.array(facts.years)[defaulted], return_counts=True))} if len(defaulted) else {},
    }


def _warrant_report(facts: Facts, arrays: dict[str, np.ndarray]) -> dict:
    vested, value = arrays["vested"], arrays["value"]
    tranches = {}
    for column, (tranche, shares) in enumerate(facts.tranches):
        when = vested[:, column]
        periods = when[when != NOT_YET]
        tranches[tranche] = {
            "shares": shares,
            "vested_probability": probability(len(periods), len(when)),
            "vested_by_year": _by_year(facts, periods),
            "value_at_exercise": statistics(value[:, column], facts.places),
        }
    return {
        "exercise_date": facts.exercise_date.isoformat() if facts.exercise_date else None,
        "tranches": tranches,
        "value_at_exercise": statistics(value.sum(axis=1), facts.places),
    }


def _by_year(facts: Facts, periods: np.ndarray) -> dict[str, int]:
    """Counts by the contract year of the period (`after` for vesting after the term's end)."""
    names = [str(facts.years[index]) if index < len(facts.periods) else "after" for index in periods.tolist()]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (item[0] == "after", int(item[0]) if item[0] != "after" else 0)))


def fan(facts: Facts, flows: np.ndarray) -> dict:
    """Quantiles and mean of the cumulative payout by period, with the caps: the fan chart's data."""
    cumulative = np.cumsum(metric_values(flows, (LEASE_BACK, TOP_UP, CALLS), ()), axis=1)
    ordered = np.sort(cumulative, axis=0)
    count = len(ordered)
    out: dict = {"periods": list(facts.periods)}
    for name, quantile in FAN_QUANTILES:
        out[name] = [money_text(int(value), facts.places) for value in ordered[_rank(count, quantile)]]
    out["mean"] = [f"{round_fraction(Fraction(sum(column), count * 10**facts.places), facts.places, 'half_even'):f}"
                   for column in cumulative.T.tolist()]
    out["caps"] = {name: [None if cap is None else f"{cap:.{facts.places}f}" for cap in caps]
                   for name, caps in facts.caps.items()}
    return out


def scenario_rows(facts: Facts, arrays: dict[str, np.ndarray]) -> list[list[str]]:
    """One row per scenario: its totals over the term and its events, for scenarios.csv."""
    flows = arrays["flows"]
    columns = [metric_values(flows, plus, minus).sum(axis=1).tolist() for _, plus, minus, _ in METRICS]
    binding = arrays["binding"].tolist()
    rows = []
    for index in range(len(flows)):
        first = [facts.periods[b] if b != NOT_YET else "" for b in binding[index]]
        default = int(arrays["default"][index])
        rows.append([str(index), facts.id] + [money_text(column[index], facts.places) for column in columns]
                    + first + [facts.periods[default] if default != NOT_YET else ""])
    return rows


SCENARIO_COLUMNS = (["scenario", "agreement"] + [name for name, *_ in METRICS]
                    + [f"{cap}_cap_first_bound" for cap in CAPS] + ["default_period"])
