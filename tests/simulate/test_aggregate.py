"""Statistics: exact, nearest-rank quantiles of minor units, per contract year and term."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engine.simulate import simulate
from engine.simulate.aggregate import probability, statistics
from tests.simulate.support import bundled, model


def test_quantiles_are_values_of_scenarios_by_nearest_rank():
    values = np.array([500, 100, 300, 200, 400, 600, 700, 800, 900, 1000])  # cents
    assert statistics(values, 2) == {"mean": "5.50", "p50": "5.00", "p90": "9.00", "p99": "10.00",
                                     "max": "10.00", "min": "1.00"}


def test_the_mean_is_rounded_once_half_even():
    assert statistics(np.array([1, 2]), 0)["mean"] == "2"  # 1.5 -> 2
    assert statistics(np.array([2, 3]), 0)["mean"] == "2"  # 2.5 -> 2
    assert statistics(np.array([-5, 0]), 2)["mean"] == "-0.02"  # -2.5 cents -> -2


@given(st.lists(st.integers(-10**15, 10**15), min_size=1, max_size=200))
def test_statistics_are_ordered_and_taken_from_the_values(values):
    stats = {name: round(float(value) * 100) for name, value in statistics(np.array(values), 2).items()}
    assert stats["min"] <= stats["p50"] <= stats["p90"] <= stats["p99"] <= stats["max"]
    assert {stats["p50"], stats["p90"], stats["p99"]} <= set(values)
    assert stats["min"] <= stats["mean"] <= stats["max"]


def test_probabilities_have_six_places():
    assert probability(1, 3) == "0.333333"
    assert probability(0, 7) == "0.000000"


def test_contract_years_add_up_to_the_term_in_every_scenario():
    results = simulate(bundled("gb300-monthly"), model(), scenarios=5, seed=2)
    report = results.report("gb300-monthly")
    assert list(report["distributions"]["lease_back"]["years"]) == ["1", "2", "3", "4", "5", "6"]
    flows = results.arrays["gb300-monthly"]["flows"]
    years = np.array(results.facts[0].years)
    by_year = sum(flows[:, :, years == year].sum(axis=2) for year in range(1, 7))
    assert (by_year == flows.sum(axis=2)).all()
    assert set(report["distributions"]) == {"lease_back", "lease_back_uncapped", "payout", "revenue_share",
                                            "revenue_share_received", "received", "net"}
    fan = report["fan"]
    assert len(fan["p50"]) == 72 and fan["caps"]["lease_back"] == ["180000000.00"] * 72
