"""`backstop verify` and `backstop explain`: reading a written ledger back."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from datetime import date

from engine.cli.files import open_events, read_ledger_lines
from engine.cli.status import EXIT_OK, EXIT_REJECTED, UsageFailure
from engine.documents.loader import load_agreements
from engine.ledger.audit import check_chain, explain, find_entry
from engine.replay import Engine


def _parse_heads(values: list[str]) -> dict[str | None, str]:
    heads: dict[str | None, str] = {}
    for value in values:
        agreement, _, digest = value.rpartition("=")
        heads[agreement or None] = digest
    return heads


def run_verify(args: argparse.Namespace) -> int:
    if len(args.paths) == 1:
        report = check_chain(read_ledger_lines(args.paths[0]), _parse_heads(args.head))
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
    written = iter(read_ledger_lines(ledger_path))
    number = 0
    with ExitStack() as stack:
        events, _ = open_events(events_path, stack)
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


def run_explain(args: argparse.Namespace) -> int:
    entry = find_entry(read_ledger_lines(args.ledger), args.entry_id)
    if entry is None:
        print(f"{args.ledger}: no entry with id {args.entry_id}", file=sys.stderr)
        return EXIT_REJECTED
    print(explain(entry))
    return EXIT_OK
