"""Parallel replay by agreement: `backstop replay ... --workers N`.

Agreements replay independently (SPEC §5: each has its own state and hash chain), so a log
of several agreements can be replayed by several processes, one group of agreements each,
and the results merged into exactly the bytes one process writes. What couples agreements is
the ids: an id in use is judged against every agreement's events (SPEC §7), so a line whose
id was applied in another agreement is a duplicate or a conflict there. Hence two passes:

1. **Routing.** Read the log once, cheaply (the compiled lane's `route` for a line written
   plainly, orjson for other lines, the strict reader only for the rare line orjson cannot
   read), and route each non-blank line to the agreement its `agreement` field names,
   noting the (hashed) ids of each agreement's lines. Then prove that **no id crosses
   agreements**: every id (of any line, routed or not) occurs only on lines of one agreement,
   or only on lines routed nowhere. Then no line's judgement can depend on a line of another
   agreement: the records of an id, the lock state they point to and a correction's target
   all stay in one agreement, and a line routed nowhere (not an object, no or an unknown
   agreement, bad JSON) is never applied, so it changes nothing an agreement's line could
   see. Those lines are judged in this process, in log order, by an engine that holds every
   agreement but is fed only them, so that a reason names every agreement as the single
   engine's does. A long log is routed in parts, one process per byte range (the routing
   is the part that does not otherwise run in parallel); this needs fork, for `hash` of an
   id to be the same in every process. The proof is `ids_apart`, compiled where it is built.
2. **Replay (one process per group).** Each worker re-reads the log itself (the bytes the
   routing pass read), picks its agreements' lines by a byte mask of the routing
   (`iter_lines(..., keep=...)`), and feeds them, with their numbers in the log, to
   `Engine.feed_numbered` of an engine of those agreements. It streams the lines that
   issued entries or were rejected to a temporary file, then its `--close-through` entries
   and summaries. This
   process merges the files in line order (`heapq.merge`; all entries of one line come from one
   agreement), appends the close-through entries agreement by agreement in id order, as
   `Engine.close_through` does, and builds the summary the way `Engine.summary` does.

**Fallback.** Whenever that proof cannot be made, the ordinary single-process replay runs
instead (the caller's, told by `replay_in_parallel`), so the output is the same bytes in every case, only not
faster: when an id crosses agreements (or an id of a line routed nowhere is also used by an
agreement's line), when fewer than two agreements have lines, when a line is over 1 MiB
(the single path writes such lines whole to `--rejected` as they stream by), and when a
worker fails. A worker (or the routing engine) that meets an internal error fails quietly
(`WorkerFailed`), so that the replay in one process stops at the first line of the log where
it happens, as it always would. Standard input (`-`), like any events path that is not a regular file (a
pipe, `/dev/stdin`), cannot be read twice: it is first copied to a temporary file, which
both passes (or the fallback) then read.
"""

from __future__ import annotations

import heapq
import io
import multiprocessing
import os
import pickle
import sys
import time
from array import array
from collections import Counter
from datetime import date
from operator import itemgetter
from typing import BinaryIO, Callable, Iterator

import orjson

from engine.events.reader import iter_lines, parse_line
from engine.replay.lane import COMPILED
from engine.replay.engine import Engine, InternalError

#: Lines longer than this (SPEC §4: 1 MiB without the line end) make the replay fall back.
LINE_BYTES_MAX = 1_048_576

#: The exit status of a worker process that met an `InternalError` (it prints nothing).
WORKER_INTERNAL_ERROR = 3


class WorkerFailed(Exception):
    """A worker met an `InternalError`: the replay falls back to one process, which names the
    line. A plain exception, so that a cluster can send it back whatever the original was."""

#: What the last parallel replay did, for `benchmarks.bench` and the curious: "mode" ("parallel"
#: or "fallback"), "reason" (of a fallback), and seconds spent in each stage.
last_run: dict = {}


