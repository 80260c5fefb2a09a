"""`backstop replay`: a log through the engine, in one process or by agreement in several."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
import tempfile
import time
from contextlib import ExitStack
from typing import BinaryIO

from engine.cli.files import Outputs, WholeLongLines, open_events
from engine.cli.progress import Progress
from engine.cli.status import EXIT_OK, EXIT_REJECTED, UsageFailure
from engine.documents.loader import load_agreements
from engine.replay import Engine, parallel


def run_replay(args: argparse.Namespace) -> int:
    """`backstop replay`: the log through the engine, outputs written whole or not at all."""
    agreements = load_agreements(args.contracts)
    if getattr(args, "scheduler", None) is not None:  # by agreement on a Dask cluster
        return _run_on_scheduler(args, agreements)
    if getattr(args, "workers", 1) > 1:  # parallel by agreement; it falls back to one process when it must
        return _run_parallel_replay(args, agreements)
    return _run_single_replay(args, agreements)


def _run_on_scheduler(args: argparse.Namespace, agreements) -> int:
    """`--scheduler ADDRESS`: the parallel replay with the cluster's workers in place of local
    processes (one group of agreements per worker, or per `--workers` if more)."""
    try:
        from engine.simulate.executors import SchedulerError, executor_for
    except ImportError as error:
        raise UsageFailure(f"--scheduler: {error}") from None
    try:
        executor = executor_for(args.scheduler)
    except (SchedulerError, ImportError) as error:
        raise UsageFailure(str(error)) from None
    with executor:
        return _run_parallel_replay(args, agreements, workers=max(args.workers, executor.workers), executor=executor)


def _run_single_replay(args: argparse.Namespace, agreements) -> int:
    engine = Engine(agreements)
    with ExitStack() as stack:
        events, size = open_events(args.events, stack)
        outputs = Outputs(stack)
        ledger = outputs.open(args.ledger)
        summary_file = outputs.open(args.summary)
        rejected = outputs.open(args.rejected)
        progress = Progress(size)
        long_lines = WholeLongLines(rejected) if rejected is not None else None
        try:
            report = (lambda: progress.update(engine.lines, events.tell() if size else None)) if progress.enabled else None
            for outcome in engine.feed_log(events, long_lines, report):
                if ledger is not None:
                    ledger.writelines(entry.line for entry in outcome.entries)
                if rejected is not None and outcome.status == "rejected" and outcome.line not in long_lines.written:
                    rejected.write(outcome.raw + b"\n")
            if args.close_through is not None:
                closing = engine.close_through(args.close_through)
                if ledger is not None:
                    ledger.writelines(entry.line for entry in closing)
            summary = engine.summary()
            if summary_file is not None:
                summary_file.write(summary_bytes(summary))
        except OSError as error:
            raise UsageFailure(f"replay failed: {error}") from None
        finally:
            progress.done()
        outputs.commit()
    print(render_summary(summary))
    return EXIT_REJECTED if summary["rejected"] else EXIT_OK


def _run_parallel_replay(args: argparse.Namespace, agreements, *, workers: int | None = None, executor=None) -> int:
    """`--workers N` (or `--scheduler`): the same outputs, standard output and exit status as one process."""
    workers = workers or args.workers
    started = time.perf_counter()
    parallel.last_run.clear()
    with ExitStack() as stack:
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="backstop-workers-"))
        if args.events == "-":
            path, events, size = os.path.join(work, "events.jsonl"), None, None
        else:
            path = args.events
            events, size = open_events(path, stack)  # the same check and message as one process
            if not stat.S_ISREG(os.fstat(events.fileno()).st_mode):  # a pipe or device reads once, like stdin
                path, events, size = os.path.join(work, "events.jsonl"), events, None
        with ExitStack() as output_stack:
            outputs = Outputs(output_stack)
            ledger = outputs.open(args.ledger)
            summary_file = outputs.open(args.summary)
            rejected = outputs.open(args.rejected)
            try:
                if size is None:
                    size = _spool(events or sys.stdin.buffer, path)
                if executor is not None and not executor.sees([path, work]):
                    summary, fallback = None, f"the workers of {executor.description} cannot see {path} and {work}"
                else:
                    summary, fallback = parallel.replay_in_parallel(
                        path, size, agreements, workers, work, args.close_through, ledger, rejected,
                        executor.run_jobs if executor is not None else None,
                    )
                if summary is not None and summary_file is not None:
                    summary_file.write(summary_bytes(summary))
            except OSError as error:
                raise UsageFailure(f"replay failed: {error}") from None
            if fallback is None:
                outputs.commit()
        if fallback is not None:
            # Nothing was written: the outputs above are discarded, the ordinary replay writes its own.
            parallel.last_run.update(mode="fallback", reason=fallback)
            _note(f"{_option(args)}: replaying in one process ({fallback})")
            return _run_single_replay(argparse.Namespace(**{**vars(args), "events": path}), agreements)
    parallel.last_run.update(mode="parallel", total=time.perf_counter() - started)
    print(render_summary(summary))
    return EXIT_REJECTED if summary["rejected"] else EXIT_OK


def _option(args: argparse.Namespace) -> str:
    scheduler = getattr(args, "scheduler", None)
    return f"--scheduler {scheduler}" if scheduler is not None else f"--workers {args.workers}"


def _spool(source: BinaryIO, path: str) -> int:
    """Copy standard input to `path`, since the parallel replay reads the log twice; its size."""
    with open(path, "wb") as spool:
        shutil.copyfileobj(source, spool, 1 << 20)
        return spool.tell()


def _note(message: str) -> None:
    if sys.stderr.isatty():  # like progress: for a person watching, not for scripts
        print(f"backstop: {message}", file=sys.stderr)


def summary_bytes(summary: dict) -> bytes:
    return (json.dumps(summary, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _by_direction(amounts: dict[str, str]) -> str:
    """`guarantor→provider 1440.77, provider→guarantor 15000.00`: every direction of the agreement
    (two, or six with a lender), in the summary's order."""
    return ", ".join(f"{direction.replace('_to_', '→')} {amount}" for direction, amount in amounts.items())


def render_summary(summary: dict) -> str:
    """The human-readable summary printed after a replay."""
    rejected = summary["rejected"]
    out = [
        f"{summary['lines']} lines: {summary['applied']} applied, {summary['duplicates']} duplicates, "
        f"{len(rejected)} rejected"
    ]
    for agreement_id, agreement in summary["agreements"].items():
        out.append("")
        out.append(f"{agreement_id}: {agreement['entries']} entries, head {agreement['head'] or '(none)'}")
        for kind, total in agreement["totals"].items():
            out.append(f"  {kind:<17} {total:>22}")
        out.append(f"  outstanding       {_by_direction(agreement['outstanding'])}")
        out.append(f"  unapplied credit  {_by_direction(agreement['unapplied_credit'])}")
    if rejected:
        out.append("")
        out.append("rejected lines:")
        for rejection in rejected[:20]:
            out.append(f"  line {rejection['line']}" + (f" ({rejection['id']})" if rejection["id"] else "")
                       + f" [{rejection['code']}]: {rejection['reason']}")
        if len(rejected) > 20:
            out.append(f"  … and {len(rejected) - 20} more (see --summary or --rejected)")
    return "\n".join(out)
