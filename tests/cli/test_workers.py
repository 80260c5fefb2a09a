"""`backstop replay --workers N`: the same bytes as one process, whatever the log.

Each test replays one log with `--workers 1` and with more, and compares everything a user
sees: ledger, summary, `--rejected` file, standard output and exit status. `parallel.last_run`
says whether the parallel path really ran or fell back to one process, so each test also
checks that it exercised the path it means to.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from engine.replay import parallel
from engine.cli import main
from engine.testing import agreements_with_logs, bad_lines, write_agreement_folder

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
EXAMPLES = ROOT / "examples"

# Every test here starts worker processes.
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def route_in_parts(monkeypatch):
    """Route even these small logs in parts, one process each, as a long log is."""
    monkeypatch.setattr(parallel, "ROUTING_SPLIT_BYTES", 1)


def replay(contracts: Path, events: Path | str, out: Path, workers: int, *extra: str) -> dict:
    """Everything one replay shows: exit status, stdout, and the bytes of each output file."""
    out.mkdir(parents=True, exist_ok=True)
    arguments = ["replay", str(contracts), str(events), "--ledger", str(out / "ledger.jsonl"),
                 "--summary", str(out / "summary.json"), "--rejected", str(out / "rejected.jsonl"), *extra]
    if workers != 1:
        arguments += ["--workers", str(workers)]
    parallel.last_run.clear()
    stdout = io.StringIO()
    with redirect_stdout(stdout):
        status = main(arguments)
    seen = {"status": status, "stdout": stdout.getvalue()}
    for name in ("ledger.jsonl", "summary.json", "rejected.jsonl"):
        path = out / name
        seen[name] = path.read_bytes() if path.exists() else None
    seen["mode"] = parallel.last_run.get("mode")
    return seen


def assert_identical(contracts: Path, events: Path, tmp_path: Path, *extra: str, workers=(2, 3), mode="parallel") -> dict:
    one = replay(contracts, events, tmp_path / "one", 1, *extra)
    assert one.pop("mode") is None  # one worker: the ordinary path, untouched
    for count in workers:
        many = replay(contracts, events, tmp_path / f"many-{count}", count, *extra)
        assert many.pop("mode") == mode, parallel.last_run
        assert many == one
    return one


def with_lines(tmp_path: Path, lines: list[bytes], name: str = "events.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join(lines))
    return path


def example_lines(name: str = "all.jsonl") -> list[bytes]:
    return (EXAMPLES / name).read_bytes().splitlines(keepends=True)


# ---- the bundled examples --------------------------------------------------------------------


def test_the_bundled_examples_are_identical_with_two_and_three_workers(tmp_path):
    one = assert_identical(CONTRACTS, EXAMPLES / "all.jsonl", tmp_path)
    assert one["status"] == 0 and one["ledger.jsonl"]
    assert parallel.last_run["processes"] == 3


def test_a_short_log_is_routed_in_this_process(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "ROUTING_SPLIT_BYTES", 1 << 30)
    assert_identical(CONTRACTS, rejected_log(tmp_path), tmp_path, "--close-through", "2027-12-31", workers=(2,))


def test_the_log_is_split_at_line_ends(tmp_path):
    log = tmp_path / "log"
    log.write_bytes(b"ab\ncd\r\n\n" + b"x" * 100 + b"\nlast")
    size = log.stat().st_size
    for parts in range(1, 8):
        bounds = parallel._split(str(log), size, parts)
        assert bounds[0][0] == 0 and bounds[-1][1] == size and len(bounds) <= parts
        assert all(end == start for (_, end), (start, _) in zip(bounds, bounds[1:]))
        assert all(log.read_bytes()[end - 1:end] == b"\n" for _, end in bounds[:-1])


def test_close_through_appends_each_agreements_closes_in_id_order(tmp_path):
    events = with_lines(tmp_path, example_lines()[:2500])  # periods left open, with inputs
    one = assert_identical(CONTRACTS, events, tmp_path, "--close-through", "2027-12-31")
    closing = one["ledger.jsonl"][len(replay(CONTRACTS, events, tmp_path / "plain", 1)["ledger.jsonl"]):]
    agreements = [json.loads(line)["agreement"] for line in closing.splitlines()]
    assert agreements and agreements == sorted(agreements) and len(set(agreements)) > 1


def test_agreements_without_lines_are_summarized_and_closed(tmp_path):
    """Two of the four agreements have lines; the other two are still in the summary, in id order."""
    first, second = example_lines("gb300-monthly.jsonl"), example_lines("residual-quarterly.jsonl")
    mixed = [line for pair in zip(first, second) for line in pair] + first[len(second):] + second[len(first):]
    events = with_lines(tmp_path, mixed)
    one = assert_identical(CONTRACTS, events, tmp_path, "--close-through", "2026-06-30", workers=(2, 4))
    summary = json.loads(one["summary.json"])
    assert list(summary["agreements"]) == sorted(path.name for path in CONTRACTS.iterdir() if path.is_dir())
    assert summary["agreements"]["amended-h200"]["entries"] == 0  # no line of its own; closed, issuing nothing


# ---- rejected lines ---------------------------------------------------------------------------


def rejected_log(tmp_path: Path) -> Path:
    lines = example_lines()
    by_agreement: dict[str, list[bytes]] = {}
    for line in lines:
        by_agreement.setdefault(json.loads(line)["agreement"], []).append(line)
    residual = by_agreement["residual-quarterly"][3]
    conflicting = residual.replace(b'"sold_gpu_hours":"', b'"sold_gpu_hours":"1', 1)
    assert conflicting != residual
    early_h200 = by_agreement["amended-h200"][0]  # its period is locked by the end of the log
    bad = [
        b"{not json\n",
        b"[1, 2, 3]\n",
        b"\xff\xfe not utf-8\n",
        b'{"id":"nan-1","type":"close","agreement":"gb300-monthly","period":"2026-01","meta":{"x":NaN}}\n',
        b'{"id":"lost-1","type":"close","agreement":"no-such-agreement","period":"2026-01"}\n',
        b'{"id":"lost-1","type":"close","agreement":"no-such-agreement","period":"2026-02"}\r\n',
        b'{"id":"no-agreement","type":"close","period":"2026-01"}\n',
        b'{"id":"twice","id":"twice-2","type":"close","agreement":"gb300-monthly","period":"2026-01"}\n',
        b'{"id":"big","type":"close","agreement":"gb300-monthly","period":"2099-01","meta":{"n":1e400}}\n',
        b'{"id":"odd-1","type":"close","agreement":["gb300-monthly"],"period":"2026-01"}\n',
        b'{"id":"odd-2","type":"close","agreement":5,"period":"2026-01"}\n',
        b'{"id":7,"type":"close","agreement":"gb300-monthly","period":"2026-01"}\n',
        b'"just a string"\n',
        b"null\n",
        b"   \t \n",
        b"\n",
        residual,  # an exact re-send: a duplicate
        conflicting,  # the same id, other content
        early_h200,  # a re-send of a locked period's line
        early_h200.replace(b"2026-01-01T00:00:00Z", b"2026-01-01T00:00:01Z", 1).replace(b":2026-01-01", b":late", 1),
    ]
    rng = random.Random(7)
    mixed = list(lines)
    for line in bad[:16]:
        mixed.insert(rng.randrange(len(mixed)), line)
    mixed += bad[16:]
    mixed.append(b'{"id":"last-line-without-lf","type":"close","agreement":"nobody","period":"2026-01"}')
    return with_lines(tmp_path, mixed)


def test_rejected_lines_are_identical_in_order_and_bytes(tmp_path):
    one = assert_identical(CONTRACTS, rejected_log(tmp_path), tmp_path)
    assert one["status"] == 1
    reasons = [rejection["reason"] for rejection in json.loads(one["summary.json"])["rejected"]]
    codes = {rejection["code"] for rejection in json.loads(one["summary.json"])["rejected"]}
    assert codes == {"malformed", "repeated_key", "field", "unknown_agreement", "interval", "conflict", "locked"}
    assert any("unknown agreement" in reason for reason in reasons)
    assert any("with different content" in reason for reason in reasons)
    assert any("is locked" in reason for reason in reasons)
    assert any("not valid JSON" in reason for reason in reasons)
    assert json.loads(one["summary.json"])["duplicates"] >= 1
    assert one["rejected.jsonl"].count(b"\n") == len(reasons)


@pytest.mark.parametrize("tail", [b"\n \t\n\r\n   ", b"\r\n\n", b'{"id":"x","type":"close","agreement":"gb300-monthly"'])
def test_blank_lines_and_a_last_line_without_lf_keep_their_numbers(tmp_path, tail):
    lines = example_lines()
    events = with_lines(tmp_path, [b"\n", b"  \r\n", *lines[:1000], b"\n" * 5, *lines[1000:], tail])
    assert_identical(CONTRACTS, events, tmp_path, workers=(2, 3))


def test_references_to_another_agreements_events_are_judged_alike(tmp_path):
    """A correction or payment may name an id or entry of another agreement (not its own id):
    the worker holding only its own agreement must judge it as the single engine does."""
    lines = example_lines()
    residual = next(line for line in lines if b'"agreement":"residual-quarterly"' in line and b"utilization" in line)
    references = [
        {"id": "gb-corrects-residual", "type": "correction", "agreement": "gb300-monthly",
         "corrects": json.loads(residual)["id"], "void": True},
        {"id": "gb-pays-residual", "type": "payment", "agreement": "gb300-monthly", "payer": "HelixSilicon",
         "payee": "NimbusGPU", "amount": "1.00", "currency": "USD", "date": "2027-02-01",
         "applies_to": "residual-quarterly/2026-Q2/lease_back/alto-tx1"},
    ]
    events = with_lines(tmp_path, [*lines, *(json.dumps(item).encode() + b"\n" for item in references)])
    one = assert_identical(CONTRACTS, events, tmp_path, workers=(2,))
    reasons = [rejection["reason"] for rejection in json.loads(one["summary.json"])["rejected"]]
    assert any("no applied utilization or revenue event of this agreement" in reason for reason in reasons)


@pytest.mark.parametrize("source", ["-", "/dev/stdin"])
def test_standard_input_is_spooled_and_identical(tmp_path, source):
    """`-` and other paths that read only once (a pipe) are copied to a file first."""
    events = rejected_log(tmp_path)
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"stdin-{workers}"
        out.mkdir()
        result = subprocess.run(
            [sys.executable, "-m", "engine.cli", "replay", str(CONTRACTS), source, "--workers", str(workers),
             "--ledger", str(out / "l"), "--summary", str(out / "s"), "--rejected", str(out / "r")],
            input=events.read_bytes(), capture_output=True, cwd=ROOT,
        )
        runs[workers] = (result.returncode, result.stdout, *((out / name).read_bytes() for name in "lsr"))
    assert runs[1] == runs[2]
    assert runs[1][0] == 1 and runs[1][2]


def test_spawned_workers_give_the_same_bytes(tmp_path, monkeypatch):
    """Where fork is unavailable (or unsafe, macOS) workers are spawned: agreements travel pickled."""
    import multiprocessing

    monkeypatch.setattr(parallel, "_context", lambda: multiprocessing.get_context("spawn"))
    assert_identical(CONTRACTS, rejected_log(tmp_path), tmp_path, "--close-through", "2027-12-31", workers=(2,))


def test_a_failing_worker_falls_back_to_one_process(tmp_path, monkeypatch, capfd):
    def broken_worker(*args):
        raise MemoryError("a worker ran out of memory")

    monkeypatch.setattr(parallel, "_worker", broken_worker)
    assert_identical(CONTRACTS, EXAMPLES / "all.jsonl", tmp_path, workers=(2,), mode="fallback")
    assert parallel.last_run["reason"] == "a worker failed"
    assert "ran out of memory" in capfd.readouterr().err


# ---- falling back to one process ---------------------------------------------------------------


def test_an_id_used_by_two_agreements_falls_back_to_one_process(tmp_path):
    lines = example_lines()
    stolen = json.loads(lines[0])["id"]  # an amended-h200 id, sent again as a gb300-monthly close
    thief = json.dumps({"id": stolen, "type": "close", "agreement": "gb300-monthly", "period": "2026-01"}).encode()
    events = with_lines(tmp_path, [*lines[:50], thief + b"\n", *lines[50:]])
    one = assert_identical(CONTRACTS, events, tmp_path, workers=(2,), mode="fallback")
    assert "with different content" in one["stdout"]
    assert "more than one agreement" in parallel.last_run["reason"]


def test_an_id_of_an_unroutable_line_used_by_an_agreement_falls_back(tmp_path):
    lines = example_lines()
    stolen = json.loads(lines[0])["id"]
    stray = json.dumps({"id": stolen, "type": "close", "agreement": "nobody", "period": "2026-01"}).encode()
    events = with_lines(tmp_path, [*lines[:50], stray + b"\n", *lines[50:]])
    one = assert_identical(CONTRACTS, events, tmp_path, workers=(2,), mode="fallback")
    assert "with different content" in one["stdout"]  # judged against amended-h200's line, not as unknown


def test_an_over_long_line_falls_back_and_is_kept_whole(tmp_path):
    long_line = b'{"id":"long","type":"close","agreement":"gb300-monthly","period":"2026-01","meta":{"p":"' \
                + b"x" * (1 << 20) + b'"}}\n'
    lines = example_lines()
    events = with_lines(tmp_path, [*lines[:100], long_line, *lines[100:]])
    one = assert_identical(CONTRACTS, events, tmp_path, workers=(2,), mode="fallback")
    assert one["rejected.jsonl"] == long_line


def test_a_failing_routing_process_falls_back_to_one_process(tmp_path, monkeypatch):
    def broken_part(*args):
        raise OSError("disk full")

    monkeypatch.setattr(parallel, "_route_part_to_file", broken_part)
    assert_identical(CONTRACTS, EXAMPLES / "all.jsonl", tmp_path, workers=(2,), mode="fallback")
    assert parallel.last_run["reason"] == "a worker failed"


def test_one_agreement_with_lines_falls_back(tmp_path):
    assert_identical(CONTRACTS, EXAMPLES / "gb300-monthly.jsonl", tmp_path, workers=(2,), mode="fallback")


def test_failures_exit_two_and_leave_outputs_untouched(tmp_path, capsys):
    (tmp_path / "l").write_text("previous ledger\n")
    status = main(["replay", str(CONTRACTS), str(tmp_path / "missing.jsonl"), "--workers", "2",
                   "--ledger", str(tmp_path / "l"), "--summary", str(tmp_path / "s")])
    assert status == 2 and "cannot read events" in capsys.readouterr().err
    broken = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, broken)
    document = broken / "gb300-monthly" / "v1.yaml"
    document.write_text(document.read_text().replace("schema: backstop/v1", "schema: backstop/v9"))
    status = main(["replay", str(broken), str(EXAMPLES / "all.jsonl"), "--workers", "2",
                   "--ledger", str(tmp_path / "l"), "--summary", str(tmp_path / "s")])
    assert status == 2
    assert (tmp_path / "l").read_text() == "previous ledger\n" and not (tmp_path / "s").exists()
    assert not list(tmp_path.glob(".backstop-*"))
    with pytest.raises(SystemExit):
        main(["replay", str(CONTRACTS), str(EXAMPLES / "all.jsonl"), "--workers", "0"])


def test_agreements_are_balanced_by_line_count():
    assert parallel._balance([100, 0, 60, 50, 0], 2) == [[0, 1, 4], [2, 3]]
    assert parallel._balance([5, 5, 5], 8) == [[0], [1], [2]]


# ---- generated logs ------------------------------------------------------------------------------


@st.composite
def several_agreements(draw):
    """Two or three generated agreements with their own ids, interleaved, with bad lines and
    now and then an id that crosses agreements."""
    names = ["alpha", "beta", "gamma"][: draw(st.integers(2, 3), label="agreements")]
    documents, logs = [], []
    for name in names:
        docs, lines = draw(agreements_with_logs(agreement=name, versions=st.integers(1, 2),
                                                log_options={"id_prefix": f"{name}:", "max_lines": 25}), label=name)
        documents.append(docs)
        logs.append([line.encode("utf-8") for line in lines])
    sources = draw(st.permutations([index for index, lines in enumerate(logs) for _ in lines]), label="interleaving")
    queues = [list(lines) for lines in logs]
    merged = [queues[source].pop(0) for source in sources]
    for _ in range(draw(st.integers(0, 4), label="bad lines")):
        line = draw(bad_lines(agreement=draw(st.sampled_from([*names, "nobody"]))) | st.sampled_from([b"", b" \t"]))
        merged.insert(draw(st.integers(0, len(merged))), line)
    if draw(st.integers(0, 3), label="cross an id") == 0 and merged:
        donor = draw(st.sampled_from([line for line in merged if line.startswith(b"{")] or [b"{}"]))
        try:
            stolen = json.loads(donor).get("id")
        except (ValueError, RecursionError):  # a bad line may nest far too deep for json
            stolen = None
        if isinstance(stolen, str):
            other = draw(st.sampled_from([*names, "nobody"]))
            line = json.dumps({"id": stolen, "type": "true_up", "agreement": other, "date": "2030-01-01"}).encode()
            merged.insert(draw(st.integers(0, len(merged))), line)
    return documents, merged


@given(several_agreements(), st.sampled_from([None, "2026-12-31", "2031-01-01"]))
def test_generated_multi_agreement_logs_are_identical(case, close_through):
    documents, lines = case
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for docs in documents:
            write_agreement_folder(docs, work / "contracts")
        events = with_lines(work, [line + b"\n" for line in lines])
        extra = ("--close-through", close_through) if close_through else ()
        one = replay(work / "contracts", events, work / "one", 1, *extra)
        many = replay(work / "contracts", events, work / "many", 2, *extra)
        mode = many.pop("mode")
        assert mode in ("parallel", "fallback")
        reason = parallel.last_run.get("reason", "ids proven apart")
        event(f"{mode}: {'an id crosses agreements' if 'more than one agreement' in reason else reason}")
        one.pop("mode")
        assert many == one


def test_the_benchmark_compares_one_process_with_several(capsys):
    from benchmarks import bench

    assert bench.main(["--events", "8000", "--runs", "1", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "ledgers identical: yes" in out and "routing pass" in out
