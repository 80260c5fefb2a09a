"""The draws: streams independent of chunking, the grid of steps, paths that stay physical."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.replay.terms import AgreementTerms
from engine.simulate import paths
from engine.simulate.scenario import Simulation
from tests.simulate.support import bundled, model, quiet_model, small_quarterly


@given(seed=st.integers(0, 2**64 - 1), count=st.integers(1, 40), data=st.data())
def test_scenario_k_draws_from_the_kth_spawned_sequence(seed, count, data):
    scenario = data.draw(st.integers(0, count - 1))
    spawned = np.random.SeedSequence(seed).spawn(count)[scenario]
    built = paths.scenario_seed(seed, scenario)
    assert (spawned.generate_state(8) == built.generate_state(8)).all()
    # Its children are the shared stream (0) and the agreements' streams.
    child = spawned.spawn(1)[0]
    expected = np.random.Generator(np.random.PCG64(child)).standard_normal(4)
    assert (paths.shared_generator(seed, scenario).standard_normal(4) == expected).all()


def test_a_quarter_is_three_monthly_steps_and_a_partial_period_its_days():
    terms = AgreementTerms("small-q", small_quarterly()[0].versions)
    numbers = quiet_model().numbers()
    book = paths.Book.spanning(date(2026, 4, 1), date(2027, 4, 1))
    grid = paths.build_grid(terms, book, numbers, None)
    assert grid.step_period.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert grid.available_per_period[:, 0].tolist() == [100 * 24 * days * 100 for days in (91, 92, 92, 90)]
    assert grid.step_month.tolist() == list(range(12))
    assert len(book.month_starts) == 12


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32), scenario=st.integers(0, 10**6))
def test_paths_stay_physical(seed, scenario):
    simulation = Simulation(bundled("amended-h200"), model(demand__volatility="3", shocks__rate="3"))
    plan = simulation.plans[0]
    shared = paths.draw_shared(simulation.book, simulation.numbers, paths.shared_generator(seed, scenario))
    path = paths.draw_path(plan.grid, shared, simulation.numbers,
                           paths.agreement_generator(seed, scenario, plan.id), plan.places)
    assert ((0 <= path.sold) & (path.sold <= plan.grid.available_per_period)).all()
    assert (path.revenue >= 0).all()
    assert ((0 <= path.utilization) & (path.utilization <= 1)).all()
    # The pool added by version 2 (from July 2026) has no capacity before it.
    south = plan.grid.pools.index("h200-south")
    assert path.sold[:6, south].tolist() == [0] * 6 and (plan.grid.available_per_period[6:, south] > 0).all()
    assert path.default_date is None or plan.terms.first.term.start < path.default_date <= plan.terms.first.term.end


def test_without_noise_utilization_follows_the_ramp_in_logit_space():
    simulation = Simulation(small_quarterly(), quiet_model(demand__start="0.2", demand__target="0.8",
                                                         demand__ramp_years="0.5"))
    plan = simulation.plans[0]
    shared = paths.draw_shared(simulation.book, simulation.numbers, paths.shared_generator(0, 0))
    path = paths.draw_path(plan.grid, shared, simulation.numbers, paths.agreement_generator(0, 0, plan.id), 2)
    logit = np.log(path.utilization / (1 - path.utilization))
    start, target = math.log(0.2 / 0.8), math.log(0.8 / 0.2)
    assert abs(logit[0] - start) < 1e-12
    assert np.allclose(logit[6:], target)  # ramped up after half a year
    assert (np.diff(logit[:7]) > 0).all()


def test_a_shock_lowers_every_pool_and_fades_at_its_recovery_rate():
    simulation = Simulation(bundled("residual-quarterly"), quiet_model(shocks__recovery="1", shocks__demand="-2",
                                                                     shocks__demand_spread="0"))
    plan = simulation.plans[0]
    shared = paths.SharedDraws(np.array([1.0]), np.array([-2.0]), np.ones(len(simulation.book.month_starts)))
    path = paths.draw_path(plan.grid, shared, simulation.numbers, paths.agreement_generator(0, 0, plan.id), 2)
    logit = np.log(path.utilization / (1 - path.utilization))
    years = np.concatenate(([0.0], np.cumsum(plan.grid.step_dt)[:-1]))
    expected = np.where(years >= 1.0, -2.0 * np.exp(-(years - 1.0)), 0.0)
    assert np.allclose(logit, expected)


def test_share_prices_are_observed_on_weekdays_until_the_exercise():
    simulation = Simulation(bundled("warrants-milestones"), model())
    grid = simulation.plans[0].grid
    days = grid.observation_dates
    assert days[-1] == date(2030, 1, 1)  # the term's end, before the warrants expire in 2033
    assert all(day.weekday() < 5 for day in days[:-1]) and len(days) == len(set(days))
    assert list(days) == sorted(days)
