"""Every promise of a durable store, written once and run against each backend.

A backend's test module subclasses `StoreSuite` and gives `new_store`: a factory of context
managers, each yielding the URL of a new, empty store and removing it afterwards (the
pattern of the eventsourcing library's recorder tests).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import time
import zlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.replay import snapshot
from engine.stores import base
from engine.stores import (
    SCHEMA_VERSION,
    DocumentsChanged,
    LedgerWouldChange,
    SourceChanged,
    Store,
    StoreBusy,
    StoreError,
)
from engine.testing import agreements_with_logs, bad_lines, write_agreement_folder

from tests.stores.support import CONTRACTS, EXAMPLES, Outputs, concatenation, exported, replayed, replayed_with_closes

BAD = [
    b'{"id":"x1","type":"revenue","agreement":"gb300-monthly","period":"2026-01","amount":1.5,"currency":"USD"}',
    b"\xff\xfe not utf-8",
    b'{"id": "x2" ,  "type":"close","agreement":"nobody","period":"2031-01"}',
]

#: A shortfall in a period governed by the amendments below.
JULY_2027 = (b'{"id":"u-2027-07","type":"utilization","agreement":"gb300-monthly","pool":"gb300-a",'
             b'"start":"2027-07-01T00:00:00Z","end":"2027-07-02T00:00:00Z","available_gpu_hours":"110592.00",'
             b'"sold_gpu_hours":"50000.00"}')


def sample_log() -> bytes:
    """The bundled log of four agreements, with rejected lines, a blank line and CRLF ends
    among them, and a last line without a line end."""
    lines = (EXAMPLES / "all.jsonl").read_bytes().split(b"\n")[:-1]
    lines[100:100] = [BAD[0], b"  \t", BAD[1] + b"\r"]
    lines.append(BAD[2])
    return b"\n".join(lines)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


class _Breaks(io.RawIOBase):
    """A source that fails after `limit` bytes, as a crash would stop a reader."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data, self.limit, self.offset = data, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.offset >= self.limit:
            raise ConnectionResetError("the source went away")
        piece = self.data[self.offset : min(self.limit, self.offset + len(buffer), len(self.data))]
        buffer[: len(piece)] = piece
        self.offset += len(piece)
        return len(piece)


def amended(tmp_path: Path, effective: str, rate: str) -> Path:
    """gb300-monthly with a version 2 from `effective` that changes the GB300 rate."""
    contracts = tmp_path / "amended"
    shutil.copytree(CONTRACTS / "gb300-monthly", contracts / "gb300-monthly")
    text = (contracts / "gb300-monthly" / "v1.yaml").read_text()
    text = text.replace("version: 1\n", "version: 2\n").replace("effective: 2026-01-01", f"effective: {effective}")
    (contracts / "gb300-monthly" / "v2.yaml").write_text(text.replace("GB300: 3.40", f"GB300: {rate}"))
    return contracts


def gb300(tmp_path: Path) -> Path:
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS / "gb300-monthly", contracts / "gb300-monthly")
    return contracts


def tamper(url: str, sql: str, parameters: tuple = ()) -> None:
    """Change the store's tables behind its back, as a bad disk or a careless hand would."""
    with Store.open(url, create=False) as store, store._writing():
        store._execute(sql, parameters)


