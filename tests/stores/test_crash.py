"""A real crash: `backstop ingest` killed with SIGKILL at a random moment, run again with the
same arguments, and compared with `backstop replay` of the log, byte for byte, on both stores.

The default run kills each store's ingest once, as soon as it has committed a batch; the slow test kills it many times at moments drawn over a whole run.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import bench
from engine.stores import Store
from tests.stores.support import ROOT, exported, postgres_store_url, replayed, sqlite_store_url

STORES = {"sqlite": sqlite_store_url, "postgres": postgres_store_url}
BAD_LINE = b'{"id":"bad-%d","type":"revenue","agreement":"bench","period":"2026-01","amount":1.5,"currency":"USD"}'


def bench_log(folder: Path, events: int) -> tuple[Path, Path]:
    """The benchmark's agreement and log (utilization, corrections, re-sends, payments, closes),
    with a rejected line every 2,000 lines."""
    units = bench.units_for(events)
    bench.write_agreement(folder / "contracts", units, 2)
    bench.generate(folder / "plain.jsonl", events, 2026, units)
    lines = (folder / "plain.jsonl").read_bytes().split(b"\n")[:-1]
    for number in range(len(lines) // 2000, 0, -1):
        lines.insert(number * 2000, BAD_LINE % number)
    log = folder / "log.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    return folder / "contracts", log


def start_ingest(url: str, contracts: Path, log: Path, batch: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "ingest", "--store", url, str(contracts), str(log), "--batch", str(batch),
         "--wait", "60"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def committed_bytes(url: str) -> int:
    """How much of the log the store has committed, read as any reader would."""
    try:
        with Store.open(url, create=False) as store, store._reading():
            return store._query("SELECT COALESCE(SUM(bytes), 0) FROM sources")[0][0]
    except Exception:  # the store's tables may not exist yet
        return 0


def finish(url: str, contracts: Path, log: Path, batch: int) -> None:
    process = start_ingest(url, contracts, log, batch)
    _, errors = process.communicate(timeout=300)
    assert process.returncode == 1, errors.decode()  # 1: the bad lines were rejected; nothing failed


@pytest.mark.parametrize("kind", STORES)
def test_an_ingest_killed_once_and_run_again_equals_replay(kind, tmp_path):
    contracts, log = bench_log(tmp_path, 12_000)
    size = log.stat().st_size
    with STORES[kind]() as url:
        process = start_ingest(url, contracts, log, 20)
        deadline = time.monotonic() + 120
        while committed_bytes(url) == 0 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert process.poll() is None, "the ingest ended before it could be killed: make the log longer"
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert 0 < committed_bytes(url) < size
        finish(url, contracts, log, 20)
        assert committed_bytes(url) == size
        assert exported(url) == replayed(contracts, log.read_bytes())


@pytest.mark.slow
@pytest.mark.parametrize("kind", STORES)
def test_an_ingest_killed_at_random_moments_many_times_equals_replay(kind, tmp_path):
    contracts, log = bench_log(tmp_path, 40_000)
    rng = random.Random(f"kill {kind}")
    with STORES[kind]() as url:
        started = time.monotonic()
        finish(url, contracts, log, 50)  # an uninterrupted run, into another store below, times a whole run
        whole = time.monotonic() - started
        assert exported(url) == replayed(contracts, log.read_bytes())
    with STORES[kind]() as url:
        progress = []
        for _ in range(20):
            process = start_ingest(url, contracts, log, 50)
            time.sleep(rng.uniform(0, whole))
            process.send_signal(signal.SIGKILL)
            process.wait()
            progress.append(committed_bytes(url))
        assert any(0 < committed < log.stat().st_size for committed in progress), progress
        finish(url, contracts, log, 50)
        assert exported(url) == replayed(contracts, log.read_bytes())
