"""`backstop check`: static findings, generated logs through every invariant, and the failing log."""

import json
import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.testing import stress
from tests.replay.support import agreement_text

ROOT = Path(__file__).resolve().parents[2]
SPEC9 = ROOT / "tests" / "golden" / "spec9" / "contracts"


def test_a_sound_agreement_passes_and_the_seed_repeats_the_run(tmp_path, capsys):
    folder = tmp_path / "contracts" / "a"
    folder.mkdir(parents=True)
    (folder / "v1.yaml").write_text(agreement_text(cap="99999999.00", lock=1))
    arguments = ["check", str(tmp_path / "contracts"), "--examples", "5", "--seed", "7"]
    assert main(arguments) == 0
    first = capsys.readouterr().out
    assert "5 generated logs (seed 7): every invariant holds" in first
    assert "the cap 99999999.00 USD can never bind" in first
    assert main(arguments) == 0
    assert capsys.readouterr().out == first


def test_a_cap_one_period_can_exhaust_is_reported(capsys):
    assert main(["check", str(SPEC9), "--examples", "2"]) == 1
    out = capsys.readouterr().out
    assert "warning: the cap 20000.00 USD can be exhausted by a single period (2026-01, and 11 more)" in out
    assert "2 generated logs (seed 0): every invariant holds" in out


def test_a_term_that_looks_wrong_fails_the_check(tmp_path, capsys):
    folder = tmp_path / "contracts"
    shutil.copytree(SPEC9, folder)
    document = folder / "example.yaml"
    document.write_text(document.read_text().replace("from_year: 1\n      rate: 0.10",
                                                     "from_year: 1\n      rate: 0.10\n    - from_year: 3\n      rate: 0.05"))
    assert main(["check", str(folder), "--examples", "2"]) == 1
    assert "warning: version 1: revenue_share.steps[1] starts in contract year 3" in capsys.readouterr().out


@pytest.mark.slow  # shrinks a failing log
def test_a_broken_invariant_writes_the_smallest_failing_log(tmp_path, capsys, monkeypatch):
    def breaks_on_two_lines(loaded, lines):
        assert len(lines) < 2, "stand-in invariant: logs of two lines or more break it"

    monkeypatch.setattr(stress, "invariant_checks", breaks_on_two_lines)
    assert main(["check", str(SPEC9), "--examples", "50", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAILED after" in out and "stand-in invariant" in out
    failing = (tmp_path / "spec9.failing.jsonl").read_text().splitlines()
    assert len(failing) == 2  # shrunk to the smallest log that breaks it
    assert all(json.loads(line)["agreement"] == "spec9" for line in failing)
    assert main(["replay", str(SPEC9), str(tmp_path / "spec9.failing.jsonl")]) in (0, 1)


def test_bad_arguments_exit_two(tmp_path):
    assert main(["check", str(SPEC9), "--out", str(tmp_path / "missing")]) == 2
