"""`backstop statement`, `report` and `export` as users run them: outputs, exit status, and
the refusals (a ledger that does not verify, other documents, a missing optional extra)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC9 = ROOT / "tests" / "golden" / "spec9"
CONTRACTS, LEDGER = str(SPEC9 / "contracts"), str(SPEC9 / "ledger.jsonl")


@pytest.mark.parametrize("form, golden", [("json", "statement-2026-06-30.json"), ("text", "statement-2026-06-30.txt"),
                                          ("csv", "statement-2026-06-30.csv")])
def test_statement_prints_each_form(capsys, form, golden):
    assert main(["statement", CONTRACTS, LEDGER, "--as-of", "2026-06-30", "--format", form]) == 0
    assert capsys.readouterr().out == (SPEC9 / golden).read_text(encoding="utf-8")


def test_statement_of_one_agreement_and_of_an_unknown_one(capsys):
    assert main(["statement", CONTRACTS, LEDGER, "--as-of", "2026-06-30", "--agreement", "spec9", "--format", "json"]) == 0
    assert list(json.loads(capsys.readouterr().out)["agreements"]) == ["spec9"]
    assert main(["statement", CONTRACTS, LEDGER, "--as-of", "2026-06-30", "--agreement", "other"]) == 2
    assert "backstop: no agreement 'other' in CONTRACTS; it holds spec9" in capsys.readouterr().err


def test_statement_needs_a_date(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["statement", CONTRACTS, LEDGER])
    assert exited.value.code == 2
    assert "--as-of" in capsys.readouterr().err


def test_a_ledger_that_does_not_verify_gives_no_report(tmp_path, capsys):
    changed = tmp_path / "ledger.jsonl"
    changed.write_bytes(Path(LEDGER).read_bytes().replace(b'"amount":"1400.00"', b'"amount":"1300.00"'))
    assert main(["statement", CONTRACTS, str(changed), "--as-of", "2026-06-30"]) == 2
    err = capsys.readouterr().err
    assert "the ledger does not verify (line 3: hash does not match the entry's content" in err
    assert "`backstop verify LEDGER` lists every problem" in err
    assert main(["report", CONTRACTS, str(changed), "--out", str(tmp_path / "r.html")]) == 2
    assert not (tmp_path / "r.html").exists()


def test_an_unreadable_ledger_is_named(tmp_path, capsys):
    assert main(["statement", CONTRACTS, str(tmp_path / "missing.jsonl"), "--as-of", "2026-06-30"]) == 2
    assert f"cannot read {tmp_path / 'missing.jsonl'}" in capsys.readouterr().err


def test_report_writes_one_html_file(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", CONTRACTS, LEDGER, "--out", str(out), "--as-of", "2026-06-30"]) == 0
    assert f"{out}: audit report of 1 agreement(s) as of 2026-06-30" in capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert f"backstop verify {LEDGER} --head spec9=" in html


def test_export_beancount_writes_the_books(tmp_path, capsys):
    out = tmp_path / "spec9.beancount"
    assert main(["export", "beancount", LEDGER, CONTRACTS, "--out", str(out)]) == 0
    assert f"{out}: 5 transactions" in capsys.readouterr().out
    assert '2026-03-13 * "Guarantor → Provider" "payment" #spec9 ^spec9/payment/pay-1 ^spec9/2026-01/lease_back/p1' in out.read_text()


@pytest.mark.parametrize("form", ["parquet", "csv"])
def test_export_columnar_writes_one_file_per_agreement(tmp_path, capsys, form):
    out = tmp_path / "columns"
    assert main(["export", form, LEDGER, "--out", str(out)]) == 0
    assert f"{out / ('spec9.' + form)}: 5 entries, amounts with 2 places" in capsys.readouterr().out
    assert sorted(path.name for path in out.iterdir()) == [f"spec9.{form}"]


@pytest.mark.parametrize("argv, module", [
    (["report", CONTRACTS, LEDGER, "--out", "{tmp}/r.html"], "matplotlib"),
    (["export", "parquet", LEDGER, "--out", "{tmp}/columns"], "pyarrow"),
])
def test_a_missing_extra_is_named_with_how_to_install_it(tmp_path, capsys, monkeypatch, argv, module):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    assert main([arg.replace("{tmp}", str(tmp_path)) for arg in argv]) == 2
    assert "pip install 'backstop[reports]'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_other_documents_are_refused(tmp_path, capsys):
    contracts = tmp_path / "contracts"
    shutil.copytree(SPEC9 / "contracts", contracts)
    (version,) = contracts.rglob("*.yaml")
    version.write_text(version.read_text().replace("2.50", "2.60"))
    assert main(["export", "beancount", LEDGER, str(contracts), "--out", str(tmp_path / "b")]) == 2
    assert "the ledger was not made from these agreement documents" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
