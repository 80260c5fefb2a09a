"""Simulation benchmark: scenarios/s with one worker and two, against replaying the same events.

    python -m benchmarks.simulate                          # 10,000 scenarios of residual-quarterly
    python -m benchmarks.simulate --scenarios 1000         # a quicker look
    python -m benchmarks.simulate --dask                   # Dask LocalClusters of 1 and 2 workers

It runs the bundled `contracts/residual-quarterly` agreement (24 quarters) under the shipped
model: N scenarios with one worker, the same N with `--workers` (default 2; the two runs must
give the same bytes), then N more with another seed. It prints, next to each other:

- the simulation's scenarios/s and cost per scenario, and the speed-up from one worker to two
  (targets: 10,000 scenarios in ≤ 60 s with two workers, a speed-up ≥ 1.6 ×);
- the cost of replaying the very lines of `--sample` scenarios with `backstop replay` (documents
  loaded, ledger and summary written) and with the engine alone (`Engine.feed_log`), so that
  what the simulation adds (draws, lines, reading the entries) is visible;
- the statistical check: the P99 of the payout over the term, for the two seeds, must agree
  within 2 % (exit status 1 otherwise, or when the runs' bytes differ).

The machine's speed drifts when it is shared, so the costs per scenario, measured in this
process, are CPU times, which drift less; the runs' figures are wall times.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import tempfile
import time
from contextlib import redirect_stdout
from decimal import Decimal
from pathlib import Path

from engine.cli import main as backstop
from engine.documents import load_agreements
from engine.replay import Engine
from engine.simulate import DaskExecutor, LocalExecutor, load_model, scenario_log, simulate
from engine.simulate.output import json_bytes

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = "residual-quarterly"
CONTRACTS = ROOT / "contracts" / AGREEMENT
SECONDS_MAX, SPEED_UP_MIN, P99_DRIFT_MAX = 60.0, 1.6, Decimal("0.02")


def timed_run(agreements, model, scenarios: int, seed: int, executor) -> tuple[float, float, object]:
    """(wall seconds, this process's CPU seconds, results) of one run, the executor started."""
    started, cpu = time.perf_counter(), time.process_time()
    results = simulate(agreements, model, scenarios=scenarios, seed=seed, executor=executor)
    return time.perf_counter() - started, time.process_time() - cpu, results


def replay_costs(agreements, model, seed: int, sample: int) -> tuple[float, float, float]:
    """CPU seconds per scenario to replay `sample` scenarios' own lines with `backstop replay`
    and with the engine alone, and their lines per scenario."""
    with tempfile.TemporaryDirectory(prefix="backstop-bench-") as work:
        logs = []
        for scenario in range(sample):
            lines = scenario_log(agreements, model, seed=seed, scenario=scenario)[AGREEMENT]
            path = Path(work) / f"scenario-{scenario}.jsonl"
            path.write_bytes(b"".join(line + b"\n" for line in lines))
            logs.append((path, len(lines)))
        started = time.process_time()
        for path, _ in logs:
            with redirect_stdout(io.StringIO()):
                status = backstop(["replay", str(CONTRACTS), str(path), "--ledger", f"{path}.ledger",
                                   "--summary", f"{path}.summary"])
            if status != 0:
                raise SystemExit(f"backstop replay exited {status} on {path}: a generated line was rejected")
        command = (time.process_time() - started) / sample
        started = time.process_time()
        for path, _ in logs:
            engine = Engine(agreements)
            with open(path, "rb") as stream:
                for _ in engine.feed_log(stream):
                    pass
        alone = (time.process_time() - started) / sample
    return command, alone, sum(count for _, count in logs) / sample


def payout_p99(results) -> Decimal:
    return Decimal(results.report(AGREEMENT)["distributions"]["payout"]["term"]["p99"])


def _bytes(results) -> bytes:
    return json_bytes(results.document(engine_version="bench", semantics="bench", model_file=None))


def _executor(workers: int, dask: bool):
    return DaskExecutor(f"local:{workers}") if dask else LocalExecutor(workers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simulate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample", type=int, default=200, help="scenarios whose lines are replayed alone")
    parser.add_argument("--dask", action="store_true", help="Dask LocalClusters instead of local processes")
    args = parser.parse_args(argv)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    agreements, model = load_agreements(CONTRACTS), load_model()
    count, kind = args.scenarios, "Dask LocalCluster" if args.dask else "local processes"

    with _executor(1, args.dask) as one:
        wall_one, cpu_one, first = timed_run(agreements, model, count, args.seed, one)
    with _executor(args.workers, args.dask) as many:
        wall_many, _, again = timed_run(agreements, model, count, args.seed, many)
        _, _, other = timed_run(agreements, model, count, args.seed + 1, many)
    same = _bytes(first) == _bytes(again)
    command, alone, lines = replay_costs(agreements, model, args.seed, min(args.sample, count))

    per_scenario = cpu_one / count  # in this process: CPU time drifts less than wall time on a shared machine
    speed_up = wall_one / wall_many
    print(f"{AGREEMENT}: {count:,} scenarios of {len(first.facts[0].periods)} quarters, {lines:.0f} lines each "
          f"({kind})")
    print(f"  one worker:    {wall_one:7.1f} s  {count / wall_one:7,.0f} scenarios/s  "
          f"{1000 * wall_one / count:6.2f} ms a scenario (CPU {1000 * per_scenario:.2f} ms)")
    print(f"  {args.workers} workers:     {wall_many:7.1f} s  {count / wall_many:7,.0f} scenarios/s  "
          f"speed-up {speed_up:.2f} ×  (targets: ≤ {SECONDS_MAX:.0f} s for 10,000, ≥ {SPEED_UP_MIN} ×)")
    print(f"  replaying the same lines, CPU per scenario: backstop replay {1000 * command:.2f} ms "
          f"(documents loaded, ledger and summary written), the engine alone {1000 * alone:.2f} ms")
    print(f"  so the simulation itself (draws, lines, reading entries, aggregation) adds "
          f"{1000 * (per_scenario - alone):.2f} ms of CPU a scenario ({100 * (per_scenario - alone) / per_scenario:.0f} %)")
    p99, p99_other = payout_p99(first), payout_p99(other)
    drift = abs(p99 - p99_other) / p99
    print(f"  P99 of the payout over the term: seed {args.seed} {p99}, seed {args.seed + 1} {p99_other}: "
          f"{100 * drift:.2f} % apart (target ≤ {100 * P99_DRIFT_MAX:.0f} %)")
    print(f"  one worker and {args.workers} give the same bytes: {'yes' if same else 'NO'}")
    return 0 if same and drift <= P99_DRIFT_MAX else 1


if __name__ == "__main__":
    sys.exit(main())
