"""`backstop verify` and `backstop explain`: reading a written ledger back.

`verify` is strict, because its answer is what an auditor relies on: the ledger must be the
very bytes the engine writes (SPEC §6), line ends included. `explain` is lenient: it reads
any JSON lines and vouches for nothing, so that a damaged ledger can still be read.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from datetime import date

from engine.cli.files import open_events, read_ledger_lines
from engine.cli.status import EXIT_OK, EXIT_REJECTED, UsageFailure
from engine.documents.loader import load_agreements
from engine.ledger import IssuedEntry
from engine.ledger.audit import check_ledger, explain, find_entry, read_ledger_line
from engine.replay import Engine


def _parse_heads(values: list[str]) -> dict[str | None, str]:
    heads: dict[str | None, str] = {}
    for value in values:
        agreement, _, digest = value.rpartition("=")
        heads[agreement or None] = digest
    return heads


def run_verify(args: argparse.Namespace) -> int:
    if len(args.paths) == 1:
        return _verify_alone(args.paths[0], _parse_heads(args.head))
    if len(args.paths) != 3:
        raise UsageFailure("verify takes LEDGER, or CONTRACTS EVENTS LEDGER")
    return _verify_rederived(*args.paths, args.close_through)


def _verify_alone(path: str, heads: dict[str | None, str]) -> int:
    """Format and hash chains of a ledger on its own: every problem, each with its line."""
    report = check_ledger(read_ledger_lines(path), heads)
    if not report.ok:
        for problem in report.problems:
            print(f"{path}: {problem}")
        hidden = report.problems_total - len(report.problems)
        if hidden:
            print(f"{path}: … and {hidden} more problem(s)")
        print(f"{path}: {report.problems_total} problem(s); the ledger does not verify")
        return EXIT_REJECTED
    print(f"{path}: {report.entries} entries; every line canonical, every chain intact")
    for agreement, head in sorted(report.heads.items()):
        print(f"  {agreement}: head {head}")
    return EXIT_OK


def _verify_rederived(contracts: str, events_path: str, ledger_path: str, close_through: date | None) -> int:
    """Replay the log and compare the ledger with what it issues, byte for byte, line ends included."""
    engine = Engine(load_agreements(contracts))
    written = read_ledger_lines(ledger_path)
    number = 0
    with ExitStack() as stack:
        events, _ = open_events(events_path, stack)
        batches = (outcome.entries for outcome in engine.feed_stream(events))
        for batch in _then_close(batches, engine, close_through):
            for entry in batch:
                number += 1
                actual = next(written, None)
                if actual != entry.line:
                    _print_difference(ledger_path, number, entry, actual)
                    return EXIT_REJECTED
    extra = next(written, None)
    if extra is not None:
        _, faults = read_ledger_line(extra)
        print(f"{ledger_path}: line {number + 1}: {faults[-1] if faults else 'an entry the replay does not issue'}")
        return EXIT_REJECTED
    print(f"{ledger_path}: all {number} entries re-derived byte for byte")
    return EXIT_OK


def _print_difference(path: str, number: int, entry: IssuedEntry, actual: bytes | None) -> None:
    print(f"{path}: line {number} differs from the re-derived entry {entry.id}")
    if actual is not None:
        for fault in read_ledger_line(actual)[1]:
            print(f"  {fault}")
    expected = entry.line.rstrip(b"\n").decode("utf-8")
    found = "(end of file)" if actual is None else actual.rstrip(b"\r\n").decode("utf-8", "replace")
    print(f"  expected: {expected}")
    print(f"  found:    {found}")


def _then_close(batches, engine: Engine, close_through: date | None):
    yield from batches
    if close_through is not None:
        yield engine.close_through(close_through)


def run_explain(args: argparse.Namespace) -> int:
    entry, unreadable = find_entry(read_ledger_lines(args.ledger), args.entry_id)
    if entry is None:
        print(f"{args.ledger}: no entry with id {args.entry_id}", file=sys.stderr)
        if unreadable:
            print(f"{args.ledger}: line(s) {', '.join(map(str, unreadable))} could not be read as JSON objects; "
                  f"`backstop verify {args.ledger}` says what is wrong with them", file=sys.stderr)
        return EXIT_REJECTED
    try:
        text = explain(entry)
    except (KeyError, TypeError, AttributeError):
        print(f"{args.ledger}: entry {args.entry_id} lacks fields a ledger entry has, or holds them in another form; "
              f"`backstop verify {args.ledger}` says what is wrong", file=sys.stderr)
        return EXIT_REJECTED
    print(text)
    return EXIT_OK
