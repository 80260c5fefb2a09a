"""`backstop simulate` as users run it: files, summary, progress, interruption, bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from engine.cli import EXIT_INTERRUPTED, main
from engine.cli import simulating
from engine.simulate import run as runs
from tests.simulate.support import CONTRACTS, ROOT, model_text

RESIDUAL = str(CONTRACTS / "residual-quarterly")


def test_a_run_writes_json_csv_and_plots_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["simulate", RESIDUAL, "--scenarios", "6", "--seed", "1", "--workers", "1", "--out", str(out),
                 "--log-scenario", "2"])
    assert code == 0
    document = json.loads((out / "simulation.json").read_text())
    assert document["simulation"]["seed"] == 1 and document["simulation"]["scenarios"] == 6
    assert document["simulation"]["model"]["demand"]["start"] == "0.60"
    report = document["agreements"]["residual-quarterly"]
    assert set(report["distributions"]["lease_back"]) == {"term", "years"}
    rows = list(csv.DictReader(io.StringIO((out / "distributions.csv").read_text())))
    assert {row["contract_year"] for row in rows} == {"1", "2", "3", "4", "5", "6", "term"}
    scenarios = list(csv.DictReader(io.StringIO((out / "scenarios.csv").read_text())))
    assert [row["scenario"] for row in scenarios] == ["0", "1", "2", "3", "4", "5"]
    for name in ("fan", "payout"):
        assert (out / f"residual-quarterly-{name}.png").read_bytes().startswith(b"\x89PNG")
        assert b"<svg" in (out / f"residual-quarterly-{name}.svg").read_bytes()
    printed = capsys.readouterr()
    assert "residual-quarterly (USD), over the term of 6 contract years" in printed.out
    assert "lease_back cap 6300000000.00: binds in" in printed.out
    assert printed.err == "" or "scenarios/s" in printed.err
    # The scenario's log replays to the figures reported for it.
    log = out / "scenario-2-residual-quarterly.jsonl"
    assert main(["replay", RESIDUAL, str(log), "--summary", str(tmp_path / "summary.json")]) == 0
    totals = json.loads((tmp_path / "summary.json").read_text())["agreements"]["residual-quarterly"]["totals"]
    assert totals["lease_back"] == scenarios[2]["lease_back"]
    capsys.readouterr()


def test_a_bad_model_file_exits_two_naming_file_line_and_field(tmp_path, capsys):
    bad = tmp_path / "model.yaml"
    bad.write_text(model_text(demand__target="1.5"))
    code = main(["simulate", RESIDUAL, "--scenarios", "2", "--seed", "1", "--model", str(bad), "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{bad}:10:11: demand.target: must be < 1; got 1.5" in err
    assert "1 problem(s) in the model file" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("scheduler, words", [
    ("local:zero", "expected local:N"),
    ("", "--scheduler needs an address"),
])
def test_a_bad_scheduler_address_exits_two(tmp_path, capsys, scheduler, words):
    code = main(["simulate", RESIDUAL, "--scenarios", "2", "--seed", "1", "--scheduler", scheduler,
                 "--out", str(tmp_path / "o")])
    assert code == 2
    assert words in capsys.readouterr().err


def test_an_interrupted_run_says_how_far_it_got_and_writes_nothing(tmp_path, capsys, monkeypatch):
    real = runs.run_chunk
    calls = []

    def interrupted_at_the_third_chunk(job):
        calls.append(job.start)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(runs, "run_chunk", interrupted_at_the_third_chunk)
    monkeypatch.setattr(runs, "CHUNK_MAX", 2)
    code = main(["simulate", RESIDUAL, "--scenarios", "10", "--seed", "1", "--workers", "1", "--out", str(tmp_path / "o")])
    assert code == EXIT_INTERRUPTED == 130
    err = capsys.readouterr().err
    assert "interrupted after 4 of 10 scenarios (40 %)" in err and "nothing was written" in err
    assert not (tmp_path / "o").exists()


def test_progress_shows_scenarios_rate_and_time_left_on_a_terminal(monkeypatch):
    stream = io.StringIO()
    stream.isatty = lambda: True
    monkeypatch.setattr(sys, "stderr", stream)
    progress = simulating.ScenarioProgress(1000)
    progress.update(250)
    progress.update(1000)
    progress.finish()
    text = stream.getvalue()
    assert "250 / 1,000 scenarios" in text and "/s" in text and " left" in text
    assert text.endswith("\r\033[K")


def test_progress_is_quiet_when_standard_error_is_no_terminal(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    progress = simulating.ScenarioProgress(10)
    progress.update(10)
    progress.finish()
    assert stream.getvalue() == ""


@pytest.mark.slow  # starts a Python process
def test_without_the_extra_the_message_names_the_install_command(tmp_path):
    program = ("import sys; sys.modules['numpy'] = None; from engine.cli import main; "
               f"sys.exit(main(['simulate', {RESIDUAL!r}, '--scenarios', '1', '--seed', '1']))")
    finished = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": ""}, timeout=120)
    assert finished.returncode == 2
    assert "needs numpy, which is not installed: pip install 'backstop[simulate]'" in finished.stderr
