"""The benchmark's log is a valid, deterministic log (its speed is measured by `python -m benchmarks.bench`)."""

import hashlib

import pytest

from benchmarks import bench


@pytest.mark.slow
def test_the_benchmark_log_replays_cleanly_and_the_same_every_time(tmp_path):
    units = bench.units_for(6000)
    bench.write_agreement(tmp_path / "contracts", units, 1, bench.years_for(6000, units))
    assert bench.generate(tmp_path / "log.jsonl", 6000, seed=3, units=units) == 6000
    first = hashlib.sha256((tmp_path / "log.jsonl").read_bytes()).hexdigest()
    bench.generate(tmp_path / "log.jsonl", 6000, seed=3, units=units)
    assert hashlib.sha256((tmp_path / "log.jsonl").read_bytes()).hexdigest() == first
    seconds, digest, status = bench.replay(tmp_path / "contracts", tmp_path / "log.jsonl", tmp_path)
    assert status == 0 and seconds > 0
    assert bench.replay(tmp_path / "contracts", tmp_path / "log.jsonl", tmp_path)[1:] == (digest, 0)
    assert bench.floor(tmp_path / "log.jsonl") == 6000


@pytest.mark.slow
def test_the_memory_measurement_runs_in_a_fresh_process():
    assert bench.peak_rss_mib(2000, 1, 2, bench.units_for(2000)) > 0


def test_the_snapshot_measurement_restores_what_it_took(tmp_path):
    units = bench.units_for(3000)
    bench.write_agreement(tmp_path / "contracts", units, None, bench.years_for(3000, units))
    bench.generate(tmp_path / "log.jsonl", 3000, seed=3, units=units)
    inputs, replayed, size, taken, restored = bench.snapshot_costs(tmp_path / "contracts", tmp_path / "log.jsonl", runs=1)
    assert 2500 < inputs <= 3000 and 0 < size < 100 * inputs and min(replayed, taken, restored) > 0


@pytest.mark.slow
def test_the_v2_twin_of_the_benchmark_agreement_replays_the_log_cleanly(capsys):
    assert bench.main(["--events", "3000", "--runs", "1", "--v2"]) == 0
    assert "v2 agreement (revenue floor, guaranteed debt service)" in capsys.readouterr().out
