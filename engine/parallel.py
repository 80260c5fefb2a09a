"""Parallel replay by agreement: `backstop replay ... --workers N`.

Agreements replay independently (SPEC §5: each has its own state and hash chain), so a log
of several agreements can be replayed by several processes, one group of agreements each,
and the results merged into exactly the bytes one process writes. What couples agreements is
the ids: an id in use is judged against every agreement's events (SPEC §7), so a line whose
id was applied in another agreement is a duplicate or a conflict there. Hence each worker process reads the whole log:

1. **Routing, in every worker.** Each line is routed to the agreement its `agreement` field
   names (orjson; the strict reader only for the rare line orjson cannot read). A worker
   replays the lines of its own agreements, with their numbers in the whole log, through
   `Engine.feed_numbered` of an engine of those agreements, and streams the lines that
   issued entries or were rejected to a temporary file, then its `--close-through` entries
   and summaries. Reading and routing every line costs each worker about a fifth of a
   replay; in exchange no pass runs before the workers start. The agreements are shared out
   by their lines in the log's first 4 MiB.
2. **The proof, by the first worker.** It also notes the ids of every agreement's lines and
   keeps the lines routed nowhere (not an object, no or an unknown agreement, bad JSON).
   When every worker is done, this process checks that **no id crosses agreements**: every
   id occurs only on lines of one agreement, or only on lines routed nowhere. Then no line's
   judgement can depend on a line of another agreement: the records of an id, the lock
   state they point to and a correction's target all stay in one agreement, and a line
   routed nowhere is never applied, so it changes nothing an agreement's line could see.
   Those lines are judged here, in log order, by an engine that holds every agreement but
   is fed only them, so that a reason names every agreement as the single engine's does.
3. **Merge.** The files are merged in line order (`heapq.merge`; all entries of one line
   come from one agreement), the close-through entries appended agreement by agreement in
   id order, as `Engine.close_through` does, and the summary built the way `Engine.summary`
   does.

**Fallback.** Whenever that proof cannot be made, the ordinary single-process replay runs
instead (`engine.cli.run_replay`), so the output is the same bytes in every case, only not
faster: when an id crosses agreements (or an id of a line routed nowhere is also used by an
agreement's line), when the log's first 4 MiB hold fewer than two agreements, when a line is over 1 MiB
(the single path writes such lines whole to `--rejected` as they stream by), and when a
worker fails. Standard input (`-`), like any events path that is not a regular file (a pipe,
`/dev/stdin`), cannot be read twice: it is first copied to a temporary file, which both
passes (or the fallback) then read.
"""

from __future__ import annotations

import argparse
import heapq
import io
import json
import multiprocessing
import os
import pickle
import stat
import sys
import tempfile
import time
from array import array
from contextlib import ExitStack
from operator import itemgetter
from typing import BinaryIO, Iterator

import orjson

from engine.documents.loader import load_agreements
from engine.events.reader import iter_lines, parse_line
from engine.replay import Engine

#: Lines longer than this (SPEC §4: 1 MiB without the line end) make the replay fall back.
LINE_BYTES_MAX = 1_048_576

#: What the last parallel replay did, for `engine.bench` and the curious: "mode" ("parallel"
#: or "fallback"), "reason" (of a fallback), and seconds spent in each stage.
last_run: dict = {}


