"""Scenarios through the engine: the deterministic path against a replay computed by hand,
caps in every scenario, the generated logs accepted whole, and a scenario's log replayed
with `backstop replay` giving the figures the simulation reported."""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import settlement_periods
from engine.cli import main
from engine.replay import Engine
from engine.simulate import SimulationError, scenario_log, simulate
from engine.simulate import scenario as scenarios
from engine.simulate.scenario import (
    ENTITLEMENT, FLOWS, LEASE_BACK, REVENUE_SHARE, REVENUE_SHARE_RECEIVED, Simulation,
)
from tests.simulate.support import CONTRACTS, bundled, model, quiet_model, small_quarterly

CENT = Decimal("0.01")


def _hand_computed(cap: Decimal):
    """The quiet path of `small_quarterly` replayed by hand: per quarter A = 100 GPUs × hours,
    S = A / 2 sold (below 95 %: the guarantor buys every idle hour, A − S, at 2.95, up to the
    cap), revenue S × 4.50 and a 3 % share of it."""
    lease_back, entitlement, share, issued, first_bound = [], [], [], Decimal(0), None
    for index, period in enumerate(settlement_periods(date(2026, 4, 1), date(2027, 4, 1), "quarterly")):
        available = Decimal(100 * period.hours)
        sold = available / 2
        target = ((available - sold) * Decimal("2.95")).quantize(CENT, ROUND_HALF_UP)
        amount = min(target, max(Decimal(0), cap - issued))
        if amount != target and first_bound is None:
            first_bound = index
        issued += amount
        lease_back.append(amount)
        entitlement.append(target)
        share.append((sold * Decimal("4.50") * Decimal("0.03")).quantize(CENT, ROUND_HALF_UP))
    return lease_back, entitlement, share, first_bound


def _cents(values) -> list[int]:
    return [int(value * 100) for value in values]


def test_without_noise_every_scenario_is_the_replay_computed_by_hand():
    cap = Decimal("500000.00")
    results = simulate(small_quarterly(cap=str(cap)), quiet_model(), scenarios=5, seed=11)
    lease_back, entitlement, share, first_bound = _hand_computed(cap)
    assert first_bound == 1  # 322140.00 then 325680.00 against 500000: the second quarter is cut
    arrays = results.arrays["small-q"]
    for flows, binding in zip(arrays["flows"], arrays["binding"]):
        assert flows[LEASE_BACK].tolist() == _cents(lease_back) == [32214000, 17786000, 0, 0]
        assert flows[ENTITLEMENT].tolist() == _cents(entitlement)
        assert flows[REVENUE_SHARE].tolist() == _cents(share)
        assert flows[REVENUE_SHARE_RECEIVED].tolist() == _cents(share)  # the provider pays on time
        assert binding.tolist() == [first_bound, -1, -1]
    report = results.report("small-q")
    term = report["distributions"]["lease_back"]["term"]
    assert term["mean"] == term["p50"] == term["p99"] == term["max"] == term["min"] == "500000.00"
    assert report["distributions"]["net"]["term"]["p50"] == f"{sum(share) - cap:.2f}"
    assert report["caps"]["lease_back"] == {"cap": "500000.00", "probability": "1.000000", "scenarios": 5,
                                            "first_period": {"2026-Q3": 5}, "first_period_p50": "2026-Q3"}


def test_the_quiet_path_is_written_as_the_lines_a_settlement_system_would_send():
    log = scenario_log(small_quarterly(), quiet_model(), seed=0, scenario=0)["small-q"]
    first = json.loads(log[0])
    assert first == {"id": "u/2026-Q2/p1", "type": "utilization", "agreement": "small-q", "pool": "p1",
                     "start": "2026-04-01T00:00:00Z", "end": "2026-07-01T00:00:00Z",
                     "available_gpu_hours": "218400.00", "sold_gpu_hours": "109200.00"}
    assert json.loads(log[1])["amount"] == "491400.00"  # 109200 × 4.50
    assert json.loads(log[2]) == {"id": "c/2026-Q2", "type": "close", "agreement": "small-q", "period": "2026-Q2"}
    payments = [json.loads(line) for line in log if b'"payment"' in line]
    assert [p["amount"] for p in payments][:1] == ["14742.00"]  # the 3 % share, paid on its due date
    assert payments[0]["date"] == "2026-08-30" and payments[0]["applies_to"] == "small-q/2026-Q2/revenue_share"


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32), cap=st.sampled_from(["1000.00", "400000.00", "900000.00", "5000000.00"]))
def test_payouts_respect_the_cap_in_every_scenario(seed, cap):
    results = simulate(small_quarterly(cap=cap, gpus=120), model(demand__volatility="1.5", shocks__rate="1"),
                       scenarios=6, seed=seed)
    flows = results.arrays["small-q"]["flows"]
    issued, entitled = flows[:, LEASE_BACK].cumsum(axis=1), flows[:, ENTITLEMENT].cumsum(axis=1)
    assert (issued <= int(Decimal(cap) * 100)).all()
    assert (issued == np.minimum(entitled, int(Decimal(cap) * 100))).all()  # SPEC §5.3: min(cap, E)
    assert (flows >= 0).all()