class StoreSuite:
    @pytest.fixture
    def url(self, new_store):
        with new_store() as url:
            yield url

    # ---- the contract: export equals replay ------------------------------------------------------

    def test_export_equals_replay_of_the_log(self, url, tmp_path):
        log = write(tmp_path / "log.jsonl", sample_log())
        with Store.open(url) as store:
            with open(log, "rb") as events:
                report = store.ingest(events, source="log", contracts=CONTRACTS, batch_lines=700)
            store.close_through(date(2027, 3, 31))
        assert [rejection.line for rejection in report.rejected] == [101, 103, log.read_bytes().count(b"\n") + 1]
        assert report.duplicates == 12 and report.applied == report.lines - 15
        assert exported(url) == replayed(CONTRACTS, log.read_bytes(), date(2027, 3, 31))

    # A third of the profile's examples: each makes a new store (in PostgreSQL, a schema), and
    # the one test runs once per backend. `new_store` makes a fresh store for each example.
    @settings(max_examples=max(5, settings.default.max_examples // 3),
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors])
    @given(pair=agreements_with_logs(versions=st.integers(1, 2)), data=st.data())
    def test_any_ingests_and_closes_equal_replay_of_the_concatenation(self, new_store, tmp_path, pair, data):
        """The main property: after any sequence of ingests (several sources, any batch size,
        rejected, blank and CRLF-ended lines, a last line without LF) and closes, the export is
        `backstop replay` of the concatenation with the same closes, byte for byte."""
        documents, lines = pair
        term = documents[0]["term"]
        raws = [line.encode("utf-8") for line in lines]
        for bad in data.draw(st.lists(bad_lines(agreement=documents[0]["agreement"]), max_size=3), label="bad"):
            raws.insert(data.draw(st.integers(0, len(raws))), bad)
        for _ in range(data.draw(st.integers(0, 2), label="blank lines")):
            raws.insert(data.draw(st.integers(0, len(raws))), b" ")
        cuts = sorted(data.draw(st.lists(st.integers(0, len(raws)), max_size=3), label="cuts"))
        pieces = [raws[start:stop] for start, stop in zip([0, *cuts], [*cuts, len(raws)])]
        closes = st.none() | st.dates(term["start"], term["end"] + timedelta(days=40))
        folder = tmp_path / f"example-{len(list(tmp_path.iterdir()))}"
        contracts = write_agreement_folder(documents, folder / "contracts").parent
        steps: list[bytes | date] = []
        with new_store() as url:
            with Store.open(url) as store:
                for number, piece in enumerate(pieces):
                    source = (b"\r\n" if data.draw(st.booleans(), label="CRLF") else b"\n").join(piece)
                    if piece and data.draw(st.booleans(), label="ends in LF"):
                        source += b"\n"
                    path = write(folder / f"source-{number}.jsonl", source)
                    with open(path, "rb") as events:
                        store.ingest(events, source=path.name, contracts=contracts,
                                     batch_lines=data.draw(st.integers(1, 40), label="batch"))
                    steps.append(source)
                    close = data.draw(closes, label="close")
                    if close is not None:
                        store.close_through(close)
                        steps.append(close)
            expected = replayed_with_closes(contracts, steps)
            if not any(isinstance(step, date) for step in steps[:-1]):  # no close between ingests
                sources = [step for step in steps if isinstance(step, bytes)]
                final = steps[-1] if steps and isinstance(steps[-1], date) else None
                assert replayed(contracts, concatenation(sources), final) == expected
            assert exported(url) == expected

    def test_closes_are_kept_in_the_log_where_they_were_made(self, url, tmp_path):
        contracts = gb300(tmp_path)
        log = (EXAMPLES / "gb300-monthly.jsonl").read_bytes()
        half = log.index(b"\n", len(log) // 2) + 1
        with Store.open(url) as store:
            store.ingest(io.BytesIO(log[:half]), contracts=contracts)
            store.close_through(date(2026, 12, 31))
            store.ingest(io.BytesIO(log[half:]), contracts=contracts)
        assert exported(url) == replayed_with_closes(contracts, [log[:half], date(2026, 12, 31), log[half:]])
        assert exported(url) != replayed(contracts, log)

    def test_a_line_over_a_mebibyte_is_rejected_and_exported_whole(self, url, tmp_path):
        long_line = b'{"id":"long","type":"close","agreement":"gb300-monthly","meta":"' + b"x" * (1 << 20) + b'"}'
        log = (EXAMPLES / "gb300-monthly.jsonl").read_bytes()[:20_000].rpartition(b"\n")[0] + b"\n" + long_line + b"\n"
        with Store.open(url) as store:
            report = store.ingest(io.BytesIO(log), contracts=gb300(tmp_path), batch_lines=10)
        assert report.rejected[-1].code == "too_long"
        assert exported(url) == replayed(gb300(tmp_path / "again"), log)
        assert exported(url).rejected == long_line + b"\n"

    # ---- exactly once ----------------------------------------------------------------------------

    def test_the_same_ingest_again_takes_nothing_twice(self, url, tmp_path):
        log = write(tmp_path / "log.jsonl", sample_log())
        with Store.open(url) as store:
            for _ in range(2):
                with open(log, "rb") as events:
                    report = store.ingest(events, source=str(log), contracts=CONTRACTS)
        assert report.lines == 0 and report.skipped_bytes == len(log.read_bytes())
        assert exported(url) == replayed(CONTRACTS, log.read_bytes())

    def test_an_interrupted_ingest_resumes_after_the_last_committed_batch(self, url, tmp_path):
        data = sample_log()
        with Store.open(url) as store, pytest.raises(ConnectionResetError):
            store.ingest(io.BufferedReader(_Breaks(data, 300_000), 4096), source="feed", contracts=CONTRACTS,
                         batch_lines=100)
        with Store.open(url) as store:  # a new process, as after a crash
            status = store.status()
            committed = status["sources"][0]["bytes"]
            assert 250_000 < committed <= 300_000 and data[committed - 1 : committed] == b"\n"
            report = store.ingest(io.BytesIO(data), source="feed", contracts=CONTRACTS, batch_lines=100)
        expected = replayed(CONTRACTS, data)
        assert report.skipped_bytes == committed
        assert report.lines == json.loads(expected.summary)["lines"] - status["lines"]
        assert exported(url) == expected

    def test_a_source_that_grew_by_whole_lines_goes_on_where_it_stopped(self, url, tmp_path):
        data = sample_log()
        half = data.index(b"\n", len(data) // 2) + 1
        log = write(tmp_path / "log.jsonl", data[:half])
        with Store.open(url) as store:
            with open(log, "rb") as events:
                store.ingest(events, source="log", contracts=CONTRACTS)
            write(log, data)
            with open(log, "rb") as events:
                report = store.ingest(events, source="log", contracts=CONTRACTS)
        assert report.skipped_bytes == half and report.rejected[-1].source_line == data.count(b"\n") + 1
        assert exported(url) == replayed(CONTRACTS, data)

    def test_a_source_whose_committed_part_changed_is_refused(self, url, tmp_path):
        data = sample_log()
        with Store.open(url) as store:
            store.ingest(io.BytesIO(data), source="log", contracts=CONTRACTS)
            before = exported(url)
            changed = data.replace(b'"sold_gpu_hours":"68555.44"', b'"sold_gpu_hours":"68555.45"', 1)
            with pytest.raises(SourceChanged, match=r"source log: its first [\d,]+ bytes .* have changed since"):
                store.ingest(io.BytesIO(changed), source="log", contracts=CONTRACTS)
            with pytest.raises(SourceChanged, match=r"it now has only [\d,]+; a source may only grow at its end"):
                store.ingest(io.BytesIO(data[:-10]), source="log", contracts=CONTRACTS)
        assert exported(url) == before

    def test_a_last_line_without_line_end_may_be_ended_but_not_extended(self, url, tmp_path):
        lines = (EXAMPLES / "gb300-monthly.jsonl").read_bytes().split(b"\n")[:30]
        first = b"\n".join(lines[:20])  # line 20 has no line end
        with Store.open(url) as store:
            store.ingest(io.BytesIO(first), source="feed", contracts=gb300(tmp_path))
            with pytest.raises(SourceChanged, match="line 20, which the store took without a line end, has grown"):
                store.ingest(io.BytesIO(first + b"x\n"), source="feed")
            report = store.ingest(io.BytesIO(first + b"\n" + b"\n".join(lines[20:]) + b"\n"), source="feed")
        assert report.lines == 10
        assert exported(url) == replayed(gb300(tmp_path / "again"), b"\n".join(lines) + b"\n")

    def test_lines_without_a_source_are_appended_and_repeats_are_duplicates(self, url, tmp_path):
        lines = (EXAMPLES / "gb300-monthly.jsonl").read_text().splitlines()[:50]
        with Store.open(url) as store:
            first = store.ingest(lines, contracts=gb300(tmp_path))
            again = store.ingest(lines[:10])
            summary = store.summary()
        assert (first.lines, first.duplicates, again.lines, again.duplicates) == (50, 0, 10, 10)
        assert (summary["lines"], summary["duplicates"]) == (60, 10)

    def test_an_ingest_into_a_store_without_documents_needs_contracts(self, url):
        with Store.open(url) as store, pytest.raises(StoreError, match="holds no agreement documents yet"):
            store.ingest([b"{}"])

    # ---- documents and rebuilds ------------------------------------------------------------------

    def test_changed_documents_are_refused_until_a_rebuild_keeps_the_ledger(self, url, tmp_path):
        log = (EXAMPLES / "gb300-monthly.jsonl").read_bytes()
        with Store.open(url) as store:
            store.ingest(io.BytesIO(log), contracts=gb300(tmp_path))
            issued = exported(url).ledger
            later = amended(tmp_path, "2027-06-01", "3.90")
            with pytest.raises(DocumentsChanged, match=r"agreement gb300-monthly version 2 is new .*--rebuild"):
                store.ingest([], contracts=later)
            store.ingest([], contracts=later, rebuild=True)
            assert exported(url).ledger == issued
            store.ingest([JULY_2027])
            store.close_through(date(2027, 8, 1))
            assert [d["version"] for d in store.status()["documents"]] == [1, 2]
        assert exported(url) == replayed(later, log + JULY_2027 + b"\n", date(2027, 8, 1))
        july = [entry for entry in exported(url).ledger.split(b"\n") if b'"period":"2027-07"' in entry]
        assert july and all(b'"version":2' in entry for entry in july)  # the amendment governs July
        assert b'"3.90"' in july[0]

    def test_a_rebuild_that_would_change_an_issued_entry_is_refused_naming_it(self, url, tmp_path):
        log = (EXAMPLES / "gb300-monthly.jsonl").read_bytes()
        with Store.open(url) as store:
            store.ingest(io.BytesIO(log), contracts=gb300(tmp_path))
            before = exported(url)
            earlier = amended(tmp_path, "2026-06-01", "3.90")
            # The first entry the amendment reaches is a payment of June 2026, which version 2 would decide.
            with pytest.raises(LedgerWouldChange, match=r"entry 38 of the ledger \(gb300-monthly/payment/gb300-monthly:"
                                                        r"pay:2026-06-26:012, seq 38 of gb300-monthly\) would change: "
                                                        r"document .*, version 1 → 2; nothing was changed"):
                store.ingest([], contracts=earlier, rebuild=True)
            more = [JULY_2027.replace(b"2027-07", b"2027-02"),
                    b'{"id":"close-feb","type":"close","agreement":"gb300-monthly","period":"2027-02"}']
            store.ingest(more)  # the store goes on with the documents it had
        assert exported(url).ledger.startswith(before.ledger) and len(exported(url).ledger) > len(before.ledger)
        assert exported(url) == replayed(gb300(tmp_path / "again"), log + b"\n".join(more))

    # ---- checkpoints -----------------------------------------------------------------------------

    def test_a_damaged_checkpoint_is_replaced_by_a_replay(self, url, tmp_path):
        data = sample_log()
        with Store.open(url) as store:
            store.ingest(io.BytesIO(data), contracts=CONTRACTS)
        tamper(url, "UPDATE checkpoint SET snapshot = ?", (snapshot.MAGIC + b"garbage",))
        assert exported(url) == replayed(CONTRACTS, data)
        tamper(url, "UPDATE checkpoint SET snapshot = ?", (b"backstop-snapshot/0\n" + b"an older format",))
        assert exported(url) == replayed(CONTRACTS, data)

    def test_a_checkpoint_of_another_position_is_not_trusted(self, url, tmp_path):
        data = sample_log()
        half = data.index(b"\n", len(data) // 2) + 1
        with Store.open(url) as store:
            store.ingest(io.BytesIO(data[:half]), contracts=CONTRACTS)
            with store._reading():
                old = store._query("SELECT snapshot FROM checkpoint")[0][0]
            store.ingest(io.BytesIO(data[half:]))
        tamper(url, "UPDATE checkpoint SET snapshot = ?", (bytes(old),))  # an older state, claiming the new position
        assert exported(url) == replayed(CONTRACTS, data)

    def test_a_checkpoint_of_another_engine_version_is_not_trusted(self, url, tmp_path, monkeypatch):
        data = sample_log()
        monkeypatch.setattr(engine, "__version__", "0.0.1")
        with Store.open(url) as store:
            store.ingest(io.BytesIO(data), contracts=CONTRACTS)
        monkeypatch.undo()
        with Store.open(url) as store:
            assert b'"version":"0.0.1"' in self.checkpoint_document(store)
            store.ingest([], contracts=CONTRACTS)  # replays the log and checkpoints it anew
            assert f'"version":"{engine.__version__}"'.encode() in self.checkpoint_document(store)
        assert exported(url) == replayed(CONTRACTS, data)

    @staticmethod
    def checkpoint_document(store: Store) -> bytes:
        with store._reading():
            return zlib.decompress(bytes(store._query("SELECT snapshot FROM checkpoint")[0][0]).partition(b"\n")[2])

    def test_a_ledger_changed_behind_the_stores_back_is_found(self, url, tmp_path):
        data = sample_log()
        with Store.open(url) as store, pytest.raises(ConnectionResetError):
            store.ingest(io.BufferedReader(_Breaks(data, 1_000_000), 4096), contracts=CONTRACTS, batch_lines=100)
        tamper(url, "UPDATE ledger SET entry = ? WHERE position = (SELECT MAX(position) FROM ledger)", (b"{}\n",))
        with pytest.raises(LedgerWouldChange, match=r"a replay of the stored log does not give the stored ledger: "
                                                    r"entry \d+ of the ledger \(.*\) would be .* instead"):
            exported(url)

    def test_a_checkpoint_whose_heads_the_ledger_does_not_have_is_not_trusted(self, url):
        with Store.open(url) as store:
            store.ingest(io.BytesIO(sample_log()), contracts=CONTRACTS)
        # The last entry's hash column no longer matches the checkpoint's head, nor the entry.
        tamper(url, "UPDATE ledger SET hash = ? WHERE position = (SELECT MAX(position) FROM ledger)", ("0" * 64,))
        with pytest.raises(LedgerWouldChange, match="a replay of the stored log does not give the stored ledger"):
            exported(url)

    # ---- schema, opening -------------------------------------------------------------------------

    def test_a_store_of_a_newer_schema_is_refused(self, url):
        Store.open(url).close()
        tamper(url, "UPDATE store_meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION + 1),))
        with pytest.raises(StoreError, match=f"has schema version {SCHEMA_VERSION + 1}; this backstop reads version "
                                             f"{SCHEMA_VERSION}: upgrade backstop"):
            Store.open(url)

    def test_readers_do_not_create_a_store(self, url):
        with pytest.raises(StoreError, match="backstop ingest --store URL CONTRACTS EVENTS"):
            Store.open(url, create=False)

    # ---- one writer, consistent readers ----------------------------------------------------------

    def test_one_writer_at_a_time_and_readers_see_what_was_committed(self, url, tmp_path):
        lines = (EXAMPLES / "all.jsonl").read_bytes().split(b"\n")[:-1]
        reading, writing = os.pipe()
        with Store.open(url) as first, Store.open(url) as second:
            first.ingest([], contracts=CONTRACTS)
            done: list = []
            stream = os.fdopen(reading, "rb")
            writer = threading.Thread(target=lambda: done.append(first.ingest(stream, source="pipe", batch_lines=10**6)))
            writer.start()
            try:
                os.write(writing, b"\n".join(lines[:1000]) + b"\n")
                deadline = time.monotonic() + 30
                while second.status()["lines"] < 1000 and time.monotonic() < deadline:
                    time.sleep(0.02)  # the writer commits what has arrived when the pipe has no more
                assert second.status()["lines"] == 1000
                with pytest.raises(StoreBusy, match="another writer is working on the store"):
                    second.ingest([lines[1000]], wait=0.3)
                assert exported(url) == replayed(CONTRACTS, b"\n".join(lines[:1000]) + b"\n")
                os.write(writing, b"\n".join(lines[1000:]) + b"\n")
            finally:
                os.close(writing)
                writer.join(60)
            assert done and done[0].lines == len(lines)
            second.ingest([lines[0]], wait=0.3)  # the lock is free again
        assert exported(url) == replayed(CONTRACTS, b"\n".join(lines + lines[:1]) + b"\n")

    # ---- reading ---------------------------------------------------------------------------------

    def test_ledger_gives_an_agreements_entries_after_a_seq(self, url, monkeypatch):
        monkeypatch.setattr(base, "_LEDGER_PAGE", 16)  # several pages
        with Store.open(url) as store:
            store.ingest(io.BytesIO(sample_log()), contracts=CONTRACTS)
            everything = list(store.ledger("gb300-monthly"))
            later = list(store.ledger("gb300-monthly", since_seq=40))
        lines = [line + b"\n" for line in exported(url).ledger.split(b"\n")[:-1] if b'"agreement":"gb300-monthly"' in line]
        assert [entry.line for entry in everything] == lines and len(lines) == 89
        assert [entry.fields["seq"] for entry in later] == list(range(41, len(lines) + 1))
        assert later[0].id == everything[40].id and later[0].agreement == "gb300-monthly"

    def test_status_counts_lines_and_names_heads_closes_documents_and_sources(self, url, tmp_path):
        log = write(tmp_path / "log.jsonl", sample_log())
        with Store.open(url) as store:
            with open(log, "rb") as events:
                store.ingest(events, source="log", contracts=CONTRACTS)
            status = store.status()
        summary = json.loads(replayed(CONTRACTS, log.read_bytes()).summary)
        assert (status["lines"], status["applied"], status["duplicates"], status["rejected"]) == (
            summary["lines"], summary["applied"], summary["duplicates"], len(summary["rejected"]))
        assert {agreement: value["head"] for agreement, value in status["agreements"].items()} == {
            agreement: value["head"] for agreement, value in summary["agreements"].items()}
        assert status["agreements"]["residual-quarterly"]["closed_through"] == "2027-Q1"
        assert status["agreements"]["gb300-monthly"]["closed_through"] == "2027-01"
        assert ("amended-h200", 2) in {(d["agreement"], d["version"]) for d in status["documents"]}
        assert status["sources"] == [{"name": "log", "bytes": log.stat().st_size, "lines": summary["lines"] + 1}]
        assert status["schema"] == SCHEMA_VERSION and status["checkpoint"]["lines"] == summary["lines"]