def run_parallel_replay(args: argparse.Namespace) -> int:
    """`backstop replay` with `args.workers` > 1: the same outputs, stdout and exit status."""
    from engine import cli

    started = time.perf_counter()
    last_run.clear()
    agreements = load_agreements(args.contracts)
    with ExitStack() as stack:
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="backstop-workers-"))
        if args.events == "-":
            path, events, size = os.path.join(work, "events.jsonl"), None, None
        else:
            path = args.events
            events, size = cli._open_events(path, stack)  # the same check and message as one process
            if not stat.S_ISREG(os.fstat(events.fileno()).st_mode):  # a pipe or device reads once, like stdin
                path, events, size = os.path.join(work, "events.jsonl"), events, None
        with ExitStack() as output_stack:
            outputs = cli.Outputs(output_stack)
            ledger = outputs.open(args.ledger)
            summary_file = outputs.open(args.summary)
            rejected = outputs.open(args.rejected)
            try:
                if size is None:
                    events, size = _spool(events or sys.stdin.buffer, path, stack)
                plan = _plan(path, size, agreements, args.workers, work)
                if plan.fallback is None:
                    results = _run_workers(plan, path, agreements, work, args, ledger is not None, rejected is not None)
                    if results is None:
                        plan.fallback = "a worker failed"
                    else:
                        _prove_and_judge_strays(plan, results)
                if plan.fallback is None:
                    merging = time.perf_counter()
                    summary = _merge(plan, results, ledger, rejected)
                    if summary_file is not None:
                        summary_file.write((json.dumps(summary, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
                    for handle in (ledger, summary_file, rejected):
                        if handle is not None:
                            handle.flush()
                    last_run["merge"] = time.perf_counter() - merging
            except OSError as error:
                raise cli.UsageFailure(f"replay failed: {error}") from None
            if plan.fallback is None:
                outputs.commit()
        if plan.fallback is not None:
            # Nothing was written: the outputs above are discarded, the ordinary replay writes its own.
            last_run.update(mode="fallback", reason=plan.fallback)
            _note(f"--workers {args.workers}: replaying in one process ({plan.fallback})")
            return cli.run_replay(argparse.Namespace(**{**vars(args), "events": path, "workers": 1}))
    last_run.update(mode="parallel", total=time.perf_counter() - started)
    print(cli.render_summary(summary))
    return cli.EXIT_REJECTED if summary["rejected"] else cli.EXIT_OK


def _note(message: str) -> None:
    if sys.stderr.isatty():  # like progress: for a person watching, not for scripts
        print(f"backstop: {message}", file=sys.stderr)


def _spool(source: BinaryIO, path: str, stack: ExitStack) -> tuple[BinaryIO, int]:
    """Copy standard input to `path` (it is read twice); returns the copy opened for reading."""
    with open(path, "wb") as spool:
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                break
            spool.write(chunk)
    stream = stack.enter_context(open(path, "rb"))
    return stream, os.fstat(stream.fileno()).st_size


# ---- pass 1: routing and the proof that no id crosses agreements ---------------------------

#: The log's first bytes, read to see which agreements it holds and in what shares.
SAMPLE_BYTES = 4 << 20


class _Plan:
    """How the log is shared out: groups of agreement indices, one per worker process."""

    def __init__(self, limit: int, parent: Engine, parent_records: str, index_of: dict[str, int]):
        self.limit = limit  # the log's length at the start: every process reads exactly these bytes
        self.parent = parent  # the engine that judges the lines routed nowhere
        self.parent_records = parent_records
        self.index_of = index_of  # agreement id -> index; len(index_of) stands for "routed nowhere"
        self.groups: list[list[int]] = []
        self.fallback: str | None = None


class _LongLineSeen:
    """The `LongLines` receiver of a worker's pass: notes that an over-long line went by."""

    def __init__(self) -> None:
        self.seen = False

    def write(self, number: int, piece: bytes) -> None:
        pass

    def end(self, number: int, blank: bool) -> None:
        self.seen = self.seen or not blank


def _plan(path: str, size: int, agreements, workers: int, work: str) -> _Plan:
    """Share the agreements out by their lines in the log's first `SAMPLE_BYTES`; a log whose
    sample holds fewer than two agreements is replayed in one process."""
    index_of = {agreement.id: index for index, agreement in enumerate(agreements)}
    nowhere = len(index_of)
    plan = _Plan(size, Engine(agreements), os.path.join(work, "routed-nowhere.records"), index_of)
    counts = [0] * (nowhere + 1)
    with _open_range(path, 0, min(size, SAMPLE_BYTES)) as sample:
        for number, raw in iter_lines(sample):
            counts[_route_line(raw, number, index_of, nowhere)[0]] += 1
    if sum(1 for count in counts[:nowhere] if count) < 2:
        plan.fallback = "fewer than two agreements have lines"
        return plan
    plan.groups = _balance(counts[:nowhere], workers)
    return plan


def _route_line(raw: bytes, number: int, index_of: dict[str, int], nowhere: int) -> tuple[int, object]:
    """(agreement index or `nowhere`, id) of a line, as the engine will read them."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        obj = None
    try:
        # orjson and the strict reader agree on an object's members unless a key is repeated;
        # then the strict reader reads no id at all, and counting orjson's is safe.
        return index_of.get(obj["agreement"], nowhere), obj.get("id")  # not a string: no agreement's
    except (TypeError, KeyError):  # not an object, no agreement, or an unhashable one
        if type(obj) is dict:
            return nowhere, obj.get("id")
        parsed = parse_line(number, raw)  # rare: exactly what the engine will read
        owner = index_of.get(parsed.event.agreement, nowhere) if parsed.event is not None else nowhere
        return owner, parsed.id


def _prove_and_judge_strays(plan: _Plan, results) -> None:
    """Check the first worker's findings: no over-long line, no id in two agreements (or in an
    agreement and a line routed nowhere); then judge the lines routed nowhere, in log order."""
    for _, done in results:
        if done["fallback"] is not None:
            plan.fallback = done["fallback"]
            return
    prover = results[0][1]
    seen: set[int] = set()
    for ids_of_owner in prover["owned"]:
        if not seen.isdisjoint(ids_of_owner):
            plan.fallback = "an id is used in more than one agreement (or by a line of none)"
            return
        seen.update(ids_of_owner)
    with open(plan.parent_records, "wb") as records:
        for number, raw in _read_records(prover["strays"]):
            _write_outcome(records, plan.parent.feed_line(raw, number), True, True)


def _run(processes) -> bool:
    """Start the processes and wait for them all; True if every one succeeded."""
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join()
    except OSError:
        return False
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join()
    return all(process.exitcode == 0 for process in processes)


def _balance(counts: list[int], workers: int) -> list[list[int]]:
    """Agreement indices in at most `workers` groups of about equal line counts (largest first)."""
    busy = sum(1 for count in counts if count)
    loads = [0] * min(workers, busy)
    groups: list[list[int]] = [[] for _ in loads]
    for index in sorted(range(len(counts)), key=lambda i: (-counts[i], i)):
        lightest = loads.index(min(loads))
        groups[lightest].append(index)
        loads[lightest] += counts[index]
    return [sorted(group) for group in groups]


def _write_outcome(records: BinaryIO, outcome, want_entries: bool, want_raw: bool) -> None:
    """One record (line, entry bytes, rejection) for a line that issued entries or was rejected."""
    rejected = outcome.status == "rejected"
    if not (rejected or (want_entries and outcome.entries)):
        return
    data = b"".join(entry.line for entry in outcome.entries) if want_entries else b""
    rejection = (outcome.id, outcome.reason, outcome.raw if want_raw else None) if rejected else None
    pickle.dump((outcome.line, data, rejection), records, pickle.HIGHEST_PROTOCOL)


def _read_records(path: str) -> Iterator[tuple]:
    with open(path, "rb") as records:
        load = pickle.Unpickler(records).load
        while True:
            try:
                yield load()
            except EOFError:
                return


# ---- pass 2: one process per group of agreements -------------------------------------------


def _open_range(path: str, start: int, end: int) -> BinaryIO:
    raw = open(path, "rb", buffering=0)
    raw.seek(start)
    return io.BufferedReader(_Bounded(raw, end - start), 1 << 20)


class _Bounded(io.RawIOBase):
    """The first `limit` bytes of a file: what the routing pass read, even if the file grew."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw = raw
        self.left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            return 0
        view = memoryview(buffer)
        count = self.raw.readinto(view[: min(len(view), self.left)]) or 0
        self.left -= count
        return count

    def close(self) -> None:
        self.raw.close()
        super().close()


def _worker(path: str, limit: int, agreements, mine: bytes, index_of: dict[str, int], prover: bool,
            strays_path: str, records_path: str, done_path: str, want_entries: bool, want_raw: bool,
            close_through) -> None:
    """Read the whole log, replay the lines of this group's agreements with their numbers in the
    log, and write their records, then the done file. The prover (the first worker) also notes
    the ids of every agreement's lines and keeps the lines routed nowhere."""
    started, cpu = time.perf_counter(), time.process_time()
    engine = Engine(agreements)
    nowhere = len(index_of)
    owned = [array("q") for _ in range(nowhere + 1)]  # hashes; a collision can only cause a fallback
    own = [ids.append for ids in owned]
    long_lines = _LongLineSeen()
    fallback = None

    def own_lines(stream: BinaryIO, strays: BinaryIO | None) -> Iterator[tuple[int, bytes]]:
        nonlocal fallback
        for number, raw in iter_lines(stream, long_lines):
            if len(raw) > LINE_BYTES_MAX:  # it is cut just past the limit
                fallback = "a line is longer than 1 MiB"
                return
            owner, identifier = _route_line(raw, number, index_of, nowhere)
            if strays is not None:
                if type(identifier) is str:
                    own[owner](hash(identifier))
                if owner == nowhere:
                    pickle.dump((number, raw), strays, pickle.HIGHEST_PROTOCOL)
            if mine[owner]:
                yield number, raw

    with ExitStack() as files:
        stream = files.enter_context(_open_range(path, 0, limit))
        records = files.enter_context(open(records_path, "wb"))
        strays = files.enter_context(open(strays_path, "wb")) if prover else None
        for outcome in engine.feed_numbered(own_lines(stream, strays)):
            _write_outcome(records, outcome, want_entries, want_raw)
    if long_lines.seen:
        fallback = "a line is longer than 1 MiB"
    closing: dict[str, list[bytes]] = {}
    if close_through is not None:
        for entry in engine.close_through(close_through):
            closing.setdefault(entry.agreement, []).append(entry.line)
    summary = engine.summary()
    done = {
        "fallback": fallback, "owned": owned if prover else None, "strays": strays_path if prover else None,
        "lines": summary["lines"], "applied": summary["applied"], "duplicates": summary["duplicates"],
        "agreements": summary["agreements"],
        "closing": {agreement: b"".join(lines) for agreement, lines in closing.items()},
        "seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
    }
    with open(done_path + ".part", "wb") as handle:
        pickle.dump(done, handle, pickle.HIGHEST_PROTOCOL)
    os.replace(done_path + ".part", done_path)


def _context():
    methods = multiprocessing.get_all_start_methods()
    # fork starts at once and shares the loaded agreements and the route; it is unsafe on macOS.
    return multiprocessing.get_context("fork" if "fork" in methods and sys.platform != "darwin" else "spawn")


def _run_workers(plan: _Plan, path: str, agreements, work: str, args, want_entries: bool, want_raw: bool):
    """Run one process per group; returns [(records path, done dict)] or None if one failed."""
    started = time.perf_counter()
    context = _context()
    processes, files = [], []
    for number, group in enumerate(plan.groups):
        mine = bytearray(len(agreements) + 1)
        for index in group:
            mine[index] = 1
        records, done = os.path.join(work, f"worker-{number}.records"), os.path.join(work, f"worker-{number}.done")
        strays = os.path.join(work, "routed-nowhere.lines")
        processes.append(context.Process(
            target=_worker, name=f"backstop-worker-{number}", daemon=True,
            args=(path, plan.limit, [agreements[index] for index in group], bytes(mine), plan.index_of,
                  number == 0, strays, records, done, want_entries, want_raw, args.close_through),
        ))
        files.append((records, done))
    succeeded = _run(processes)
    last_run["workers_wall"] = time.perf_counter() - started
    if not succeeded:
        return None
    results = []
    for records, done in files:
        with open(done, "rb") as handle:
            results.append((records, pickle.load(handle)))
    last_run["workers"] = [round(result["seconds"], 3) for _, result in results]
    last_run["workers_cpu"] = [round(result["cpu"], 3) for _, result in results]
    last_run["processes"] = len(processes)
    return results


# ---- merging ------------------------------------------------------------------------------


def _merge(plan: _Plan, results, ledger: BinaryIO | None, rejected: BinaryIO | None) -> dict:
    """Write the ledger and rejected lines in line order; return the summary `Engine.summary` would."""
    streams = [_read_records(records) for records, _ in results] + [_read_records(plan.parent_records)]
    rejections = []
    for number, data, rejection in heapq.merge(*streams, key=itemgetter(0)):
        if data and ledger is not None:
            ledger.write(data)
        if rejection is not None:
            identifier, reason, raw = rejection
            rejections.append({"line": number, "id": identifier, "reason": reason})
            if rejected is not None:
                rejected.write(raw + b"\n")
    summary = plan.parent.summary()  # every agreement, in id order, and the engine's other keys
    done = [result for _, result in results]
    if ledger is not None:
        closing = {}
        for result in done:
            closing.update(result["closing"])
        for agreement_id in summary["agreements"]:  # Engine.close_through: agreement by agreement, in id order
            ledger.write(closing.get(agreement_id, b""))
    per_agreement = {}
    for result in done:
        per_agreement.update(result["agreements"])
    summary["lines"] += sum(result["lines"] for result in done)
    summary["applied"] += sum(result["applied"] for result in done)
    summary["duplicates"] += sum(result["duplicates"] for result in done)
    summary["rejected"] = rejections
    summary["agreements"] = {agreement_id: per_agreement[agreement_id] for agreement_id in summary["agreements"]}
    return summary
