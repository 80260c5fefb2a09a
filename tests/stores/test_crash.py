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
    """Run the ingest to its end: status 1 if it rejected a bad line, 0 if an earlier run had."""
    process = start_ingest(url, contracts, log, batch)
    _, errors = process.communicate(timeout=300)
    assert process.returncode in (0, 1), errors.decode()


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
    size = log.stat().st_size
    expected = replayed(contracts, log.read_bytes())
    rng = random.Random(f"kill {kind}")
    with STORES[kind]() as url:  # an uninterrupted run times when the first batch commits and when all have
        process = start_ingest(url, contracts, log, 20)
        started = time.monotonic()
        while committed_bytes(url) == 0 and process.poll() is None:
            time.sleep(0.005)
        first = time.monotonic() - started
        assert process.wait(300) == 1
        whole = time.monotonic() - started
        assert exported(url) == expected
    kills, cut_short = 0, 0
    while kills < 20:  # a store is killed until its ingest got to the end, then checked, then a new one
        with STORES[kind]() as url:
            committed = 0
            while committed < size and kills < 20:
                process = start_ingest(url, contracts, log, 20)
                time.sleep(rng.uniform(0.8 * first, whole))  # from about the first commit to past the end
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                before, committed = committed, committed_bytes(url)
                assert committed >= before  # nothing committed is ever lost
                cut_short += 0 < committed < size
            finish(url, contracts, log, 20)
            assert exported(url) == expected
    assert cut_short >= 3, cut_short  # most kills fall between two commits