def replay_in_parallel(
    path: str, size: int, agreements, workers: int, work: str, close_through: date | None,
    ledger: BinaryIO | None, rejected: BinaryIO | None, run_jobs: Callable[[list], bool] | None = None,
) -> tuple[dict | None, str | None]:
    """Replay the first `size` bytes of the log at `path` by agreement in up to `workers`
    processes, with scratch files in the folder `work`.

    Returns (summary, None) after writing the ledger and the rejected lines in exactly the
    bytes one process writes; or (None, reason), having written nothing, when the ordinary
    replay must run instead (see the module's docstring). `run_jobs` runs the replay's
    workers, given as (name, function, arguments), and says whether all succeeded; by default
    `run_in_processes`, one local process each (a Dask cluster's, from `engine.simulate`, is
    another: the workers then run wherever the cluster puts them, and must see `path` and `work`).
    """
    routing = time.perf_counter()
    plan = _route(path, size, agreements, workers, work)
    last_run["pass1"] = time.perf_counter() - routing
    if plan.fallback is not None:
        return None, plan.fallback
    results = _run_workers(plan, path, agreements, work, close_through, ledger is not None, rejected is not None,
                           run_jobs or run_in_processes)
    if results is None:
        return None, "a worker failed"
    merging = time.perf_counter()
    summary = _merge(plan, results, ledger, rejected)
    last_run["merge"] = time.perf_counter() - merging
    return summary, None


# ---- pass 1: routing and the proof that no id crosses agreements ---------------------------

#: A log at least this long is routed in parts, one process each (with fork, where `hash` of an
#: id is the same in every process); a shorter one in this process.
ROUTING_SPLIT_BYTES = 4 << 20


class _Plan:
    """What the routing pass found: each non-blank line's agreement, in log order."""

    def __init__(self, limit: int, parent: Engine, parent_records: str):
        self.route = array("B")  # per physical line: the agreement's index, or len(agreements): blank or none
        self.counts: list[int] = []  # lines per agreement index (the last: routed nowhere)
        self.limit = limit  # the log's length when the pass began: every process reads exactly these bytes
        self.parent = parent  # the engine that judges the lines routed nowhere
        self.parent_records = parent_records
        self.groups: list[list[int]] = []
        self.fallback: str | None = None


class _LongLineSeen:
    """The `LongLines` receiver of the routing pass: notes that an over-long line went by."""

    def __init__(self) -> None:
        self.seen = False

    def write(self, number: int, piece: bytes) -> None:
        pass

    def end(self, number: int, blank: bool) -> None:
        self.seen = self.seen or not blank


def _route(path: str, size: int, agreements, workers: int, work: str) -> _Plan:
    ids = [agreement.id for agreement in agreements]
    index_of = {agreement_id: index for index, agreement_id in enumerate(ids)}
    nowhere = len(ids)
    plan = _Plan(size, Engine(agreements), os.path.join(work, "routed-nowhere.records"))
    context = _context()
    split = size >= ROUTING_SPLIT_BYTES and context.get_start_method() == "fork"
    parts = _split(path, size, workers if split else 1)
    if len(parts) == 1:
        results = [_route_part(path, *parts[0], index_of, os.path.join(work, "part-0.strays"))]
    else:
        results = _route_in_processes(context, path, parts, index_of, work)
        if results is None:
            plan.fallback = "a worker failed"
            return plan
    for result in results:
        if result["fallback"] is not None:
            plan.fallback = result["fallback"]
            return plan
    # The proof: the ids of each agreement's lines (and of the lines routed nowhere) are apart.
    owned = [array("q") for _ in range(nowhere + 1)]
    for result in results:
        for ids_of_owner, part in zip(owned, result.pop("owned")):
            ids_of_owner.extend(part)
    if not ids_apart(owned):
        plan.fallback = "an id is used in more than one agreement (or by a line of none)"
        return plan
    del owned
    route = plan.route = array("B" if nowhere < 255 else "I")
    for result in results:
        route.extend(result.pop("route"))
    lines_of = Counter(route)
    plan.counts = counts = [lines_of[index] for index in range(nowhere + 1)]
    if sum(1 for count in counts[:nowhere] if count) < 2:
        plan.fallback = "fewer than two agreements have lines"
        return plan
    plan.groups = _balance(counts[:nowhere], workers)
    # The lines routed nowhere, judged here in log order with their numbers in the whole log.
    offset = 0
    with open(plan.parent_records, "wb") as records:
        for result in results:
            for number, raw in _read_records(result["strays"]):
                try:
                    outcome = plan.parent.feed_line(raw, offset + number)
                except InternalError:
                    plan.fallback = "an internal error"  # one process meets it too, at the first such line of the log
                    return plan
                _write_outcome(records, outcome, True, True)
            offset += result["newlines"]
    return plan


