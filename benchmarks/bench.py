"""Replay benchmark: the engine's events/s against the floor of merely parsing the log.

    python -m benchmarks.bench                      # 1,000,000 events, best of 3
    python -m benchmarks.bench --events 200000 --runs 1
    python -m benchmarks.bench --memory             # peak RSS at 1M and 5M events, each in a fresh process
    python -m benchmarks.bench --incremental        # one event at a time: fresh engine against a busy one
    python -m benchmarks.bench --snapshot           # size and time of a snapshot, and of restoring it
    python -m benchmarks.bench --workers 2          # four agreements: one process against `--workers 2`

The log is generated deterministically from `--seed`: hourly utilization from several
reporting units (racks) per pool, 8 pools, six years, monthly revenue, corrections of
closed periods, re-sent duplicates, payments and closes, for an agreement with
`lock_after_periods` set; ids have 40 characters. The **floor** reads the same file line by line with orjson and
converts every decimal field to `Decimal` and every timestamp to `datetime`, doing nothing
else. The **replay** is `backstop replay` end to end: JSON Lines in, ledger and summary out.
When the `eventsourcing` package is installed, its in-memory replay of the same utilization
events into an aggregate is measured too, for comparison.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from engine.replay import lane

POOLS = 8
YEARS = 6
TERM_START = date(2026, 1, 1)
GPUS_PER_RACK = 64
DECIMAL_FIELDS = ("available_gpu_hours", "sold_gpu_hours", "amount", "price", "volume", "fair_market_value")
TIMESTAMP_FIELDS = ("start", "end")

AGREEMENT = """\
schema: backstop/v1
agreement: bench
version: 1
effective: 2026-01-01
title: Benchmark backstop, eight pools over six years
parties:
  provider: Provider
  guarantor: Guarantor
currency: USD
term:
  start: 2026-01-01
  end: {end_year}-01-01
settlement:
  period: monthly
  payment_terms_days: 30
  late_interest:
    annual_rate: 0.08
    day_count: ACT/365F
  lock_after_periods: {lock}
pools:
{pools}backstop:
  rate_per_gpu_hour:
    GB300: 3.10
  threshold: 0.85
  cap: 5000000000.00
revenue_share:
  steps:
    - from_year: 1
      rate: 0.15
    - from_year: 3
      rate: 0.08
    - from_year: 5
      rate: 0.03
"""


# ---- the log -----------------------------------------------------------------------------


#: (v2) What `--v2` adds to the benchmark agreement: a lender, a revenue floor (the share taken
#: above it) and a guaranteed debt service, so that every close issues v2 entries too.
V2_CLAUSES = """\
revenue_floor:
  steps:
    - from_year: 1
      amount: 9000000.00
    - from_year: 3
      amount: 6000000.00
  cap: 400000000.00
guarantee:
  debt_service:
    - from_year: 1
      amount: 2400000.00
  covers: 0.90
  cure_days: 30
  cap: 60000000.00
  reimbursement:
    payment_terms_days: 60
    late_interest:
      annual_rate: 0.11
      day_count: ACT/365F
