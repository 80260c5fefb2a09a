"""The same seed gives the same bytes whatever runs it: chunk sizes, local processes, a Dask
LocalCluster; and `backstop replay --scheduler` writes what one process writes."""

from __future__ import annotations

import logging
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.replay import parallel
from engine.simulate import LocalExecutor, simulate
from engine.simulate.executors import DaskExecutor
from engine.simulate.output import caps_csv, distributions_csv, json_bytes, scenarios_csv
from tests.simulate.support import CONTRACTS, ROOT, bundled, model

SCENARIOS = 10


def _bytes(results) -> bytes:
    document = results.document(engine_version="test", semantics="test", model_file=None)
    return json_bytes(document) + distributions_csv(document) + caps_csv(document) + scenarios_csv(results.scenario_rows())


@pytest.fixture(scope="module")
def book():
    return bundled("amended-h200") + bundled("residual-quarterly")


@pytest.fixture(scope="module")
def the_model():
    return model(shocks__rate="1", payments__default_rate="0.3")


@pytest.fixture(scope="module")
def reference(book, the_model):
    return _bytes(simulate(book, the_model, scenarios=SCENARIOS, seed=77, chunk=SCENARIOS))


@settings(max_examples=4, deadline=None)
@given(chunk=st.integers(1, SCENARIOS))
def test_results_do_not_depend_on_the_chunking(book, the_model, reference, chunk):
    assert _bytes(simulate(book, the_model, scenarios=SCENARIOS, seed=77, chunk=chunk)) == reference


def test_another_seed_or_count_gives_other_results(book, the_model, reference):
    assert _bytes(simulate(book, the_model, scenarios=SCENARIOS, seed=78)) != reference
    fewer = simulate(book, the_model, scenarios=SCENARIOS - 1, seed=77)
    same = simulate(book, the_model, scenarios=SCENARIOS, seed=77)
    assert (fewer.arrays["amended-h200"]["flows"] == same.arrays["amended-h200"]["flows"][:-1]).all()


@pytest.mark.slow  # starts processes
def test_local_processes_give_the_same_bytes(book, the_model, reference):
    results = simulate(book, the_model, scenarios=SCENARIOS, seed=77, executor=LocalExecutor(2), chunk=5)
    assert _bytes(results) == reference


@pytest.fixture(scope="module")
def cluster():
    """A real LocalCluster of two worker processes, for every test below."""
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with DaskExecutor("local:2") as executor:
        yield executor


@pytest.mark.slow  # starts a Dask cluster
def test_a_dask_local_cluster_gives_the_same_bytes(book, the_model, reference, cluster):
    assert cluster.workers == 2
    results = simulate(book, the_model, scenarios=SCENARIOS, seed=77, executor=cluster, chunk=3)
    assert _bytes(results) == reference


@pytest.mark.slow  # starts a Dask cluster
def test_simulate_joins_a_running_cluster_by_address(tmp_path, cluster, capsys):
    address = cluster.client.scheduler.address
    assert address.startswith("tcp://")
    args = [str(CONTRACTS / "residual-quarterly"), "--scenarios", "6", "--seed", "4"]
    assert main(["simulate", *args, "--scheduler", address, "--out", str(tmp_path / "dask")]) == 0
    assert main(["simulate", *args, "--workers", "1", "--out", str(tmp_path / "here")]) == 0
    for name in ("simulation.json", "distributions.csv", "caps.csv", "scenarios.csv", "residual-quarterly-fan.svg"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "here" / name).read_bytes(), name
    capsys.readouterr()


@pytest.mark.slow  # starts a Dask cluster
def test_replay_on_a_cluster_writes_what_one_process_writes(tmp_path, cluster, capsys):
    events = tmp_path / "all.jsonl"
    shutil.copy(ROOT / "examples" / "all.jsonl", events)
    outputs = {}
    for name, extra in (("one", []), ("cluster", ["--scheduler", cluster.client.scheduler.address])):
        folder = tmp_path / name
        folder.mkdir()
        parallel.last_run.clear()
        code = main(["replay", str(CONTRACTS), str(events), "--ledger", str(folder / "ledger"),
                     "--summary", str(folder / "summary"), "--rejected", str(folder / "rejected"), *extra])
        outputs[name] = (code, capsys.readouterr().out, *((folder / f).read_bytes() for f in ("ledger", "summary", "rejected")))
    assert parallel.last_run["mode"] == "parallel" and parallel.last_run["processes"] == 2
    assert outputs["cluster"] == outputs["one"]
    assert outputs["one"][0] == 0 and outputs["one"][2]


@pytest.mark.slow  # starts a Dask cluster
def test_a_cluster_that_cannot_see_the_log_leaves_the_replay_to_one_process(cluster):
    assert cluster.sees([str(CONTRACTS)])
    assert not cluster.sees(["/no/such/folder/events.jsonl"])
