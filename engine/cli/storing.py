"""`backstop ingest`, `close`, `export --store` and `status`: the command line of a durable store.

The store (`engine.stores`) does the work; this module parses arguments, opens the event
files, shows progress and prints what happened. A store's failures (busy, a changed source,
changed documents, an unknown schema) end the command with status 2 and the store's message.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack

from engine.cli.files import Outputs, open_events
from engine.cli.progress import Progress
from engine.cli.replaying import render_summary, summary_bytes
from engine.cli.status import EXIT_OK, EXIT_REJECTED, UsageFailure
from engine.stores import IngestReport, Store, StoreError
from engine.stores.base import BATCH_LINES, WAIT_SECONDS

_REJECTED_SHOWN = 20


def add_store_parsers(commands, date_argument, positive_int) -> None:
    """The parsers of `ingest`, `close` and `status`."""

    def store_option(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
        parser.add_argument("--store", required=required, metavar="URL",
                            help="sqlite:///FILE (also a plain path: SQLite, the default) or postgresql://…")

    def wait_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--wait", type=float, default=WAIT_SECONDS, metavar="SECONDS",
                            help=f"how long to wait for another writer of the store (default {WAIT_SECONDS:g})")

    ingest = commands.add_parser(
        "ingest", help="append event lines to a store and apply them, exactly once; resumes after a crash")
    store_option(ingest)
    ingest.add_argument("contracts", metavar="CONTRACTS", help="an agreement folder or a folder of them")
    ingest.add_argument("events", nargs="*", metavar="EVENTS", help="JSON Lines files, or - for standard input")
    ingest.add_argument("--source", metavar="NAME",
                        help="the name the store remembers the source's position under (default: the path "
                             "as given; required for standard input)")
    ingest.add_argument("--rebuild", action="store_true",
                        help="replay the stored log with changed documents first; refused if an entry already "
                             "issued would change")
    ingest.add_argument("--batch", type=positive_int, default=BATCH_LINES, metavar="N",
                        help=f"lines per transaction (default {BATCH_LINES:,})")
    wait_option(ingest)

    close = commands.add_parser("close", help="close every open period ending on or before a date, in a store")
    store_option(close)
    close.add_argument("--through", type=date_argument, required=True, metavar="DATE")
    wait_option(close)

    status = commands.add_parser("status", help="what a store holds: lines, agreements, documents, sources")
    store_option(status)
    status.add_argument("--json", action="store_true", help="print it as JSON")


def add_store_export_options(export: argparse.ArgumentParser) -> None:
    """The options of `backstop export --store URL --ledger F …`, on the `export` parser itself;
    the forms of a ledger file (`export csv LEDGER …`) are its sub-commands."""
    export.add_argument("--store", metavar="URL", help="export from this store (sqlite:///FILE, a plain path, "
                                                       "or postgresql://…)")
    export.add_argument("--ledger", dest="ledger_file", metavar="FILE", help="write the store's ledger here")
    export.add_argument("--summary", dest="summary_file", metavar="FILE", help="write the store's JSON summary here")
    export.add_argument("--rejected", dest="rejected_file", metavar="FILE",
                        help="write every line the store rejected here, byte for byte")


def store_export_given(args: argparse.Namespace) -> bool:
    """Whether any option of a store's export was given."""
    return any(getattr(args, name) is not None for name in ("store", "ledger_file", "summary_file", "rejected_file"))


def run_ingest(args: argparse.Namespace) -> int:
    """`backstop ingest`: each EVENTS source in turn; status 1 if this run rejected a line."""
    if not args.events and not args.rebuild:
        raise UsageFailure("ingest needs EVENTS (a file, or - for standard input), or --rebuild")
    if args.source is not None and len(args.events) > 1:
        raise UsageFailure("--source names one source; give one EVENTS with it")
    if "-" in args.events and args.source is None:
        raise UsageFailure("standard input needs --source NAME: the store remembers how much of each source "
                           "it has taken, to resume after a crash")
    rejected = False
    with _opened(args.store) as store:
        if not args.events:
            store.ingest([], contracts=args.contracts, rebuild=True, wait=args.wait)
            print(f"rebuilt {store.name} with the documents of {args.contracts}")
        for number, path in enumerate(args.events):
            with ExitStack() as stack:
                events, size = open_events(path, stack)
                progress = Progress(size, every=1)
                try:
                    report = store.ingest(
                        events, source=args.source or path, contracts=args.contracts,
                        rebuild=args.rebuild and number == 0, batch_lines=args.batch, wait=args.wait,
                        progress=progress.update if progress.enabled else None,
                    )
                except OSError as error:
                    raise UsageFailure(f"cannot read events {path}: {error.strerror}") from None
                finally:
                    progress.done()
            print(render_ingest(report))
            rejected = rejected or bool(report.rejected)
        print(_render_totals(store.status()))
    return EXIT_REJECTED if rejected else EXIT_OK


