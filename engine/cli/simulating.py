"""`backstop simulate`: Monte Carlo of the agreements' exposure, through the engine itself."""

from __future__ import annotations

import argparse
import os
import sys
import time

from engine.cli.status import EXIT_OK, UsageFailure
from engine.documents.loader import load_agreements

EXIT_INTERRUPTED = 130  # the shell's status for a run stopped by Ctrl-C (128 + SIGINT)
SUMMARY_FIGURES = ("lease_back", "top_up", "guarantee_calls", "payout", "revenue_share_received",
                   "reimbursements_received", "net")


class ScenarioProgress:
    """Scenarios done, rate and time left on standard error, only when it is a terminal."""

    def __init__(self, total: int) -> None:
        self.enabled = sys.stderr.isatty()
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.shown = 0.0

    def update(self, done: int) -> None:
        self.done = done
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.shown < 0.25 and done < self.total:
            return
        self.shown = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        left = (self.total - done) / rate if rate else 0.0
        print(f"\r{done:,} / {self.total:,} scenarios  {rate:,.0f}/s  {_duration(left)} left\033[K",
              end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.enabled and self.shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def run_simulate(args: argparse.Namespace) -> int:
    """Draw the scenarios, replay each through the engine, write the distributions."""
    try:
        import engine.simulate as simulation
        from engine.simulate.output import write_plots, write_tables
    except ImportError as error:
        raise UsageFailure(f"backstop simulate: {error}") from None
    agreements = load_agreements(args.contracts)
    model = _model(simulation, args.model)
    try:
        simulation.require("matplotlib", "the plots of backstop simulate")  # before the run, not after it
        executor = simulation.executor_for(args.scheduler, args.workers)
    except (simulation.SchedulerError, ImportError) as error:
        raise UsageFailure(str(error)) from None
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageFailure(f"--out {args.out} is not a folder")
    progress = ScenarioProgress(args.scenarios)
    started = time.monotonic()
    with executor:
        try:
            results = simulation.simulate(agreements, model, scenarios=args.scenarios, seed=args.seed,
                                          executor=executor, on_chunk=progress.update)
        except KeyboardInterrupt:
            progress.finish()
            elapsed = time.monotonic() - started
            print(f"backstop: interrupted after {progress.done:,} of {args.scenarios:,} scenarios "
                  f"({100 * progress.done / args.scenarios:.0f} %) in {_duration(elapsed)}; nothing was written",
                  file=sys.stderr)
            return EXIT_INTERRUPTED
        except simulation.SimulationError as error:
            raise UsageFailure(f"simulation failed: {error}") from None
        finally:
            progress.finish()
    elapsed = time.monotonic() - started
    from engine import __version__
    from engine.replay import SEMANTICS

    document = results.document(engine_version=__version__, semantics=SEMANTICS, model_file=args.model)
    try:
        written = write_tables(args.out, document, results.scenario_rows())
        written += write_plots(args.out, document, _payouts(results))
        if args.log_scenario is not None:
            written += _write_logs(simulation, agreements, model, args)
    except OSError as error:
        raise UsageFailure(f"cannot write the results to {args.out}: {error}") from None
    print(render(document))
    print(f"\nwritten: {', '.join(written)}")
    print(f"{args.scenarios:,} scenarios on {executor.description} in {_duration(elapsed)} "
          f"({args.scenarios / max(elapsed, 1e-9):,.0f} scenarios/s)", file=sys.stderr)
    return EXIT_OK


def _model(simulation, path: str | None):
    try:
        return simulation.load_model(path)
    except simulation.ModelErrors as errors:
        raise UsageFailure(f"{errors}\nbackstop: {len(errors.errors)} problem(s) in the model file") from None


def _payouts(results) -> dict[str, list[int]]:
    from engine.simulate.aggregate import metric_values
    from engine.simulate.scenario import CALLS, LEASE_BACK, TOP_UP

    return {agreement: metric_values(arrays["flows"], (LEASE_BACK, TOP_UP, CALLS), ()).sum(axis=1).tolist()
            for agreement, arrays in results.arrays.items()}


def _write_logs(simulation, agreements, model, args) -> list[str]:
    """`--log-scenario K`: scenario K's event lines, one log per agreement, for `backstop replay`."""
    if args.log_scenario >= args.scenarios:
        raise UsageFailure(f"--log-scenario {args.log_scenario}: the run has scenarios 0 to {args.scenarios - 1}")
    from engine.simulate.output import write_bytes

    written = []
    for agreement, lines in simulation.scenario_log(agreements, model, seed=args.seed, scenario=args.log_scenario).items():
        path = os.path.join(args.out, f"scenario-{args.log_scenario}-{agreement}.jsonl")
        write_bytes(path, b"".join(line + b"\n" for line in lines))
        written.append(path)
    return written


def render(document: dict) -> str:
    """The human-readable summary: per agreement, the term's distributions, caps, default, warrants."""
    run = document["simulation"]
    out = [f"{run['scenarios']:,} scenarios, seed {run['seed']}, model {run['model_file'] or '(the default)'}"]
    for agreement, report in document["agreements"].items():
        out += ["", f"{agreement} ({report['currency']}), over the term of {report['contract_years']} contract years",
                f"  {'':<24}" + "".join(f"{name:>18}" for name in ("mean", "P50", "P90", "P99", "max", "min"))]
        for figure in SUMMARY_FIGURES:
            if figure in report["distributions"]:
                stats = report["distributions"][figure]["term"]
                out.append(f"  {figure:<24}" + "".join(f"{stats[name]:>18}" for name in ("mean", "p50", "p90", "p99", "max", "min")))
        for cap, found in report["caps"].items():
            amount = found["cap"] if isinstance(found["cap"], str) else "(varies)"
            first = f", first in {found['first_period_p50']} at the median" if "first_period_p50" in found else ""
            out.append(f"  {cap} cap {amount}: binds in {found['scenarios']:,} scenarios "
                       f"(probability {found['probability']}){first}")
        out.append(f"  the provider defaults in {report['default']['scenarios']:,} scenarios "
                   f"(probability {report['default']['probability']})")
        for tranche, found in report.get("warrants", {}).get("tranches", {}).items():
            value = found["value_at_exercise"]
            out.append(f"  tranche {tranche}: vests with probability {found['vested_probability']}; "
                       f"value at exercise mean {value['mean']}, P90 {value['p90']}")
    return "\n".join(out)
