"""`backstop statement`, `backstop report` and `backstop export`: reports made from a ledger.

Each reads the ledger (which must verify) and, where the report needs terms, the agreement
documents it was made from, and hands them to `engine.reports`; this module only reads the
files and writes the outputs, whole or not at all (`files.Outputs`).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from contextlib import ExitStack

from engine.cli.files import Outputs, read_ledger_lines
from engine.cli.status import EXIT_OK, UsageFailure
from engine.documents.loader import load_agreements
from engine.reports import read_ledger, statement, statement_csv, statement_json, statement_text

STATEMENT_FORMS = {"text": statement_text, "json": statement_json, "csv": statement_csv}


def add_commands(commands: argparse._SubParsersAction, date_argument) -> None:
    """Register `statement` and `report` with the `backstop` parser."""
    form = commands.add_parser("statement", help="what each party still owes, with aging and accrued late interest, as of a date")
    form.add_argument("contracts", metavar="CONTRACTS", help="the agreement documents the ledger was made from")
    form.add_argument("ledger", metavar="LEDGER")
    form.add_argument("--as-of", type=date_argument, required=True, metavar="DATE",
                      help="the statement date: days past due and accrued interest are counted to it")
    form.add_argument("--agreement", metavar="ID", help="only this agreement")
    form.add_argument("--format", choices=tuple(STATEMENT_FORMS), default="text", help="text (default), json or csv")

    report = commands.add_parser("report", help="write a self-contained HTML audit report of a ledger")
    report.add_argument("contracts", metavar="CONTRACTS")
    report.add_argument("ledger", metavar="LEDGER")
    report.add_argument("--out", required=True, metavar="FILE", help="the HTML file to write")
    report.add_argument("--as-of", type=date_argument, metavar="DATE",
                        help="the date of the aging table (default: the latest date in the ledger)")



def add_export_forms(export: argparse.ArgumentParser) -> None:
    """The forms of `backstop export FORM LEDGER …`: a ledger file to Beancount, Parquet or CSV.
    A form is optional on the parser, whose own options are a store's export (`export --store`)."""
    forms = export.add_subparsers(dest="form", metavar="{beancount,parquet,csv}")
    beancount = forms.add_parser("beancount", help="double-entry books of every party, checked by bean-check")
    beancount.add_argument("ledger", metavar="LEDGER")
    beancount.add_argument("contracts", metavar="CONTRACTS")
    beancount.add_argument("--out", required=True, metavar="FILE", help="the Beancount file to write")
    for name, what in (("parquet", "Parquet files"), ("csv", "CSV files")):
        columnar = forms.add_parser(name, help=f"one row per entry, typed columns: {what}, one per agreement")
        columnar.add_argument("ledger", metavar="LEDGER")
        columnar.add_argument("--out", required=True, metavar="PATH",
                              help="a folder (made if missing) that gets AGREEMENT." + name + " per agreement")


def run_statement(args: argparse.Namespace) -> int:
    made = statement(_entries(args.ledger), load_agreements(args.contracts), args.as_of, agreement=args.agreement)
    sys.stdout.write(STATEMENT_FORMS[args.format](made))
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from engine.reports.audit import audit_report
    from engine.reports.html import render_html

    report = audit_report(_entries(args.ledger), load_agreements(args.contracts), args.as_of)
    text = render_html(report, ledger_name=args.ledger)
    _write({args.out: text.encode("utf-8")})
    print(f"{args.out}: audit report of {len(report.agreements)} agreement(s) as of {report.as_of.isoformat()}")
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    if args.form == "beancount":
        from engine.reports.beancount_text import beancount_books, beancount_text

        books = beancount_books(_entries(args.ledger), load_agreements(args.contracts))
        _write({args.out: beancount_text(books, title=f"backstop ledger {os.path.basename(args.ledger)}").encode("utf-8")})
        print(f"{args.out}: {len(books.transactions)} transactions, {len(books.assertions)} balance assertions")
        return EXIT_OK
    from engine.reports.columnar import arrow_table, csv_text, entry_rows

    tables = entry_rows(_entries(args.ledger))
    if args.form == "parquet":
        outputs = {table.agreement: _parquet_bytes(arrow_table(table)) for table in tables}
    else:
        outputs = {table.agreement: csv_text(table).encode("utf-8") for table in tables}
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as error:
        raise UsageFailure(f"cannot make the folder {args.out}: {error.strerror}") from None
    _write({os.path.join(args.out, f"{agreement}.{args.form}"): data for agreement, data in outputs.items()})
    for table in tables:
        print(f"{os.path.join(args.out, table.agreement + '.' + args.form)}: {len(table.rows)} entries, amounts with {table.places} places")
    return EXIT_OK


def _entries(path: str) -> list[dict]:
    return read_ledger(read_ledger_lines(path))


def _parquet_bytes(table) -> bytes:
    import pyarrow.parquet as parquet  # present: `arrow_table` made the table

    buffer = io.BytesIO()
    parquet.write_table(table, buffer)
    return buffer.getvalue()


def _write(outputs: dict[str, bytes]) -> None:
    """Write every output whole, or none of them."""
    with ExitStack() as stack:
        files = Outputs(stack)
        for target, data in outputs.items():
            try:
                files.open(target).write(data)
            except OSError as error:
                raise UsageFailure(f"cannot write {target}: {error.strerror}") from None
        files.commit()