def run_close(args: argparse.Namespace) -> int:
    with _opened(args.store, create=False) as store:
        entries = store.close_through(args.through, wait=args.wait)
        print(f"closed through {args.through}: {len(entries)} entries issued")
        for agreement_id, agreement in store.status()["agreements"].items():
            print(f"  {agreement_id}: closed through {agreement['closed_through'] or '(no period)'}")
    return EXIT_OK


def run_store_export(args: argparse.Namespace) -> int:
    """`backstop export --store URL`: every output written whole, from one snapshot of the store."""
    if args.store is None:
        raise UsageFailure("export needs --store URL (with --ledger, --summary or --rejected FILE), "
                           "or a form: backstop export {beancount,parquet,csv} LEDGER …")
    with _opened(args.store, create=False) as store, ExitStack() as stack:
        outputs = Outputs(stack)
        ledger = outputs.open(args.ledger_file)
        summary_file = outputs.open(args.summary_file)
        rejected = outputs.open(args.rejected_file)
        try:
            summary = store.export(ledger=ledger, rejected=rejected)
            if summary_file is not None:
                summary_file.write(summary_bytes(summary))
        except OSError as error:
            raise UsageFailure(f"export failed: {error}") from None
        outputs.commit()
    print(render_summary(summary))
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    with _opened(args.store, create=False) as store:
        status = store.status()
    print(json.dumps(status, indent=2, ensure_ascii=False) if args.json else render_status(status))
    return EXIT_OK


class _opened:
    """A store opened for a command; its failures become the command's (status 2)."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url, self.create = url, create

    def __enter__(self) -> Store:
        try:
            self.store = Store.open(self.url, create=self.create)
        except StoreError as error:
            raise UsageFailure(str(error)) from None
        return self.store

    def __exit__(self, kind, error, traceback) -> None:
        self.store.close()
        if isinstance(error, StoreError):
            raise UsageFailure(str(error)) from None


def render_ingest(report: IngestReport) -> str:
    """What one source's ingest did, and the lines it rejected."""
    resumed = f" (after {report.skipped_bytes:,} bytes taken before)" if report.skipped_bytes else ""
    out = [f"{report.source or '(lines)'}{resumed}: {report.lines:,} lines: {report.applied:,} applied, "
           f"{report.duplicates:,} duplicates, {len(report.rejected):,} rejected; {report.entries:,} entries issued"]
    for rejection in report.rejected[:_REJECTED_SHOWN]:
        out.append(f"  {report.source}:{rejection.source_line} (log line {rejection.line})"
                   + (f" ({rejection.id})" if rejection.id else "") + f" [{rejection.code}]: {rejection.reason}")
    if len(report.rejected) > _REJECTED_SHOWN:
        out.append(f"  … and {len(report.rejected) - _REJECTED_SHOWN} more (backstop export --rejected FILE)")
    return "\n".join(out)


def _render_totals(status: dict) -> str:
    return (f"store {status['store']}: {status['lines']:,} lines: {status['applied']:,} applied, "
            f"{status['duplicates']:,} duplicates, {status['rejected']:,} rejected")


def render_status(status: dict) -> str:
    out = [_render_totals(status) + f" (schema {status['schema']}, {status['log_items']:,} log items)"]
    if status["agreements"]:
        out.append("agreements:")
        for agreement_id, agreement in status["agreements"].items():
            out.append(f"  {agreement_id}: {agreement['entries']:,} entries, head {agreement['head'] or '(none)'}, "
                       f"closed through {agreement['closed_through'] or '(no period)'}")
    if status["documents"]:
        out.append("documents:")
        for document in status["documents"]:
            out.append(f"  {document['agreement']} version {document['version']}: sha256 {document['sha256']} "
                       f"({document['name']})")
    if status["sources"]:
        out.append("sources:")
        for source in status["sources"]:
            out.append(f"  {source['name']}: {source['bytes']:,} bytes, {source['lines']:,} lines committed")
    checkpoint = status["checkpoint"]
    out.append(f"checkpoint: log item {checkpoint['log_item']:,} ({checkpoint['lines']:,} lines)" if checkpoint
               else "checkpoint: none")
    return "\n".join(out)
