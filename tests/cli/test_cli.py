"""The command line as users run it: exit status, outputs, and what is left on failure."""

import json
import shutil
from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC9 = ROOT / "tests" / "golden" / "spec9"


@pytest.fixture
def spec9(tmp_path):
    contracts = tmp_path / "contracts"
    shutil.copytree(SPEC9 / "contracts", contracts)
    events = tmp_path / "events.jsonl"
    shutil.copy(SPEC9 / "events.jsonl", events)
    return contracts, events


def test_replay_writes_ledger_summary_and_exits_zero(spec9, tmp_path, capsys):
    contracts, events = spec9
    code = main(["replay", str(contracts), str(events), "--ledger", str(tmp_path / "l"), "--summary", str(tmp_path / "s")])
    assert code == 0
    assert (tmp_path / "l").read_bytes() == (SPEC9 / "ledger.jsonl").read_bytes()
    summary = json.loads((tmp_path / "s").read_text())
    assert summary["semantics"] == "backstop/v2"
    assert summary["engine"]["name"] == "backstop"
    out = capsys.readouterr().out
    assert "6 lines: 6 applied, 0 duplicates, 0 rejected" in out
    assert "late_interest" in out and "40.77" in out


def test_rejected_lines_are_written_byte_for_byte_and_exit_one(spec9, tmp_path, capsys):
    contracts, events = spec9
    bad = [b'{"id":"x","type":"revenue","agreement":"spec9","period":"2026-01","amount":1.5,"currency":"USD"}',
           b"\xff\xfe not utf-8", b'{"id": "y" ,  "type":"close","agreement":"spec9","period":"2031-01"}']
    events.write_bytes(events.read_bytes() + b"\n" + b"\r\n".join(bad) + b"\n")
    code = main(["replay", str(contracts), str(events), "--summary", str(tmp_path / "s"),
                 "--rejected", str(tmp_path / "r"), "--ledger", str(tmp_path / "l")])
    assert code == 1
    assert (tmp_path / "r").read_bytes() == b"".join(line + b"\n" for line in bad)
    summary = json.loads((tmp_path / "s").read_text())
    assert [r["line"] for r in summary["rejected"]] == [8, 9, 10]  # line 7 is blank and still counted
    assert [r["code"] for r in summary["rejected"]] == ["number", "malformed", "interval"]
    assert "give decimal amounts as strings" in summary["rejected"][0]["reason"]
    printed = capsys.readouterr().out
    assert "  line 8 (x) [number]: revenue.amount: give decimal amounts as strings" in printed
    assert "  line 9 [malformed]: invalid UTF-8 at byte 1 of the line" in printed
    assert summary["lines"] == 9 and summary["applied"] == 6
    assert (tmp_path / "l").read_bytes() == (SPEC9 / "ledger.jsonl").read_bytes()


def test_invalid_documents_exit_two_and_leave_outputs_untouched(spec9, tmp_path, capsys):
    contracts, events = spec9
    document = contracts / "example.yaml"
    document.write_text(document.read_text().replace("H200: 2.50", "H200: 0"))
    (tmp_path / "l").write_text("previous ledger\n")
    code = main(["replay", str(contracts), str(events), "--ledger", str(tmp_path / "l"), "--summary", str(tmp_path / "s")])
    assert code == 2
    assert (tmp_path / "l").read_text() == "previous ledger\n"
    assert not (tmp_path / "s").exists()
    err = capsys.readouterr().err
    assert "example.yaml:" in err and "backstop.rate_per_gpu_hour.H200" in err
    assert not list(tmp_path.glob(".backstop-*"))


def test_unreadable_events_and_bad_arguments_exit_two(spec9, tmp_path):
    contracts, _ = spec9
    assert main(["replay", str(contracts), str(tmp_path / "missing.jsonl"), "--summary", str(tmp_path / "s")]) == 2
    assert not (tmp_path / "s").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", str(contracts), "x", "--close-through", "2026-13-01"])
    assert exit_info.value.code == 2


def test_close_through_closes_every_period_ending_by_the_date(spec9, tmp_path):
    contracts, events = spec9
    main(["replay", str(contracts), str(events), "--close-through", "2026-04-01", "--ledger", str(tmp_path / "l")])
    entries = [json.loads(line) for line in (tmp_path / "l").read_text().splitlines()]
    closed_by_instruction = [e for e in entries if e["period"] == "2026-03"]
    assert closed_by_instruction == []  # March has no inputs: nothing to issue, but it is closed
    main(["replay", str(contracts), str(events), "--close-through", "2026-03-31", "--summary", str(tmp_path / "s")])
    assert json.loads((tmp_path / "s").read_text())["lines"] == 6


