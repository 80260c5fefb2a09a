"""The `backstop` command line (SPEC §8): the only place that touches files and the terminal.

Outputs are written to temporary files beside their targets and moved into place only when
the whole run succeeded, so an invalid document, an unreadable log or a write failure
(exit status 2) never leaves a half-written or changed output behind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date
from typing import BinaryIO

from engine import __version__, lane
from engine.audit import check_chain, explain, find_entry
from engine.documents.errors import DocumentErrors
from engine.documents.loader import load_agreements
from engine.replay import Engine

EXIT_OK, EXIT_REJECTED, EXIT_FAILED = 0, 1, 2


class UsageFailure(Exception):
    """A run that cannot proceed: bad documents, unreadable input, unwritable output."""


def _date_argument(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-12-31; got {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1; got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backstop", description="Settlement engine for GPU-capacity backstop agreements.")
    parser.add_argument("--version", action="version", version=f"backstop {__version__} (semantics backstop/v1; {lane.name()} plain lane)")
    commands = parser.add_subparsers(dest="command", required=True)

    replay = commands.add_parser("replay", help="replay an event log and write the ledger")
    replay.add_argument("contracts", metavar="CONTRACTS", help="an agreement folder or a folder of them")
    replay.add_argument("events", metavar="EVENTS", help="a JSON Lines event log, or - for standard input")
    replay.add_argument("--close-through", type=_date_argument, metavar="DATE",
                        help="after the last event, close every open period ending on or before DATE")
    replay.add_argument("--ledger", metavar="FILE", help="write the ledger (JSON Lines) here")
    replay.add_argument("--summary", metavar="FILE", help="write the JSON summary here")
    replay.add_argument("--rejected", metavar="FILE", help="write every rejected line here, byte for byte")
    replay.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                        help="replay agreements in up to N processes; the same outputs, byte for byte (default 1)")

    validate = commands.add_parser("validate", help="check agreement documents and list their versions")
    validate.add_argument("contracts", metavar="PATH")

    commands.add_parser("schema", help="print the JSON Schema of agreement documents")

    verify = commands.add_parser(
        "verify", help="check a ledger's hash chains (LEDGER), or re-derive it (CONTRACTS EVENTS LEDGER)"
    )
    verify.add_argument("paths", nargs="+", metavar="PATH", help="LEDGER, or CONTRACTS EVENTS LEDGER")
    verify.add_argument("--close-through", type=_date_argument, metavar="DATE")
    verify.add_argument("--head", action="append", default=[], metavar="[AGREEMENT=]HASH",
                        help="the head hash from the summary; catches a ledger cut short (repeatable)")

    check = commands.add_parser(
        "check", help="stress-test agreements: static checks of the terms, then generated logs through every invariant"
    )
    check.add_argument("contracts", metavar="CONTRACTS")
    check.add_argument("--examples", type=_positive_int, default=100, metavar="N",
                       help="generated event logs per agreement (default 100)")
    check.add_argument("--seed", type=int, default=0, metavar="S", help="the seed; the same seed runs the same logs")
    check.add_argument("--out", default=".", metavar="DIR", help="where a failing log is written (default: here)")

    explain_parser = commands.add_parser("explain", help="explain one ledger entry in plain words")
    explain_parser.add_argument("ledger", metavar="LEDGER")
    explain_parser.add_argument("entry_id", metavar="ID")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"replay": run_replay, "validate": run_validate, "schema": run_schema,
               "verify": run_verify, "explain": run_explain, "check": run_check}[args.command]
    try:
        return handler(args)
    except DocumentErrors as errors:
        print(str(errors), file=sys.stderr)
        print(f"backstop: {len(errors.errors)} problem(s) in the agreement documents", file=sys.stderr)
        return EXIT_FAILED
    except UsageFailure as failure:
        print(f"backstop: {failure}", file=sys.stderr)
        return EXIT_FAILED


# ---- replay ------------------------------------------------------------------------------


class Progress:
    """Progress on standard error, only when it is a terminal, at most a few times a second."""

    def __init__(self, total_bytes: int | None, *, noun: str = "lines", every: int = 4096) -> None:
        self.enabled = sys.stderr.isatty()
        self.total_bytes = total_bytes
        self.noun = noun
        self.every = every
        self.last = 0.0

    def update(self, count: int, position: int | None = None) -> None:
        if not self.enabled or count % self.every:
            return
        now = time.monotonic()
        if now - self.last < 0.25:
            return
        self.last = now
        share = f" ({100 * position / self.total_bytes:.0f}%)" if self.total_bytes and position else ""
        print(f"\r{count:,} {self.noun}{share}", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.enabled and self.last:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def _open_events(path: str, stack: ExitStack) -> tuple[BinaryIO, int | None]:
    if path == "-":
        return sys.stdin.buffer, None
    try:
        stream = stack.enter_context(open(path, "rb"))
    except OSError as error:
        raise UsageFailure(f"cannot read events {path}: {error.strerror}") from None
    return stream, os.fstat(stream.fileno()).st_size


class Outputs:
    """Output files written beside their targets and moved into place together at the end."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack
        self.pending: list[tuple[str, str]] = []
        stack.callback(self._discard)

    def open(self, target: str | None) -> BinaryIO | None:
        if target is None:
            return None
        folder = os.path.dirname(os.path.abspath(target))
        try:
            handle, temporary = tempfile.mkstemp(prefix=".backstop-", dir=folder)
        except OSError as error:
            raise UsageFailure(f"cannot write {target}: {error.strerror}") from None
        self.pending.append((temporary, target))
        return self.stack.enter_context(os.fdopen(handle, "wb"))

    def commit(self) -> None:
        for temporary, target in self.pending:
            try:
                os.replace(temporary, target)
            except OSError as error:
                raise UsageFailure(f"cannot write {target}: {error.strerror}") from None
        self.pending = []

    def _discard(self) -> None:
        for temporary, _ in self.pending:
            try:
                os.unlink(temporary)
            except OSError:
                pass


