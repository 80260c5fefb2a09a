"""`backstop ingest`, `close`, `export --store` and `status` as users run them."""

from __future__ import annotations

import builtins
import io
import json
import shutil
import sys
from datetime import date
from pathlib import Path

import pytest

from engine.cli import main
from engine.stores import Store
from tests.stores.support import CONTRACTS, EXAMPLES, postgres_store_url, replayed

BAD = b'{"id":"bad","type":"revenue","agreement":"gb300-monthly","period":"2026-01","amount":1.5,"currency":"USD"}'


@pytest.fixture
def log(tmp_path) -> Path:
    lines = (EXAMPLES / "all.jsonl").read_bytes().split(b"\n")
    lines.insert(7, BAD)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines))
    return path


def export_files(store: str, folder: Path) -> tuple[bytes, bytes, bytes]:
    assert main(["export", "--store", store, "--ledger", str(folder / "l"), "--summary", str(folder / "s"),
                 "--rejected", str(folder / "r")]) == 0
    return (folder / "l").read_bytes(), (folder / "s").read_bytes(), (folder / "r").read_bytes()


def test_ingest_close_export_and_status_on_a_file(tmp_path, log, capsys):
    store = str(tmp_path / "books.db")
    replay = json.loads(replayed(CONTRACTS, log.read_bytes()).summary)
    lines, applied, entries = replay["lines"], replay["applied"], sum(a["entries"] for a in replay["agreements"].values())
    assert replay["duplicates"] == 12 and len(replay["rejected"]) == 1
    assert main(["ingest", "--store", store, str(CONTRACTS), str(log)]) == 1  # a line was rejected
    out = capsys.readouterr().out
    assert f"{log}: {lines:,} lines: {applied:,} applied, 12 duplicates, 1 rejected; {entries:,} entries issued" in out
    assert f"{log}:8 (log line 8) (bad) [number]: " in out
    assert main(["close", "--store", store, "--through", "2027-04-01"]) == 0
    assert "closed through 2027-04-01: " in capsys.readouterr().out
    expected = replayed(CONTRACTS, log.read_bytes(), date(2027, 4, 1))
    assert export_files(store, tmp_path) == (expected.ledger, expected.summary, expected.rejected)
    assert f"{lines} lines: {applied} applied, 12 duplicates, 1 rejected" in capsys.readouterr().out
    assert main(["status", "--store", f"sqlite:///{store}"]) == 0
    out = capsys.readouterr().out
    gb300 = json.loads(expected.summary)["agreements"]["gb300-monthly"]["entries"]
    for words in [f"{lines:,} lines: {applied:,} applied, 12 duplicates, 1 rejected", f"gb300-monthly: {gb300} entries, head ",
                  "closed through 2027-03", "amended-h200 version 2: sha256 ", f"{log}: {log.stat().st_size:,} bytes"]:
        assert words in out
    assert main(["status", "--store", store, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["agreements"]["residual-quarterly"]["closed_through"] == "2027-Q1"


def test_the_same_ingest_again_takes_nothing_and_exits_zero(tmp_path, log, capsys):
    store = str(tmp_path / "books.db")
    main(["ingest", "--store", store, str(CONTRACTS), str(log)])
    capsys.readouterr()
    assert main(["ingest", "--store", store, str(CONTRACTS), str(log)]) == 0
    assert f"(after {log.stat().st_size:,} bytes taken before): 0 lines" in capsys.readouterr().out


def test_standard_input_needs_a_source_name(tmp_path, log, monkeypatch, capsys):
    store = str(tmp_path / "books.db")
    assert main(["ingest", "--store", store, str(CONTRACTS), "-"]) == 2
    assert "standard input needs --source NAME" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(log.read_bytes())))
    assert main(["ingest", "--store", store, str(CONTRACTS), "-", "--source", "feed"]) == 1
    lines = log.read_bytes().count(b"\n")  # none blank, each ending in LF
    assert f"feed: {lines:,} lines" in capsys.readouterr().out
    with Store.open(store) as opened:
        assert opened.status()["sources"] == [{"name": "feed", "bytes": log.stat().st_size, "lines": lines}]


