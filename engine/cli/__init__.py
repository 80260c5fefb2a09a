"""The `backstop` command line (SPEC §8): the edge where the engine meets files and the terminal.

Each command lives in a module of its own (`replaying`, `auditing`, `agreements`, `reporting`,
`simulating`, `storing`); files are read and written only through `files`, which writes every
output whole or not at all.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from engine import __version__
from engine.cli.agreements import run_check, run_schema, run_validate
from engine.cli.auditing import run_explain, run_verify
from engine.cli.replaying import render_summary, run_replay
from engine.cli.reporting import add_commands as add_report_commands
from engine.cli.reporting import add_export_forms, run_export, run_report, run_statement
from engine.cli.simulating import EXIT_INTERRUPTED, run_simulate
from engine.cli.status import EXIT_FAILED, EXIT_OK, EXIT_REJECTED, UsageFailure
from engine.cli.storing import (
    add_store_export_options,
    add_store_parsers,
    run_close,
    run_ingest,
    run_status,
    run_store_export,
    store_export_given,
)
from engine.documents.errors import DocumentErrors
from engine.replay import SEMANTICS, InternalError, lane
from engine.reports import ReportError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_REJECTED", "UsageFailure", "build_parser", "main",
           "render_summary"]


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


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0; got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backstop", description="Settlement engine for GPU-capacity backstop agreements.")
    parser.add_argument("--version", action="version", version=f"backstop {__version__} (semantics {SEMANTICS}; {lane.name()} plain lane)")
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
    replay.add_argument("--scheduler", metavar="ADDRESS",
                        help="replay agreements on a Dask cluster: local:N starts one of N workers, tcp://HOST:PORT "
                             "joins a running one; the same outputs, byte for byte")

    simulate = commands.add_parser(
        "simulate", help="Monte Carlo of what the agreements could pay out: scenarios replayed through the engine")
    simulate.add_argument("contracts", metavar="CONTRACTS", help="an agreement folder or a folder of them")
    simulate.add_argument("--scenarios", type=_positive_int, required=True, metavar="N", help="how many scenarios")
    simulate.add_argument("--seed", type=_seed, required=True, metavar="S",
                          help="the seed; the same seed and N give the same results, whatever runs them")
    simulate.add_argument("--model", metavar="FILE", help="the model's parameters (default: the shipped model)")
    simulate.add_argument("--scheduler", metavar="ADDRESS",
                          help="run on a Dask cluster: local:N starts one of N workers, tcp://HOST:PORT joins one "
                               "(default: local processes)")
    simulate.add_argument("--workers", type=_positive_int, metavar="N",
                          help="local processes without --scheduler (default: one per core)")
    simulate.add_argument("--out", default="simulation", metavar="DIR",
                          help="where the JSON, CSV and plots go (default: ./simulation)")
    simulate.add_argument("--log-scenario", type=_seed, metavar="K",
                          help="also write scenario K's event log per agreement, to replay and audit")

    validate = commands.add_parser("validate", help="check agreement documents and list their versions")
    validate.add_argument("contracts", metavar="PATH")

    commands.add_parser("schema", help="print the JSON Schema of agreement documents")

    verify = commands.add_parser(
        "verify", help="check a ledger's form and hash chains, strictly (LEDGER), or re-derive it byte for byte "
                       "(CONTRACTS EVENTS LEDGER)"
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

    explain_parser = commands.add_parser(
        "explain", help="explain one ledger entry in plain words (reads leniently and checks nothing: verify does)")
    explain_parser.add_argument("ledger", metavar="LEDGER")
    explain_parser.add_argument("entry_id", metavar="ID")
    add_report_commands(commands, _date_argument)
    add_store_parsers(commands, _date_argument, _positive_int)
    export = commands.add_parser(
        "export", help="write a store's ledger, summary and rejected lines (--store), or convert a ledger file "
                       "to Beancount, Parquet or CSV (a form)")
    add_store_export_options(export)
    add_export_forms(export)
    return parser


def _run_export(args: argparse.Namespace) -> int:
    """`export --store URL …` writes a store's outputs; `export FORM LEDGER …` converts a ledger file."""
    if args.form is None:
        return run_store_export(args)
    if store_export_given(args):
        raise UsageFailure("--store, --ledger, --summary and --rejected belong to a store's export "
                           f"(backstop export --store URL …), not to `export {args.form}`")
    return run_export(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"replay": run_replay, "validate": run_validate, "schema": run_schema,
               "verify": run_verify, "explain": run_explain, "check": run_check, "simulate": run_simulate,
               "statement": run_statement, "report": run_report, "export": _run_export,
               "ingest": run_ingest, "close": run_close, "status": run_status}[args.command]
    try:
        return handler(args)
    except DocumentErrors as errors:
        print(str(errors), file=sys.stderr)
        print(f"backstop: {len(errors.errors)} problem(s) in the agreement documents", file=sys.stderr)
        return EXIT_FAILED
    except (UsageFailure, ReportError) as failure:
        print(f"backstop: {failure}", file=sys.stderr)
        return EXIT_FAILED
    except InternalError as error:  # the line was rolled back and no output was written
        print(f"backstop: {error}", file=sys.stderr)
        return EXIT_FAILED