class WholeLongLines:
    """Copies each over-long line (always rejected) whole into the `--rejected` file.

    The reader hands the line over in pieces as it streams by; a spool keeps memory bounded
    until the line's end shows whether it was blank (then it is skipped, not rejected).
    """

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.spool: tempfile.SpooledTemporaryFile | None = None
        self.written: set[int] = set()

    def write(self, number: int, piece: bytes) -> None:
        if self.spool is None:
            self.spool = tempfile.SpooledTemporaryFile(max_size=8 * 2**20)
        self.spool.write(piece)

    def end(self, number: int, blank: bool) -> None:
        if not blank:
            self.spool.seek(0)
            shutil.copyfileobj(self.spool, self.target)
            self.target.write(b"\n")
            self.written.add(number)
        self.spool.close()
        self.spool = None


def run_replay(args: argparse.Namespace) -> int:
    if getattr(args, "workers", 1) > 1:  # parallel by agreement; it falls back to this path when it must
        from engine.parallel import run_parallel_replay

        return run_parallel_replay(args)
    agreements = load_agreements(args.contracts)
    engine = Engine(agreements)
    with ExitStack() as stack:
        events, size = _open_events(args.events, stack)
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
                summary_file.write((json.dumps(summary, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
            for handle in (ledger, summary_file, rejected):
                if handle is not None:
                    handle.flush()
        except OSError as error:
            raise UsageFailure(f"replay failed: {error}") from None
        finally:
            progress.done()
        outputs.commit()
    print(render_summary(summary))
    return EXIT_REJECTED if summary["rejected"] else EXIT_OK


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
        owed, credit = agreement["outstanding"], agreement["unapplied_credit"]
        out.append(f"  outstanding       guarantor→provider {owed['guarantor_to_provider']}, "
                   f"provider→guarantor {owed['provider_to_guarantor']}")
        out.append(f"  unapplied credit  guarantor→provider {credit['guarantor_to_provider']}, "
                   f"provider→guarantor {credit['provider_to_guarantor']}")
    if rejected:
        out.append("")
        out.append("rejected lines:")
        for rejection in rejected[:20]:
            out.append(f"  line {rejection['line']}" + (f" ({rejection['id']})" if rejection["id"] else "")
                       + f": {rejection['reason']}")
        if len(rejected) > 20:
            out.append(f"  … and {len(rejected) - 20} more (see --summary or --rejected)")
    return "\n".join(out)


# ---- validate, schema ------------------------------------------------------------------


def run_validate(args: argparse.Namespace) -> int:
    for agreement in load_agreements(args.contracts):
        print(agreement.id)
        for version in agreement.versions:
            document = version.document
            print(f"  version {version.number}  effective {document.effective}  sha256 {version.sha256}  {version.path}")
    return EXIT_OK


def run_schema(args: argparse.Namespace) -> int:
    from engine.documents.schema import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


# ---- verify, explain -----------------------------------------------------------------


def _parse_heads(values: list[str]) -> dict[str | None, str]:
    heads: dict[str | None, str] = {}
    for value in values:
        agreement, _, digest = value.rpartition("=")
        heads[agreement or None] = digest
    return heads


def run_verify(args: argparse.Namespace) -> int:
    if len(args.paths) == 1:
        report = check_chain(_ledger_lines(args.paths[0]), _parse_heads(args.head))
        if not report.ok:
            print(f"{args.paths[0]}: {report.problem}")
            return EXIT_REJECTED
        print(f"{args.paths[0]}: {report.entries} entries; every chain intact")
        for agreement, head in sorted(report.heads.items()):
            print(f"  {agreement}: head {head}")
        return EXIT_OK
    if len(args.paths) != 3:
        raise UsageFailure("verify takes LEDGER, or CONTRACTS EVENTS LEDGER")
    contracts, events_path, ledger_path = args.paths
    engine = Engine(load_agreements(contracts))
    written = iter(_ledger_lines(ledger_path))
    number = 0
    with ExitStack() as stack:
        events, _ = _open_events(events_path, stack)
        batches = (outcome.entries for outcome in engine.feed_stream(events))
        for batch in _then_close(batches, engine, args.close_through):
            for entry in batch:
                number += 1
                expected = entry.line.rstrip(b"\n")
                actual = next(written, None)
                if actual != expected:
                    print(f"{ledger_path}: line {number} differs from the re-derived entry {entry.id}")
                    print(f"  expected: {expected.decode('utf-8')}")
                    print(f"  found:    {'(end of file)' if actual is None else actual.decode('utf-8', 'replace')}")
                    return EXIT_REJECTED
    extra = next(written, None)
    if extra is not None:
        print(f"{ledger_path}: line {number + 1} is an entry the replay does not issue")
        return EXIT_REJECTED
    print(f"{ledger_path}: all {number} entries re-derived byte for byte")
    return EXIT_OK


def _then_close(batches, engine: Engine, close_through: date | None):
    yield from batches
    if close_through is not None:
        yield engine.close_through(close_through)


def _ledger_lines(path: str) -> list[bytes]:
    try:
        with open(path, "rb") as handle:
            return [line.rstrip(b"\r\n") for line in handle if line.strip()]
    except OSError as error:
        raise UsageFailure(f"cannot read {path}: {error.strerror}") from None


def run_check(args: argparse.Namespace) -> int:
    """Static findings, then generated logs through every invariant; 0 only when all holds."""
    from engine.checks import static_findings
    from engine.terms import AgreementTerms

    try:
        from engine.testing.stress import stress_agreement
    except ImportError as error:
        raise UsageFailure(f"backstop check generates logs with Hypothesis: {error}") from None
    agreements = load_agreements(args.contracts)
    if not os.path.isdir(args.out):
        raise UsageFailure(f"--out {args.out} is not a folder")
    all_hold = True
    for loaded in agreements:
        print(loaded.id)
        for finding in static_findings(AgreementTerms(loaded.id, loaded.versions)):
            print(f"  {finding.severity}: {finding.message}")
            all_hold &= finding.severity != "warning"
        progress = Progress(None, noun=f"generated logs of {args.examples}", every=1)
        result = stress_agreement(loaded, examples=args.examples, seed_value=args.seed, on_example=progress.update)
        progress.done()
        if result.ok:
            print(f"  {result.examples} generated logs (seed {args.seed}): every invariant holds")
            continue
        all_hold = False
        path = os.path.join(args.out, f"{loaded.id}.failing.jsonl")
        with open(path, "w", encoding="utf-8") as failing:
            failing.writelines(line + "\n" for line in result.failing_lines)
        print(f"  FAILED after {result.examples} generated logs (seed {args.seed}): {result.failure}")
        print(f"  the smallest failing log ({len(result.failing_lines)} lines) is in {path}; replay it with:")
        print(f"    backstop replay {args.contracts} {path}")
    return EXIT_OK if all_hold else EXIT_REJECTED


def run_explain(args: argparse.Namespace) -> int:
    entry = find_entry(_ledger_lines(args.ledger), args.entry_id)
    if entry is None:
        print(f"{args.ledger}: no entry with id {args.entry_id}", file=sys.stderr)
        return EXIT_REJECTED
    print(explain(entry))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