def test_arguments_a_store_needs(tmp_path, log, capsys):
    store = str(tmp_path / "books.db")
    assert main(["ingest", "--store", store, str(CONTRACTS)]) == 2
    assert "ingest needs EVENTS" in capsys.readouterr().err
    assert main(["ingest", "--store", store, str(CONTRACTS), str(log), str(log), "--source", "x"]) == 2
    assert "--source names one source" in capsys.readouterr().err
    assert main(["export", "--ledger", str(tmp_path / "l")]) == 2
    assert "export needs --store URL" in capsys.readouterr().err
    assert main(["export", "--store", store, "csv", str(tmp_path / "l"), "--out", str(tmp_path / "columns")]) == 2
    assert "--store, --ledger, --summary and --rejected belong to a store's export" in capsys.readouterr().err
    for command in (["export", "--store", store, "--ledger", str(tmp_path / "l")], ["status", "--store", store],
                    ["close", "--store", store, "--through", "2026-12-31"]):
        assert main(command) == 2
        assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "books.db").exists() and not (tmp_path / "l").exists()


def test_changed_documents_need_rebuild(tmp_path, capsys):
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS / "gb300-monthly", contracts / "gb300-monthly")
    store, events = str(tmp_path / "books.db"), str(EXAMPLES / "gb300-monthly.jsonl")
    assert main(["ingest", "--store", store, str(contracts), events]) == 0
    version = (contracts / "gb300-monthly" / "v1.yaml").read_text()
    (contracts / "gb300-monthly" / "v2.yaml").write_text(
        version.replace("version: 1\n", "version: 2\n").replace("effective: 2026-01-01", "effective: 2027-06-01"))
    capsys.readouterr()
    assert main(["ingest", "--store", store, str(contracts), events]) == 2
    assert "agreement gb300-monthly version 2 is new" in capsys.readouterr().err
    assert main(["ingest", "--store", store, str(contracts), "--rebuild"]) == 0
    assert f"rebuilt sqlite:///{store} with the documents of {contracts}" in capsys.readouterr().out
    assert main(["ingest", "--store", store, str(contracts), events]) == 0
    # The same command again after a crash that followed a committed rebuild: nothing left to rebuild.
    assert main(["ingest", "--store", store, str(contracts), events, "--rebuild"]) == 0


def test_a_second_writer_waits_then_fails(tmp_path, log, capsys):
    store = str(tmp_path / "books.db")
    main(["ingest", "--store", store, str(CONTRACTS), str(log)])
    capsys.readouterr()
    with Store.open(store) as first, first._writer(0):
        assert main(["close", "--store", store, "--through", "2027-12-31", "--wait", "0.2"]) == 2
    assert "another writer is working on the store sqlite:///" in capsys.readouterr().err


def test_on_postgresql_too(tmp_path, log):
    with postgres_store_url() as store:
        assert main(["ingest", "--store", store, str(CONTRACTS), str(log), "--batch", "500"]) == 1
        expected = replayed(CONTRACTS, log.read_bytes())
        assert export_files(store, tmp_path) == (expected.ledger, expected.summary, expected.rejected)


def test_a_postgresql_store_without_the_extra_names_it(monkeypatch, capsys):
    real_import = builtins.__import__

    def without_psycopg(name, *args, **kwargs):
        if name == "psycopg":
            raise ImportError("No module named 'psycopg'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_psycopg)
    assert main(["status", "--store", "postgresql://postgres@127.0.0.1/test"]) == 2
    assert "PostgreSQL stores need psycopg 3, an optional extra of backstop: pip install 'backstop[postgres]'" in \
        capsys.readouterr().err
