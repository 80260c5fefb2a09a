"""Ingestion benchmark: `backstop ingest` into SQLite and PostgreSQL against file replay.

    python -m benchmarks.ingest                      # 1,000,000 events, best of 3, memory at 1× and 2×
    python -m benchmarks.ingest --events 100000 --runs 1 --no-memory

The log is the replay benchmark's (`benchmarks.bench`: hourly utilization, corrections,
re-sends, payments and closes, for an agreement with `lock_after_periods`). Each run is
end to end, in this process: `backstop replay` writing its ledger and summary, and
`backstop ingest` of the same file in batches (`--batch`) into a new SQLite file and into a
new PostgreSQL schema, committing every batch with its outcomes, entries and position, and a
checkpoint at the end. Replay and ingest runs alternate, so that a slow spell of the machine
does not fall on one side only; the best of each is kept. Every store's export must equal the
replay's ledger and summary, byte for byte. With memory measured, each store's ingest runs in
a fresh process at 1× and 2× the log's length (at the same density, so a longer log has more
periods): under a lock its peak RSS stays flat.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Iterator

from benchmarks import bench
from engine.stores.base import BATCH_LINES

POSTGRES_URL = os.environ.get("BACKSTOP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
TARGETS = {"sqlite": 0.5, "postgres": 0.3}  # ingest events/s over replay events/s, at least


@contextmanager
def sqlite_store(work: Path) -> Iterator[str]:
    path = work / f"store-{uuid.uuid4().hex[:8]}.db"
    try:
        yield f"sqlite:///{path}"
    finally:
        for suffix in ("", "-wal", "-shm", "-writer"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def postgres_store(work: Path) -> Iterator[str]:
    import psycopg

    schema = f"backstop_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield POSTGRES_URL + ("&" if "?" in POSTGRES_URL else "?") + f"options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


STORES = {"sqlite": sqlite_store, "postgres": postgres_store}


def ingest(contracts: Path, path: Path, url: str, batch: int) -> tuple[float, str, str]:
    """Run `backstop ingest` in this process: its seconds, and the SHA-256 of the store's
    exported ledger and summary. The clock stops before the export: that check is the benchmark's."""
    from engine.cli import main

    with redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        status = main(["ingest", "--store", url, str(contracts), str(path), "--batch", str(batch)])
        seconds = time.perf_counter() - started
        if status not in (0, 1):
            raise SystemExit(f"backstop ingest into {url} failed with status {status}")
        with tempfile.TemporaryDirectory() as folder:
            ledger, summary = Path(folder) / "ledger.jsonl", Path(folder) / "summary.json"
            main(["export", "--store", url, "--ledger", str(ledger), "--summary", str(summary)])
            return seconds, _digest(ledger), _digest(summary)


def _digest(path: Path) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def peak_rss_mib(kind: str, work: Path, events: int, seed: int, lock: int, units: int, batch: int) -> float:
    """Peak RSS of `backstop ingest` of an `events`-line log at `units` reports an hour, in a
    fresh process (the log is written beforehand, by this one)."""
    folder = work / f"memory-{events}"
    bench.write_agreement(folder / "contracts", units, lock, bench.years_for(events, units))
    bench.generate(folder / "log.jsonl", events, seed, units)
    with STORES[kind](work) as url:
        code = (
            "import io, sys\n"
            "from contextlib import redirect_stdout\n"
            "from benchmarks import bench\n"
            "from engine.cli import main\n"
            "with redirect_stdout(io.StringIO()):\n"
            f"    main(['ingest', '--store', {url!r}, {str(folder / 'contracts')!r}, {str(folder / 'log.jsonl')!r},"
            f" '--batch', '{batch}'])\n"
            "print(bench.peak_rss_kib())\n"
        )
        output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parents[1]).stdout
    (folder / "log.jsonl").unlink()
    return int(output.split()[-1]) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lock", type=int, default=2, help="lock_after_periods of the agreement")
    parser.add_argument("--batch", type=int, default=BATCH_LINES, help="lines per transaction")
    parser.add_argument("--stores", default="sqlite,postgres", help="which stores, comma-separated")
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="leave out the peak RSS of ingest at 1× and 2× the log")
    args = parser.parse_args(argv)
    kinds = [kind for kind in args.stores.split(",") if kind]
    unknown = set(kinds) - set(STORES)
    if unknown:
        parser.error(f"unknown stores: {', '.join(sorted(unknown))}; expected sqlite, postgres")

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        units = bench.units_for(args.events)
        bench.write_agreement(work / "contracts", units, args.lock, bench.years_for(args.events, units))
        count = bench.generate(work / "log.jsonl", args.events, args.seed, units)
        size = (work / "log.jsonl").stat().st_size
        print(f"log: {count:,} events, {size / 2**20:.0f} MiB, seed {args.seed}, lock_after_periods {args.lock}, "
              f"batches of {args.batch:,} lines")
        replay_runs: list[float] = []
        store_runs: dict[str, list[float]] = {kind: [] for kind in kinds}
        outputs: dict[str, set[tuple[str, str]]] = {"replay": set(), **{kind: set() for kind in kinds}}
        for _ in range(args.runs):
            seconds, ledger, _ = bench.replay(work / "contracts", work / "log.jsonl", work)
            replay_runs.append(seconds)
            outputs["replay"].add((ledger, _digest(work / "summary.json")))
            for kind in kinds:
                with STORES[kind](work) as url:
                    seconds, ledger, summary = ingest(work / "contracts", work / "log.jsonl", url, args.batch)
                store_runs[kind].append(seconds)
                outputs[kind].add((ledger, summary))
        replay_rate = count / min(replay_runs)
        print(f"replay:          {replay_rate:>12,.0f} events/s  ({min(replay_runs):.2f} s, best of {args.runs})")
        for kind in kinds:
            rate = count / min(store_runs[kind])
            ratio = rate / replay_rate
            print(f"ingest {kind + ':':<9} {rate:>12,.0f} events/s  ({min(store_runs[kind]):.2f} s)  "
                  f"{ratio:.2f} × replay (target ≥ {TARGETS[kind]}: {'met' if ratio >= TARGETS[kind] else 'NOT met'})")
            runs = ", ".join(f"{replay_run / store_run:.2f}" for replay_run, store_run in zip(replay_runs, store_runs[kind]))
            print(f"  run by run: {runs}")
        same = all(outputs[kind] == outputs["replay"] for kind in kinds) and len(outputs["replay"]) == 1
        print(f"every store's export equals the replay's ledger and summary: {'yes' if same else 'NO'}")
        if not same:
            return 1
        if args.memory:
            for kind in kinds:
                small = peak_rss_mib(kind, work, args.events, args.seed, args.lock, units, args.batch)
                large = peak_rss_mib(kind, work, 2 * args.events, args.seed, args.lock, units, args.batch)
                print(f"peak RSS of ingest into {kind}, lock_after_periods {args.lock}: {small:.0f} MiB at "
                      f"{args.events:,} events, {large:.0f} MiB at {2 * args.events:,} (ratio {large / small:.2f}, "
                      "target ≤ 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
