"""Stores for the tests, and the two references a store's export is held to.

PostgreSQL stores live in a schema of their own, created and dropped by the test, in the
database named by `BACKSTOP_TEST_POSTGRES` (default: the machine's server, database `test`).
A server that cannot be reached fails the test: PostgreSQL tests are never skipped.
"""

from __future__ import annotations

import io
import os
import tempfile
import uuid
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from engine.cli import main
from engine.cli.replaying import summary_bytes
from engine.documents.loader import load_agreements
from engine.replay import Engine
from engine.stores import Store

POSTGRES_URL = os.environ.get("BACKSTOP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
EXAMPLES = ROOT / "examples"


def postgres_admin():
    """A connection to the test database, or a failure that says how to get one."""
    import psycopg

    try:
        return psycopg.connect(POSTGRES_URL, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL} ({error}); start it as .ci/run does, or set "
                    "BACKSTOP_TEST_POSTGRES", pytrace=False)


def in_schema(url: str, schema: str) -> str:
    """`url` with the schema as its search path."""
    return url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"


@contextmanager
def postgres_store_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL store: a schema dropped afterwards."""
    schema = f"backstop_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin() as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield in_schema(POSTGRES_URL, schema)
    finally:
        with postgres_admin() as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def sqlite_store_url() -> Iterator[str]:
    """The URL of a new SQLite store: a file in a folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="backstop-store-") as folder:
        yield f"sqlite:///{folder}/store.db"


@dataclass(frozen=True)
class Outputs:
    """What `backstop replay` writes, or `backstop export` from a store."""

    ledger: bytes
    summary: bytes
    rejected: bytes


def exported(url: str) -> Outputs:
    """The store's ledger, summary and rejected lines, through the store's API."""
    ledger, rejected = io.BytesIO(), io.BytesIO()
    with Store.open(url, create=False) as store:
        summary = store.export(ledger=ledger, rejected=rejected)
    return Outputs(ledger.getvalue(), summary_bytes(summary), rejected.getvalue())


def replayed(contracts: Path, log: bytes, close_through: date | None = None) -> Outputs:
    """`backstop replay CONTRACTS LOG [--close-through D]` itself, run in this process."""
    with tempfile.TemporaryDirectory(prefix="backstop-replay-") as folder:
        work = Path(folder)
        (work / "log.jsonl").write_bytes(log)
        arguments = ["replay", str(contracts), str(work / "log.jsonl"), "--ledger", str(work / "l"),
                     "--summary", str(work / "s"), "--rejected", str(work / "r")]
        if close_through is not None:
            arguments += ["--close-through", close_through.isoformat()]
        with redirect_stdout(io.StringIO()):
            assert main(arguments) in (0, 1)
        return Outputs((work / "l").read_bytes(), (work / "s").read_bytes(), (work / "r").read_bytes())


def replayed_with_closes(contracts: Path, steps: Sequence[bytes | date]) -> Outputs:
    """The engine fed the concatenation of the byte strings, one physical line at a time, with
    `close_through` at each date, where it stands among them: `backstop replay` of the
    concatenation, with closes in between as well as at the end."""
    engine = Engine(load_agreements(contracts))
    ledger, rejected = [], []
    number = 0
    for step in steps:
        if isinstance(step, date):
            ledger += [entry.line for entry in engine.close_through(step)]
            continue
        for raw in concatenation([step]).split(b"\n")[:-1]:
            number += 1
            raw = raw[:-1] if raw.endswith(b"\r") else raw
            outcome = engine.feed_line(raw, number)
            if outcome is not None:
                ledger += [entry.line for entry in outcome.entries]
                if outcome.status == "rejected":
                    rejected.append(raw + b"\n")
    return Outputs(b"".join(ledger), summary_bytes(engine.summary()), b"".join(rejected))


def concatenation(sources: Sequence[bytes]) -> bytes:
    """The sources one after another, each ending in LF: the log a store keeps of them."""
    return b"".join(source if source.endswith(b"\n") or not source else source + b"\n" for source in sources)