"""


def write_agreement(folder: Path, units: int, lock: int | None, years: int = YEARS, *, v2: bool = False) -> None:
    pools = "".join(
        f"  - id: pool-{n}\n    gpu_model: GB300\n    gpus: {racks_of(units, n) * GPUS_PER_RACK}\n" for n in range(POOLS)
    )
    text = AGREEMENT.format(pools=pools, lock=lock if lock is not None else 0, end_year=TERM_START.year + years)
    if lock is None:
        text = text.replace("  lock_after_periods: 0\n", "")
    if v2:
        text = text.replace("schema: backstop/v1", "schema: backstop/v2").replace(
            "  guarantor: Guarantor\n", "  guarantor: Guarantor\n  lender: Lender\n").replace(
            "revenue_share:\n", "revenue_share:\n  above_floor: true\n") + V2_CLAUSES
    (folder / "bench").mkdir(parents=True, exist_ok=True)
    (folder / "bench" / "v1.yaml").write_text(text)


def units_for(events: int) -> int:
    """Reporting units (racks over all pools) so that six years of hourly reports hold `events`."""
    hours = (date(TERM_START.year + YEARS, 1, 1) - TERM_START).days * 24
    return max(POOLS, -(-events // hours))


def racks_of(units: int, pool: int) -> int:
    return units // POOLS + (1 if pool < units % POOLS else 0)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def years_for(events: int, units: int) -> int:
    """Six years, or as many more as `units` reports an hour need to make `events` lines."""
    hours_per_year = 366 * 24
    return max(YEARS, -(-events // (units * hours_per_year)) + 1)


def generate(path: Path, events: int, seed: int, units: int | None = None) -> int:
    """Write exactly `events` lines from `units` reports an hour (default: six years' worth)."""
    rng = random.Random(seed)
    units = units or units_for(events)
    years = years_for(events, units)
    written = 0
    recent: list[str] = []  # lines of the last closed month, to correct and to re-send
    moment = datetime(TERM_START.year, 1, 1, tzinfo=timezone.utc)
    end = datetime(TERM_START.year + years, 1, 1, tzinfo=timezone.utc)
    month_lines: list[str] = []
    payment_count = 0
    with open(path, "w", encoding="utf-8") as out:

        def emit(line: str) -> bool:
            nonlocal written
            if written >= events:
                return False
            out.write(line + "\n")
            written += 1
            return True

        while moment < end and written < events:
            following = moment + timedelta(hours=1)
            for pool in range(POOLS):
                for rack in range(racks_of(units, pool)):
                    capacity = GPUS_PER_RACK
                    sold_cents = rng.randrange(capacity * 60, capacity * 100 + 1)
                    line = json.dumps({
                        "id": f"util:pool-{pool}:rack-{rack:02d}:{_stamp(moment)}", "type": "utilization", "agreement": "bench",
                        "pool": f"pool-{pool}", "start": _stamp(moment), "end": _stamp(following),
                        "available_gpu_hours": str(capacity), "sold_gpu_hours": f"{sold_cents // 100}.{sold_cents % 100:02d}",
                    }, separators=(",", ":"))
                    if not emit(line):
                        return written
                    if rng.randrange(200) == 0:
                        month_lines.append(line)
            if following.day == 1 and following.hour == 0:
                written_month = moment.strftime("%Y-%m")
                emit(json.dumps({"id": f"r-{written_month}", "type": "revenue", "agreement": "bench",
                                 "period": written_month, "amount": f"{rng.randrange(10**8, 10**9)}.{rng.randrange(100):02d}",
                                 "currency": "USD"}, separators=(",", ":")))
                # Corrections of the previous, closed month; re-sends of this month's lines.
                for index, old in enumerate(recent[:5]):
                    event = json.loads(old)
                    replacement = {key: event[key] for key in ("pool", "start", "end", "available_gpu_hours")}
                    replacement["sold_gpu_hours"] = str(rng.randrange(0, int(event["available_gpu_hours"])))
                    emit(json.dumps({"id": f"k-{written_month}-{index}", "type": "correction", "agreement": "bench",
                                     "corrects": event["id"], "replacement": replacement}, separators=(",", ":")))
                for old in month_lines[:40]:
                    emit(old)
                emit(json.dumps({"id": f"close-{written_month}", "type": "close", "agreement": "bench",
                                 "period": written_month}, separators=(",", ":")))
                for payer, payee in (("Guarantor", "Provider"), ("Provider", "Guarantor")):
                    payment_count += 1
                    emit(json.dumps({"id": f"pay-{payment_count}", "type": "payment", "agreement": "bench",
                                     "payer": payer, "payee": payee, "amount": f"{rng.randrange(10**6, 10**8)}.00",
                                     "currency": "USD", "date": (following + timedelta(days=rng.randrange(20, 45))).date().isoformat()},
                                    separators=(",", ":")))
                recent, month_lines = month_lines, []
            moment = following
    return written


# ---- measurements ------------------------------------------------------------------------


def floor(path: Path) -> int:
    """Parse every line with orjson and convert its decimals and timestamps; nothing else."""
    import orjson

    count = 0
    with open(path, "rb") as stream:
        for raw in stream:
            event = orjson.loads(raw)
            for name in DECIMAL_FIELDS:
                if name in event:
                    Decimal(event[name])
            for name in TIMESTAMP_FIELDS:
                if name in event:
                    datetime.fromisoformat(event[name])
            replacement = event.get("replacement")
            if replacement:
                for name in DECIMAL_FIELDS:
                    if name in replacement:
                        Decimal(replacement[name])
                for name in TIMESTAMP_FIELDS:
                    if name in replacement:
                        datetime.fromisoformat(replacement[name])
            count += 1
    return count


def replay(contracts: Path, path: Path, out: Path, workers: int | None = None) -> tuple[float, str, int]:
    """Run `backstop replay` in this process: its seconds, the ledger's SHA-256 and the exit
    status. The clock stops before the ledger is hashed: that check is the benchmark's."""
    from engine.cli import main

    arguments = ["replay", str(contracts), str(path), "--ledger", str(out / "ledger.jsonl"),
                 "--summary", str(out / "summary.json")]
    if workers:
        arguments += ["--workers", str(workers)]
    with redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        status = main(arguments)
        seconds = time.perf_counter() - started
    with open(out / "ledger.jsonl", "rb") as ledger:
        digest = hashlib.file_digest(ledger, "sha256").hexdigest()  # in pieces: the ledger can be large
    return seconds, digest, status


def compare_v2(work: Path, units: int, lock: int | None, years: int, count: int, runs: int) -> None:
    """Replay the same log against the v1 agreement and its v2 twin, alternately, best of
    `runs` each: what the v2 clauses cost per event."""
    write_agreement(work / "contracts-v2", units, lock, years, v2=True)
    best = {"v1": float("inf"), "v2": float("inf")}
    for _ in range(runs):
        for side, contracts in (("v1", work / "contracts"), ("v2", work / "contracts-v2")):
            seconds, _, status = replay(contracts, work / "log.jsonl", work)
            if status != 0:
                raise SystemExit(f"the {side} agreement rejected lines of the benchmark log (exit status {status})")
            best[side] = min(best[side], seconds)
    v1_us, v2_us = (best[side] / count * 1e6 for side in ("v1", "v2"))
    print(f"v2 agreement (revenue floor, guaranteed debt service): {count / best['v2']:,.0f} events/s, "
          f"{v2_us:.2f} µs/event against {v1_us:.2f} µs/event for v1 (ratio {v2_us / v1_us:.2f}; target ≤ 1, within noise)")


def peak_rss_kib() -> int:
    """This process's peak RSS. VmHWM starts afresh at exec, where ru_maxrss may keep the
    pages a forked child shared with its parent, so it is preferred where Linux gives it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss_mib(events: int, seed: int, lock: int | None, units: int) -> float:
    """Peak RSS of a replay of `events` events at `units` reports an hour, in a fresh process.

    The density is the caller's, so that a longer log is a log of more periods, not of more
    reports per period: that is what a lock keeps memory flat for.
    """
    code = (
        "import sys, tempfile, pathlib\n"
        "from benchmarks import bench\n"
        "work = pathlib.Path(tempfile.mkdtemp())\n"
        f"bench.write_agreement(work / 'contracts', {units}, {lock!r}, bench.years_for({events}, {units}))\n"
        f"bench.generate(work / 'log.jsonl', {events}, {seed}, {units})\n"
        "bench.replay(work / 'contracts', work / 'log.jsonl', work)\n"
        "print(bench.peak_rss_kib())\n"
    )
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout
    return int(output.split()[-1]) / 1024


def incremental_costs_us(contracts: Path, path: Path, taken: int, probe: int = 20_000,
                         runs: int = 10) -> tuple[float, float]:
    """Per-event times (fresh, busy) of the first `probe` utilization lines after the log's
    first `taken`, fed one at a time to a fresh engine and to one that has taken those.

    Utilization alone, so that both engines do the same work: a close or a correction would
    settle a busy engine's periods but be rejected by a fresh one. Each engine is restored
    from a snapshot for every run, the runs of the two alternate, and the best of each is
    kept, so that a slow spell of the machine does not fall on one side only.
    """
    from engine.replay import Engine

    with open(path, "rb") as stream:
        lines = stream.read().splitlines()
    probe_lines = [raw for raw in lines[taken:] if b'"type":"utilization"' in raw][:probe]
    fresh = Engine.from_path(contracts)
    busy = Engine.from_path(contracts)
    for raw in lines[:taken]:
        busy.feed_line(raw)
    snapshots = (fresh.snapshot(), busy.snapshot())
    del fresh, busy, lines
    from engine.documents.loader import load_agreements

    agreements = load_agreements(contracts)
    best = [float("inf"), float("inf")]
    for _ in range(runs):
        for side, snapshot in enumerate(snapshots):
            engine = Engine.restore(snapshot, agreements)
            gc.collect()  # the restored objects are all young: settle them, as a running engine's are
            started = time.perf_counter()
            for raw in probe_lines:
                engine.feed_line(raw)
            best[side] = min(best[side], time.perf_counter() - started)
    fresh_us, busy_us = (seconds / max(1, len(probe_lines)) * 1e6 for seconds in best)
    return fresh_us, busy_us


def snapshot_costs(contracts: Path, path: Path, runs: int = 3) -> tuple[int, float, int, float, float]:
    """(inputs remembered, seconds to replay the log into an engine, snapshot bytes, seconds to
    take the snapshot, seconds to restore it): what a restart costs either way. Snapshot and
    restore are the best of `runs` each."""
    from engine.documents.loader import load_agreements
    from engine.replay import Engine

    agreements = load_agreements(contracts)
    engine = Engine(agreements)
    started = time.perf_counter()
    with open(path, "rb") as stream:
        for _ in engine.feed_log(stream):
            pass
    replayed = time.perf_counter() - started
    taken = restored = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        snapshot = engine.snapshot()
        taken = min(taken, time.perf_counter() - started)
        started = time.perf_counter()
        Engine.restore(snapshot, agreements)
        restored = min(restored, time.perf_counter() - started)
    inputs = sum(1 for record in engine.ids.values() if type(record) is bytes)
    return inputs, replayed, len(snapshot), taken, restored


def eventsourcing_rate(path: Path, limit: int) -> float | None:
    """Events/s of the `eventsourcing` library (in-memory recorder) replaying the log's
    utilization events into an aggregate; None when that package is not installed."""
    try:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate, event
    except ImportError:
        return None

    class Pool(Aggregate):
        @event("Registered")
        def __init__(self, name: str) -> None:
            self.name = name
            self.available = Decimal(0)
            self.sold = Decimal(0)

        @event("Utilized")
        def utilize(self, available: str, sold: str) -> None:
            self.available += Decimal(available)
            self.sold += Decimal(sold)

    import orjson

    application = Application()
    pool = Pool("all pools")
    count = 0
    with open(path, "rb") as stream:
        for raw in stream:
            fields = orjson.loads(raw)
            if fields["type"] == "utilization":
                pool.utilize(fields["available_gpu_hours"], fields["sold_gpu_hours"])
                count += 1
                if count == limit:
                    break
    application.save(pool)
    started = time.perf_counter()
    application.repository.get(pool.id)
    return count / (time.perf_counter() - started)


def generate_agreements(folder: Path, path: Path, events: int, seed: int, lock: int | None, agreements: int) -> int:
    """A log of `agreements` agreements `bench-0`, `bench-1`, … (each like the bench agreement,
    with its own ids), interleaved hour by hour, `events` lines in all; returns the count."""
    import heapq

    streams = []
    for number in range(agreements):
        share = events // agreements + (1 if number < events % agreements else 0)
        units = units_for(share)
        single = folder / f"single-{number}"
        write_agreement(single, units, lock, years_for(share, units))
        text = (single / "bench" / "v1.yaml").read_text().replace("agreement: bench\n", f"agreement: bench-{number}\n")
        (folder / "contracts" / f"bench-{number}").mkdir(parents=True)
        (folder / "contracts" / f"bench-{number}" / "v1.yaml").write_text(text)
        generate(single / "log.jsonl", share, seed + number, units)
        streams.append(_hourly(single / "log.jsonl", number))
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for _, _, _, line in heapq.merge(*streams):
            out.write(line)
            count += 1
    return count


def _hourly(path: Path, number: int):
    """(hour, agreement, position, line) of one agreement's log, renamed to `bench-{number}`; the
    hour is the latest utilization start so far, so a month's closing lines follow its last hour."""
    hour = ""
    with open(path, encoding="utf-8") as lines:
        for position, line in enumerate(lines):
            line = (line.replace('"id":"', f'"id":"{number}:', 1).replace('"corrects":"', f'"corrects":"{number}:', 1)
                    .replace('"agreement":"bench"', f'"agreement":"bench-{number}"', 1))
            if line.startswith('{"id"') and '"type":"utilization"' in line:
                start = line.split('"start":"', 1)[1][:20]
                hour = max(hour, start)
            yield hour, number, position, line


def compare_workers(events: int, seed: int, runs: int, lock: int | None, workers: int, agreements: int = 4) -> int:
    """Replay a log of several agreements with one process and with `workers`; the ledgers must match."""
    from engine.replay import parallel

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        log = work / "log.jsonl"
        count = generate_agreements(work, log, events, seed, lock, agreements)
        size = log.stat().st_size
        print(f"log: {count:,} events of {agreements} agreements, {size / 2**20:.0f} MiB, seed {seed}, "
              f"lock_after_periods {lock}")
        digests: dict[int, set[str]] = {1: set(), workers: set()}
        timings = []

        def one_replay(n: int):
            out = work / f"out-{n}"
            out.mkdir(exist_ok=True)
            seconds, digest, status = replay(work / "contracts", log, out, n)
            digests[n].add(digest)
            if n > 1:
                timings.append(dict(parallel.last_run))
            return seconds, status

        one_seconds, one_status = min(one_replay(1) for _ in range(runs))
        many_seconds, many_status = min(one_replay(workers) for _ in range(runs))
        print(f"1 worker:   {count / one_seconds:>12,.0f} events/s  ({one_seconds:.2f} s, exit status {one_status})")
        print(f"{workers} workers: {count / many_seconds:>12,.0f} events/s  ({many_seconds:.2f} s, exit status {many_status})")
        print(f"speed-up: {one_seconds / many_seconds:.2f}×")
        best = min(timings, key=lambda timing: timing.get("total", float("inf")))
        if best.get("mode") == "parallel":
            print(f"  routing pass {best['pass1']:.2f} s; {best['processes']} worker processes "
                  f"{', '.join(f'{seconds:.2f}' for seconds in best['workers'])} s "
                  f"(CPU {', '.join(f'{seconds:.2f}' for seconds in best['workers_cpu'])} s; "
                  f"wall with start-up {best['workers_wall']:.2f} s); merge {best['merge']:.2f} s")
        else:
            print(f"  fell back to one process: {best.get('reason')}")
        same = len(digests[1] | digests[workers]) == 1
        print(f"ledgers identical: {'yes' if same else 'NO'}")
        return 0 if same else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lock", type=int, default=2, help="lock_after_periods of the agreement")
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS at 1x and 5x --events")
    parser.add_argument("--incremental", action="store_true",
                        help="also time events fed one at a time to a fresh engine and to one that took most of the log")
    parser.add_argument("--snapshot", action="store_true",
                        help="also time a snapshot and its restore, with the lock and without (every input remembered)")
    parser.add_argument("--v2", action="store_true",
                        help="also replay the log against the agreement with v2 clauses (floor, guarantee) and compare")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="instead: a log of four agreements, replayed with one process and with N")
    args = parser.parse_args(argv)
    if args.workers:
        return compare_workers(args.events, args.seed, args.runs, args.lock, args.workers)

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        units = units_for(args.events)
        write_agreement(work / "contracts", units, args.lock, years_for(args.events, units))
        count = generate(work / "log.jsonl", args.events, args.seed, units)
        size = (work / "log.jsonl").stat().st_size
        print(f"log: {count:,} events, {size / 2**20:.0f} MiB, seed {args.seed}, lock_after_periods {args.lock}")
        print(f"plain lane: {lane.name()}")
        digests = set()

        def one_replay():
            seconds, digest, status = replay(work / "contracts", work / "log.jsonl", work)
            digests.add(digest)
            return seconds, status

        # Alternate the two, so that a slow spell of the machine does not fall on one side only.
        pairs = []  # (floor, replay) seconds of each run
        for _ in range(args.runs):
            started = time.perf_counter()
            floor(work / "log.jsonl")
            floor_run = time.perf_counter() - started
            replay_run, status = one_replay()
            pairs.append((floor_run, replay_run))
        floor_seconds = min(floor_run for floor_run, _ in pairs)
        replay_seconds = min(replay_run for _, replay_run in pairs)
        print(f"floor:  {count / floor_seconds:>12,.0f} events/s  ({floor_seconds:.2f} s, orjson + Decimal + datetime)")
        print(f"replay: {count / replay_seconds:>12,.0f} events/s  ({replay_seconds:.2f} s, exit status {status})")
        print(f"ratio replay/floor: {replay_seconds / floor_seconds:.2f}  (target ≤ 2.5)")
        ratios = sorted(replay_run / floor_run for floor_run, replay_run in pairs)
        print(f"  run by run: {', '.join(f'{ratio:.2f}' for ratio in ratios)} (median {statistics.median(ratios):.2f}; "
              "a machine's speed drifts, and the best floor may fall in a faster spell than the best replay)")
        print(f"ledger identical across {args.runs} runs: {'yes' if len(digests) == 1 else 'NO'}")
        print(f"peak RSS of this process: {peak_rss_kib() / 1024:.0f} MiB")
        if len(digests) != 1:
            return 1
        others = eventsourcing_rate(work / "log.jsonl", min(count, 200_000))
        if others is None:
            print("eventsourcing: not installed (pip install eventsourcing) — comparison skipped")
        else:
            print(f"eventsourcing replaying utilization into an aggregate: {others:,.0f} events/s "
                  f"(replay is {count / replay_seconds / others:.2f} × that; target ≥ 5)")
        if args.v2:
            compare_v2(work, units, args.lock, years_for(args.events, units), count, args.runs)
        if args.incremental:
            # The same utilization lines near the end of the log, fed to a fresh engine and to one that took all before them.
            last = max(0, count - 30_000)
            fresh, busy = incremental_costs_us(work / "contracts", work / "log.jsonl", last)
            print(f"one event at a time: {fresh:.1f} µs/event on a fresh engine, "
                  f"{busy:.1f} µs/event on one that has taken {last:,} events")
        if args.snapshot:
            write_agreement(work / "unlocked", units, None, years_for(args.events, units))
            for label, contracts in ((f"lock_after_periods {args.lock}", work / "contracts"), ("no lock", work / "unlocked")):
                inputs, replayed, size, taken, restored = snapshot_costs(contracts, work / "log.jsonl")
                print(f"snapshot, {label}: {inputs:,} inputs remembered, {size / 2**20:.1f} MiB, taken in {taken:.2f} s, "
                      f"restored in {restored:.2f} s (best of 3); the engine replayed the log in {replayed:.2f} s")
    if args.memory:
        units = units_for(args.events)
        small = peak_rss_mib(args.events, args.seed, args.lock, units)
        large = peak_rss_mib(5 * args.events, args.seed, args.lock, units)
        print(f"peak RSS with lock_after_periods {args.lock}: {small:.0f} MiB at {args.events:,} events, "
              f"{large:.0f} MiB at {5 * args.events:,} (ratio {large / small:.2f}, target ≤ 1.2)")
        unlocked_small = peak_rss_mib(args.events, args.seed, None, units)
        unlocked_large = peak_rss_mib(2 * args.events, args.seed, None, units)
        per_event = (unlocked_large - unlocked_small) * 2**20 / args.events
        print(f"without a lock: {unlocked_small:.0f} MiB at {args.events:,} events, {unlocked_large:.0f} MiB at "
              f"{2 * args.events:,}: {per_event:.0f} bytes remembered per event (target ≤ 300)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