@pytest.mark.parametrize("name", ["residual-quarterly", "gb300-monthly", "amended-h200"])
def test_bundled_agreements_stay_within_their_caps_and_every_line_is_applied(name):
    agreements = bundled(name)
    results = simulate(agreements, model(shocks__rate="2", payments__default_rate="0.5"), scenarios=8, seed=3)
    facts = results.facts[0]
    caps = [int(cap * 100) for cap in facts.caps["lease_back"]]
    issued = results.arrays[name]["flows"][:, LEASE_BACK].cumsum(axis=1)
    assert (issued <= np.array(caps)).all()
    # A rejected line would have raised SimulationError: every line was applied.
    assert (results.arrays[name]["lines"] > len(facts.periods) * 2).all()


def test_warrants_vest_and_are_exercised_through_the_engine():
    agreements = bundled("warrants-milestones")
    figures = Simulation(agreements, model(share_price__observations="weekly")).scenario(5, 0)["warrants-milestones"]
    vested = figures.vested.tolist()
    assert vested[0] != -1  # the first capacity tranche (10 million of lease-back) vests in every path
    exercised = [value for value, when in zip(figures.value.tolist(), vested) if when != -1]
    assert exercised and all(value > 0 for value in exercised)
    assert all(value == 0 for value, when in zip(figures.value.tolist(), vested) if when == -1)


def test_a_scenario_log_replayed_by_backstop_replay_gives_the_reported_figures(tmp_path, capsys):
    agreements = bundled("residual-quarterly")
    the_model = model(payments__default_rate="1.5")
    results = simulate(agreements, the_model, scenarios=4, seed=21)
    for scenario in range(4):
        lines = scenario_log(agreements, the_model, seed=21, scenario=scenario)["residual-quarterly"]
        log = tmp_path / f"scenario-{scenario}.jsonl"
        log.write_bytes(b"".join(line + b"\n" for line in lines))
        summary = tmp_path / f"summary-{scenario}.json"
        assert main(["replay", str(CONTRACTS / "residual-quarterly"), str(log), "--summary", str(summary)]) == 0
        totals = json.loads(summary.read_text())["agreements"]["residual-quarterly"]["totals"]
        flows = results.arrays["residual-quarterly"]["flows"][scenario]
        assert int(Decimal(totals["lease_back"]) * 100) == flows[LEASE_BACK].sum()
        assert int(Decimal(totals["revenue_share"]) * 100) == flows[REVENUE_SHARE].sum()
        assert int(Decimal(totals.get("payment", "0")) * 100) == flows[REVENUE_SHARE_RECEIVED].sum()
    capsys.readouterr()


def test_a_rejected_generated_line_stops_the_run_naming_the_line_and_the_reason(monkeypatch):
    original = scenarios.Plan._lines

    def wrong_currency(self, agreement):
        original(self, agreement)
        self.revenue_tail = b'","currency":"EUR"}'

    monkeypatch.setattr(scenarios.Plan, "_lines", wrong_currency)
    with pytest.raises(SimulationError) as raised:
        simulate(small_quarterly(), quiet_model(), scenarios=1, seed=0)
    message = str(raised.value)
    assert "small-q" in message and "line 2" in message and "[currency]" in message and '"r/2026-Q2"' in message


def test_each_agreement_draws_from_its_own_stream():
    """Adding an agreement to a book leaves the others' draws, hence figures, as they were
    (the shared shocks and prices are drawn on the book's calendar, the same here)."""
    alone = simulate(bundled("gb300-monthly"), model(), scenarios=3, seed=8)
    both = simulate(bundled("gb300-monthly") + bundled("amended-h200"), model(), scenarios=3, seed=8)
    assert (alone.arrays["gb300-monthly"]["flows"] == both.arrays["gb300-monthly"]["flows"]).all()


def test_engine_is_fed_plain_utilization_lines():
    """Utilization lines are written plainly, so the engine's fast lane takes them."""
    log = scenario_log(bundled("residual-quarterly"), model(), seed=1, scenario=0)["residual-quarterly"]
    engine = Engine(bundled("residual-quarterly"))
    plain = [line for line in log if b'"utilization"' in line]
    assert plain and all(engine._plain_reference(line, number) is not None for number, line in enumerate(plain, 1))


def test_a_cash_exercise_is_worth_what_a_net_one_is_to_the_cent():
    """Net: floor(X) shares × V + cash in lieu; cash: k × V − the exercise price; both k (V − K)."""
    agreements = bundled("warrants-milestones")
    values = {}
    for method in ("net", "cash"):
        simulation = Simulation(agreements, model(share_price__observations="weekly", warrants__method=method))
        values[method] = simulation.scenario(5, 0)["warrants-milestones"].value.tolist()
    assert any(values["net"])
    assert all(abs(net - cash) <= 1 for net, cash in zip(values["net"], values["cash"]))


@pytest.mark.parametrize("name, flow, cap", [("floor-partnership", "top_up", "top_up"),
                                             ("dc-guarantee", "guarantee_calls", "guarantee")])
def test_bundled_v2_agreements_stay_within_their_caps_and_every_line_is_applied(name, flow, cap):
    """(v2) Top-ups and guarantee calls, drawn with defaults and lender calls, go through the
    engine whole and never pass their own caps."""
    agreements = bundled(name)
    results = simulate(agreements, model(shocks__rate="2", payments__default_rate="0.5"), scenarios=8, seed=5)
    facts = results.facts[0]
    limits = [int(value * 100) for value in facts.caps[cap]]
    paid = results.arrays[name]["flows"][:, FLOWS.index(flow)].cumsum(axis=1)
    assert (paid <= np.array(limits)).all()
    assert paid[:, -1].max() > 0  # the clause paid out in some scenario
    assert (results.arrays[name]["lines"] > len(facts.periods)).all()
