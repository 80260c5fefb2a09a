"""Should anything unexpected go wrong while a line is applied, the command stops with exit
status 2 and one message naming the line, never a traceback, and no output file is created
or changed: in one process, with `--workers`, at `--close-through`, and in `verify`.

The fault is injected into the engine's reading of one line, chosen by its content, so that
every process that reads the line meets it, wherever it runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.replay import engine as engine_module
from engine.replay import parallel
from engine.replay.agreement import AgreementReplay

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
EXAMPLES = ROOT / "examples"
SPEC9 = ROOT / "tests" / "golden" / "spec9"


def fail_on_line_with(monkeypatch, marker: bytes) -> None:
    """Make the engine fail on any line holding `marker`, as a bug would."""
    parse = engine_module.parse_line

    def failing(number, raw):
        if marker in raw:
            raise ZeroDivisionError("injected fault")
        return parse(number, raw)

    monkeypatch.setattr(engine_module, "parse_line", failing)


def log_with_boom(tmp_path: Path, boom: dict, at: int) -> tuple[Path, int]:
    """examples/all.jsonl with the line `boom` inserted as line `at`."""
    lines = (EXAMPLES / "all.jsonl").read_bytes().splitlines(keepends=True)
    lines.insert(at - 1, json.dumps(boom).encode() + b"\n")
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(lines))
    return path, at


def outputs(tmp_path: Path) -> list[str]:
    return ["--ledger", str(tmp_path / "ledger.jsonl"), "--summary", str(tmp_path / "summary.json"),
            "--rejected", str(tmp_path / "rejected.jsonl")]


def assert_stopped_cleanly(capfd, tmp_path: Path, status: int, message: str) -> None:
    out, err = capfd.readouterr()
    assert status == 2
    assert err == f"backstop: {message}\n"  # one message, from every process together
    assert "Traceback" not in out
    assert (tmp_path / "ledger.jsonl").read_bytes() == b"the ledger of an earlier run\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["events.jsonl", "ledger.jsonl"]


def test_replay_stops_with_status_2_names_the_line_and_changes_no_output(monkeypatch, tmp_path, capfd):
    events, at = log_with_boom(tmp_path, {"id": "boom", "type": "close", "agreement": "gb300-monthly",
                                          "period": "2026-01"}, 40)
    (tmp_path / "ledger.jsonl").write_bytes(b"the ledger of an earlier run\n")
    fail_on_line_with(monkeypatch, b'"boom"')
    status = main(["replay", str(CONTRACTS), str(events), *outputs(tmp_path)])
    assert_stopped_cleanly(capfd, tmp_path, status,
                           f"internal error at line {at}: ZeroDivisionError: injected fault; please report it")


def test_a_failing_close_through_names_the_agreement_and_period(monkeypatch, tmp_path, capfd):
    events = tmp_path / "events.jsonl"
    events.write_bytes((SPEC9 / "events.jsonl").read_bytes())
    (tmp_path / "ledger.jsonl").write_bytes(b"the ledger of an earlier run\n")
    close = AgreementReplay.close

    def failing(replay, period, cause):
        if cause is None and period.id == "2026-04":  # after --close-through closed March
            raise ZeroDivisionError("injected fault")
        return close(replay, period, cause)

    monkeypatch.setattr(AgreementReplay, "close", failing)
    status = main(["replay", str(SPEC9 / "contracts"), str(events), "--close-through", "2026-05-01", *outputs(tmp_path)])
    assert_stopped_cleanly(capfd, tmp_path, status,
                           "internal error at the close of spec9 period 2026-04 (--close-through 2026-05-01): "
                           "ZeroDivisionError: injected fault; please report it")


def test_verify_stops_with_status_2_and_names_the_line(monkeypatch, tmp_path, capfd):
    ledger = tmp_path / "ledger.jsonl"
    assert main(["replay", str(SPEC9 / "contracts"), str(SPEC9 / "events.jsonl"), "--ledger", str(ledger)]) == 0
    capfd.readouterr()
    fail_on_line_with(monkeypatch, b'"close-feb"')
    status = main(["verify", str(SPEC9 / "contracts"), str(SPEC9 / "events.jsonl"), str(ledger)])
    out, err = capfd.readouterr()
    assert status == 2
    assert err == "backstop: internal error at line 5: ZeroDivisionError: injected fault; please report it\n"
    assert "Traceback" not in out + err


@pytest.mark.slow  # starts worker processes
@pytest.mark.parametrize("boom, reason", [
    ({"id": "boom", "type": "close", "agreement": "gb300-monthly", "period": "2026-01"}, "a worker failed"),
    ({"id": "boom", "type": "close", "agreement": "no-such-agreement", "period": "2026-01"}, "an internal error"),
], ids=["in-a-worker", "routed-nowhere"])
def test_workers_stop_as_one_process_does(monkeypatch, tmp_path, capfd, boom, reason):
    events, at = log_with_boom(tmp_path, boom, 40)
    (tmp_path / "ledger.jsonl").write_bytes(b"the ledger of an earlier run\n")
    fail_on_line_with(monkeypatch, b'"boom"')  # forked workers inherit it
    parallel.last_run.clear()
    status = main(["replay", str(CONTRACTS), str(events), *outputs(tmp_path), "--workers", "2"])
    assert parallel.last_run["mode"] == "fallback" and parallel.last_run["reason"] == reason  # one process names the line
    assert_stopped_cleanly(capfd, tmp_path, status,
                           f"internal error at line {at}: ZeroDivisionError: injected fault; please report it")


class InThisProcess:
    """An executor that runs the replay's jobs here, one after the other, and reports a job
    that raised as failed, as a Dask cluster does (`--scheduler`)."""

    workers = 2
    description = "this process"

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def sees(self, paths) -> bool:
        return True

    def run_jobs(self, jobs) -> bool:
        for _, function, arguments in jobs:
            try:
                function(*arguments)
            except Exception as error:  # noqa: BLE001 - a cluster reports any error of a task
                self.errors.append(error)
        return not self.errors

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def test_a_scheduler_whose_worker_fails_stops_as_one_process_does(monkeypatch, tmp_path, capfd):
    from engine.simulate import executors

    events, at = log_with_boom(tmp_path, {"id": "boom", "type": "close", "agreement": "gb300-monthly",
                                          "period": "2026-01"}, 40)
    (tmp_path / "ledger.jsonl").write_bytes(b"the ledger of an earlier run\n")
    fail_on_line_with(monkeypatch, b'"boom"')
    executor = InThisProcess()
    monkeypatch.setattr(executors, "executor_for", lambda address: executor)
    parallel.last_run.clear()
    status = main(["replay", str(CONTRACTS), str(events), *outputs(tmp_path), "--scheduler", "tcp://nowhere:1"])
    assert [type(error) for error in executor.errors] == [parallel.WorkerFailed]  # a plain exception, sent back whole
    assert parallel.last_run["mode"] == "fallback" and parallel.last_run["reason"] == "a worker failed"
    assert_stopped_cleanly(capfd, tmp_path, status,
                           f"internal error at line {at}: ZeroDivisionError: injected fault; please report it")