def test_verify_rederives_the_ledger_and_names_the_first_difference(spec9, tmp_path, capsys):
    contracts, events = spec9
    ledger = tmp_path / "l"
    main(["replay", str(contracts), str(events), "--ledger", str(ledger)])
    assert main(["verify", str(contracts), str(events), str(ledger)]) == 0
    lines = ledger.read_text().splitlines(keepends=True)
    ledger.write_text("".join(lines[:2] + [lines[2].replace("1400.00", "1500.00")] + lines[3:]))
    capsys.readouterr()
    assert main(["verify", str(contracts), str(events), str(ledger)]) == 1
    assert "line 3 differs from the re-derived entry spec9/2026-02/lease_back/p1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "tamper, words",
    [
        (lambda lines: lines[:2] + [lines[2].replace("1400.00", "1500.00")] + lines[3:], "line 3: hash does not match"),
        (lambda lines: lines[:1] + lines[2:], "line 2: spec9 entry has seq 3, expected 2"),
        (lambda lines: lines[:3] + lines[2:], "line 4: spec9 entry has seq 3, expected 4"),
    ],
    ids=["changed", "removed", "inserted"],
)
def test_verify_alone_finds_where_the_chain_breaks(spec9, tmp_path, capsys, tamper, words):
    contracts, events = spec9
    ledger = tmp_path / "l"
    main(["replay", str(contracts), str(events), "--ledger", str(ledger)])
    assert main(["verify", str(ledger)]) == 0
    ledger.write_text("".join(tamper(ledger.read_text().splitlines(keepends=True))))
    capsys.readouterr()
    assert main(["verify", str(ledger)]) == 1
    assert words in capsys.readouterr().out


def test_verify_with_head_catches_a_ledger_cut_short(spec9, tmp_path, capsys):
    contracts, events = spec9
    ledger, summary = tmp_path / "l", tmp_path / "s"
    main(["replay", str(contracts), str(events), "--ledger", str(ledger), "--summary", str(summary)])
    head = json.loads(summary.read_text())["agreements"]["spec9"]["head"]
    assert main(["verify", str(ledger), "--head", head]) == 0
    ledger.write_text("".join(ledger.read_text().splitlines(keepends=True)[:-1]))
    assert main(["verify", str(ledger)]) == 0  # a cut at an entry boundary leaves an intact chain…
    assert main(["verify", str(ledger), "--head", f"spec9={head}"]) == 1  # …which the head catches
    assert "cut short" in capsys.readouterr().out


def test_explain_prints_the_derivation(spec9, tmp_path, capsys):
    contracts, events = spec9
    ledger = tmp_path / "l"
    main(["replay", str(contracts), str(events), "--ledger", str(ledger)])
    capsys.readouterr()
    assert main(["explain", str(ledger), "spec9/2026-02/lease_back/p1"]) == 0
    out = capsys.readouterr().out
    for words in ["1400.00 USD, owed by Guarantor to Provider", "rule backstop.rate_per_gpu_hour.H200",
                  "round((threshold × available − sold) × rate)", "the uncapped change was 25200.00",
                  "events:   u-feb, close-feb", "version 1 (document sha256 "]:
        assert words in out
    assert main(["explain", str(ledger), "nope"]) == 1


def test_validate_lists_versions_and_schema_prints_json(spec9, capsys):
    contracts, _ = spec9
    assert main(["validate", str(contracts)]) == 0
    out = capsys.readouterr().out
    assert "spec9" in out and "version 1  effective 2026-01-01  sha256 " in out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["type"] == "object"


def test_the_bundled_examples_replay_cleanly(tmp_path):
    code = main(["replay", str(ROOT / "contracts"), str(ROOT / "examples" / "all.jsonl"),
                 "--summary", str(tmp_path / "s"), "--ledger", str(tmp_path / "l")])
    summary = json.loads((tmp_path / "s").read_text())
    assert summary["rejected"] == [] and code == 0
    assert main(["verify", str(tmp_path / "l")]) == 0


@pytest.mark.slow  # starts a process
def test_events_from_standard_input(spec9, tmp_path):
    import subprocess
    import sys

    contracts, events = spec9
    result = subprocess.run([sys.executable, "-m", "engine.cli", "replay", str(contracts), "-", "--ledger", str(tmp_path / "l")],
                            input=events.read_bytes(), capture_output=True, cwd=ROOT)
    assert result.returncode == 0
    assert (tmp_path / "l").read_bytes() == (SPEC9 / "ledger.jsonl").read_bytes()


def test_the_version_names_the_semantics(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "semantics backstop/v2" in capsys.readouterr().out