def ids_apart_reference(owned: list[array]) -> bool:
    """True when no hashed id occurs in two of the arrays (one per owner); `ids_apart` is
    this, compiled where the compiled lane is built."""
    seen: set[int] = set()
    for ids_of_owner in owned:
        ids = set(ids_of_owner)
        if not seen.isdisjoint(ids):
            return False
        seen |= ids
    return True


ids_apart = COMPILED.ids_apart if COMPILED is not None else ids_apart_reference


def _split(path: str, size: int, parts: int) -> list[tuple[int, int]]:
    """About `parts` byte ranges [start, end) of the log, each ending just after a line end."""
    bounds = [0]
    with open(path, "rb") as log:
        for number in range(1, parts):
            position = max(size * number // parts, bounds[-1])
            log.seek(position)
            while position < size:
                block = log.read(min(1 << 16, size - position))
                if not block:
                    position = size
                    break
                found = block.find(b"\n")
                if found >= 0:
                    position += found + 1
                    break
                position += len(block)
            if position >= size:
                break
            bounds.append(position)
    bounds.append(size)
    return list(zip(bounds, bounds[1:]))


def _open_range(path: str, start: int, end: int) -> BinaryIO:
    raw = open(path, "rb", buffering=0)
    raw.seek(start)
    return io.BufferedReader(_Bounded(raw, end - start), 1 << 16)


def _route_part(path: str, start: int, end: int, index_of: dict[str, int], strays_path: str) -> dict:
    """Route the lines of bytes [start, end) of the log (numbered from 1 there).

    Returns the route (an agreement index per physical line; `nowhere` for a blank line or one
    of no agreement), the hashed ids of each agreement's lines and the number of line ends,
    and writes the lines routed nowhere to `strays_path`; or the reason to fall back.
    """
    newlines, last = 0, b""
    with open(path, "rb") as log:
        log.seek(start)
        left = end - start
        while left > 0:
            block = log.read(min(1 << 20, left))
            if not block:
                break
            newlines += block.count(b"\n")
            left -= len(block)
            last = block[-1:]
    lines = newlines + (1 if last not in (b"", b"\n") else 0)  # the last line may lack LF
    nowhere = len(index_of)
    route = array("B" if nowhere < 255 else "I", [nowhere]) * (lines + 1)  # by line number: [0] is unused
    owned = [array("q") for _ in range(nowhere + 1)]  # hashes; a collision can only cause a fallback
    own = [ids.append for ids in owned]
    long_lines = _LongLineSeen()
    loads, decode_error, owner_of = orjson.loads, orjson.JSONDecodeError, index_of.get
    route_of = COMPILED.route if COMPILED is not None else None
    with _open_range(path, start, end) as stream, open(strays_path, "wb") as strays:
        for number, raw in iter_lines(stream, long_lines):
            if len(raw) > LINE_BYTES_MAX:  # it is cut just past the limit
                return {"fallback": "a line is longer than 1 MiB"}
            plainly = route_of(raw) if route_of is not None else None
            if plainly is not None:  # a flat line of strings: what orjson would read, faster
                agreement, identifier = plainly
                owner = owner_of(agreement, nowhere)
            else:
                owner, identifier = _owner_and_id(loads, decode_error, owner_of, nowhere, number, raw)
            if type(identifier) is str:
                own[owner](hash(identifier))
            route[number] = owner
            if owner == nowhere:
                pickle.dump((number, raw), strays, pickle.HIGHEST_PROTOCOL)
    if long_lines.seen:
        return {"fallback": "a line is longer than 1 MiB"}
    return {"fallback": None, "route": route[1:], "owned": owned, "strays": strays_path, "newlines": newlines}


def _owner_and_id(loads, decode_error, owner_of, nowhere: int, number: int, raw: bytes) -> tuple[int, object]:
    """The agreement index and the id of a line, read with orjson (the strict reader when rare)."""
    try:
        obj = loads(raw)
    except decode_error:
        obj = None
    try:
        # orjson and the strict reader agree on an object's members unless a key is
        # repeated; then the strict reader reads no id at all, and counting orjson's is safe.
        return owner_of(obj["agreement"], nowhere), obj.get("id")  # not a string: no agreement's
    except (TypeError, KeyError):  # not an object, no agreement, or an unhashable one
        if type(obj) is dict:
            return nowhere, obj.get("id")
        parsed = parse_line(number, raw)  # rare: exactly what the engine will read
        return (owner_of(parsed.event.agreement, nowhere) if parsed.event is not None else nowhere), parsed.id


def _route_part_to_file(path: str, start: int, end: int, index_of: dict[str, int], strays: str, out: str) -> None:
    result = _route_part(path, start, end, index_of, strays)
    with open(out + ".part", "wb") as handle:
        pickle.dump(result, handle, pickle.HIGHEST_PROTOCOL)
    os.replace(out + ".part", out)


def _route_in_processes(context, path: str, parts, index_of: dict[str, int], work: str) -> list[dict] | None:
    outs = [os.path.join(work, f"part-{number}.routed") for number in range(len(parts))]
    processes = [
        context.Process(target=_route_part_to_file, name=f"backstop-routing-{number}", daemon=True,
                        args=(path, start, end, index_of, os.path.join(work, f"part-{number}.strays"), out))
        for number, ((start, end), out) in enumerate(zip(parts, outs))
    ]
    if not _run(processes):
        return None
    results = []
    for out in outs:
        with open(out, "rb") as handle:
            results.append(pickle.load(handle))
    return results


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
    rejection = (outcome.id, outcome.reason, str(outcome.code), outcome.raw if want_raw else None) if rejected else None
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


def _worker(path: str, limit: int, agreements, mine: bytes, route: array, records_path: str, done_path: str,
            want_entries: bool, want_raw: bool, close_through) -> None:
    """Replay this group's lines with their numbers in the log; write their records, then the done file."""
    started, cpu = time.perf_counter(), time.process_time()
    engine = Engine(agreements)

    # A byte per physical line of these bytes, not zero for this worker's lines (a line past
    # its end, in a log rewritten meanwhile, raises IndexError: the worker fails and one
    # process replays).
    if route.typecode == "B":
        keep = route.tobytes().translate(mine.ljust(256, b"\0"))
    else:
        keep = bytes(mine[owner] for owner in route)
    closing: dict[str, list[bytes]] = {}
    try:
        with _open_range(path, 0, limit) as stream, open(records_path, "wb") as records:
            for outcome in engine.feed_numbered(iter_lines(stream, keep=keep)):  # only the lines that issued entries or were rejected
                _write_outcome(records, outcome, want_entries, want_raw)
        if close_through is not None:
            for entry in engine.close_through(close_through):
                closing.setdefault(entry.agreement, []).append(entry.line)
    except InternalError as error:
        # The worker fails; the replay in one process meets the error too and names the first
        # line of the whole log where it happens.
        raise WorkerFailed(str(error)) from None
    summary = engine.summary()
    done = {
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


def run_in_processes(jobs: list[tuple[str, Callable, tuple]]) -> bool:
    """Run each (name, function, arguments) job in a process of its own; True if all succeeded."""
    context = _context()
    return _run([context.Process(target=_quietly, name=name, daemon=True, args=(function, *arguments))
                 for name, function, arguments in jobs])


def _quietly(function: Callable, *arguments) -> None:
    """Run a job in its process; a worker that failed exits with its status, printing nothing."""
    try:
        function(*arguments)
    except WorkerFailed:
        sys.exit(WORKER_INTERNAL_ERROR)


def _run_workers(plan: _Plan, path: str, agreements, work: str, close_through: date | None, want_entries: bool,
                 want_raw: bool, run_jobs: Callable[[list], bool]):
    """Run one worker per group; returns [(records path, done dict)] or None if one failed."""
    started = time.perf_counter()
    jobs, files = [], []
    for number, group in enumerate(plan.groups):
        mine = bytearray(len(agreements) + 1)
        for index in group:
            mine[index] = 1
        records, done = os.path.join(work, f"worker-{number}.records"), os.path.join(work, f"worker-{number}.done")
        jobs.append((f"backstop-worker-{number}", _worker,
                     (path, plan.limit, [agreements[index] for index in group], bytes(mine), plan.route,
                      records, done, want_entries, want_raw, close_through)))
        files.append((records, done))
    succeeded = run_jobs(jobs)
    last_run["workers_wall"] = time.perf_counter() - started
    if not succeeded:
        return None
    results = []
    for records, done in files:
        with open(done, "rb") as handle:
            results.append((records, pickle.load(handle)))
    last_run["workers"] = [round(result["seconds"], 3) for _, result in results]
    last_run["workers_cpu"] = [round(result["cpu"], 3) for _, result in results]
    last_run["processes"] = len(jobs)
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
            identifier, reason, code, raw = rejection
            rejections.append({"line": number, "id": identifier, "reason": reason, "code": code})
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
