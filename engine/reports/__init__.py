"""Reports made from a ledger (and the documents it was made from) alone, so that anyone holding
the ledger can reproduce them: statements with aging, an HTML audit report, and exports to
Beancount, Parquet and CSV.

The computing layers are pure functions of the entries (field mappings or `IssuedEntry`
values, in ledger order) and the loaded agreements, returning values: `rebuild_balances`
(SPEC §5.5), `statement`, `audit_report`, `beancount_books`, `entry_rows`. Each form is
written by a module of its own (`statement_forms`, `html` with `charts`, `beancount_text`,
`columnar`);
those needing an optional library (matplotlib, pyarrow) import it when called and say how to
install it: `pip install 'backstop[reports]'`. Nothing here touches a file.
"""

from engine.reports.balances import (
    OBLIGATION_KINDS,
    SHARE_KINDS,
    BalanceFold,
    Balances,
    LedgerInconsistent,
    Obligation,
    rebuild_balances,
)
from engine.reports.audit import AuditReport, audit_report
from engine.reports.beancount_text import BeancountBooks, beancount_books, beancount_text
from engine.reports.columnar import AgreementRows, arrow_table, csv_text, entry_rows
from engine.reports.errors import ReportError
from engine.reports.html import render_html
from engine.reports.parties import Direction, directions
from engine.reports.sources import match_documents, read_ledger
from engine.reports.statement import BUCKET_NAMES, Statement, bucket_of, statement
from engine.reports.statement_forms import statement_csv, statement_json, statement_mapping, statement_text

__all__ = [
    "AgreementRows",
    "AuditReport",
    "BeancountBooks",
    "arrow_table",
    "audit_report",
    "beancount_books",
    "beancount_text",
    "csv_text",
    "entry_rows",
    "render_html",
    "BUCKET_NAMES",
    "OBLIGATION_KINDS",
    "SHARE_KINDS",
    "BalanceFold",
    "Balances",
    "Direction",
    "LedgerInconsistent",
    "Obligation",
    "ReportError",
    "Statement",
    "bucket_of",
    "directions",
    "match_documents",
    "read_ledger",
    "rebuild_balances",
    "statement",
    "statement_csv",
    "statement_json",
    "statement_mapping",
    "statement_text",
]
