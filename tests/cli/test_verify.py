"""`backstop verify LEDGER` is strict about the ledger's form, as an auditor is.

The ledger must be the very bytes the engine writes (SPEC §6): each line the canonical JSON
of its entry, ending in LF alone (the last one included), no blank line, valid UTF-8. There
is one case per kind of fault below, each built from the bundled worked example's ledger
with the words its message must contain, and a property: no single-byte change, insertion
or deletion anywhere in a valid ledger goes unnoticed, and the first problem named is on the
line where the byte changed.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.ledger import Chain

ROOT = Path(__file__).resolve().parents[2]
SPEC9 = ROOT / "tests" / "golden" / "spec9"
GOOD = (SPEC9 / "ledger.jsonl").read_bytes()
LINES = GOOD.splitlines(keepends=True)  # five entries, each ending in LF


def verify(path: Path, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["verify", str(path), *extra])
    return status, out.getvalue()


def with_line(number: int, text: bytes) -> bytes:
    """The good ledger with line `number` (from 1) replaced by `text` (given without its LF)."""
    return b"".join(LINES[:number - 1] + [text + b"\n"] + LINES[number:])


def entry(number: int) -> dict:
    return json.loads(LINES[number - 1])


def redumped(number: int, **options) -> bytes:
    """Line `number` written by `json.dumps` with other options: the same entry, another form."""
    return json.dumps(entry(number), ensure_ascii=False, **options).encode("utf-8")


def non_ascii_ledger() -> bytes:
    """A one-entry ledger whose canonical line holds a non-ASCII character."""
    return Chain("café").seal({"id": "café/1", "agreement": "café", "kind": "payment", "amount": "1.00"}).line


def escaped_non_ascii() -> bytes:
    value = json.loads(non_ascii_ledger())
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"


FAULTS: list[tuple[str, Callable[[], bytes], int, str]] = [
    ("crlf", lambda: GOOD.replace(b"\n", b"\r\n", 2).replace(b"\r\n", b"\n", 1), 2,
     "the line ends in CRLF; ledger lines end in LF alone"),
    ("last line without LF", lambda: GOOD[:-1], 5,
     "the last line does not end in LF; every ledger line, the last one included, ends in LF"),
    ("empty line", lambda: b"".join(LINES[:2] + [b"\n"] + LINES[2:]), 3, "blank line; a ledger has no blank lines"),
    ("line of spaces", lambda: b"".join(LINES + [b" \t \n"]), 6, "blank line; a ledger has no blank lines"),
    ("invalid UTF-8", lambda: with_line(1, LINES[0][:-1].replace(b"Guarantor", b"Guar\xffntor", 1)), 1,
     "not valid UTF-8 (byte "),
    ("byte-order mark", lambda: b"\xef\xbb\xbf" + GOOD, 1, "not JSON: Unexpected UTF-8 BOM"),
    ("not JSON", lambda: with_line(3, LINES[2][:37]), 3, "not JSON: Unterminated string starting at (column 31)"),
    ("not an object", lambda: with_line(2, b'["spec9",1]'), 2, "not a JSON object but a JSON array"),
    ("NaN", lambda: with_line(1, LINES[0][:-1].replace(b'"seq":1', b'"seq":NaN')), 1, "not JSON: NaN is not a JSON value"),
    ("too deep", lambda: with_line(4, b"[" * 100_000), 4, "nested too deeply to be read as an entry"),
    ("white space", lambda: with_line(2, redumped(2, sort_keys=True)), 2,
     "white space at column 14; canonical JSON has none between tokens"),
    ("keys out of order", lambda: with_line(2, json.dumps(dict(reversed(entry(2).items())), separators=(",", ":")).encode()), 2,
     'the key "version" comes before "unit"; canonical JSON sorts keys by code point'),
    ("repeated key", lambda: with_line(1, LINES[0][:-1].replace(b'{"agreement":"spec9",', b'{"agreement":"spec9","agreement":"spec9",')), 1,
     'the key "agreement" is repeated in one object'),
    ("escaped slash", lambda: with_line(3, LINES[2][:-1].replace(b'"id":"spec9/', b'"id":"spec9\\/')), 3,
     "an escape at column"),
    ("escaped non-ASCII", escaped_non_ascii, 1, "an escape at column 18 that canonical JSON writes otherwise"),
    ("number form", lambda: with_line(1, LINES[0][:-1].replace(b'"version":1', b'"version":1E0')), 1,
     "not in canonical JSON form from column"),
    ("lone surrogate", lambda: with_line(1, LINES[0][:-1].replace(b'"kind":"', b'"kind":"\\ud800')), 1,
     "a string holds a lone surrogate"),
    ("missing chain field", lambda: with_line(2, json.dumps({k: v for k, v in entry(2).items() if k != "prev"},
                                                             sort_keys=True, separators=(",", ":")).encode()), 2,
     'the entry has no "prev"'),
    ("chain field of the wrong type", lambda: with_line(2, LINES[1][:-1].replace(b'"seq":2', b'"seq":"2"')), 2,
     '"seq" must be an integer; got "2"'),
]


@pytest.mark.parametrize("make, line, words", [case[1:] for case in FAULTS], ids=[case[0] for case in FAULTS])
def test_each_kind_of_format_fault_is_named_with_its_line(tmp_path, make, line, words):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(make())
    status, out = verify(ledger)
    assert status == 1
    assert f"{ledger}: line {line}: {words}" in out
    assert "the ledger does not verify" in out


def test_the_good_ledgers_verify(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(GOOD)
    assert verify(ledger) == (0, f"{ledger}: 5 entries; every line canonical, every chain intact\n"
                                 f"  spec9: head {entry(5)['hash']}\n")
    ledger.write_bytes(non_ascii_ledger())
    assert verify(ledger)[0] == 0


def test_a_fault_of_form_alone_leaves_the_chain_intact_and_is_the_only_problem(tmp_path):
    """White space changes the bytes, not the entry: the hash still matches, so only the form is wrong."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(with_line(4, redumped(4, sort_keys=True)))
    status, out = verify(ledger)
    assert status == 1
    assert out.count("line ") == 1 and "1 problem(s)" in out


def test_every_faulty_line_is_reported_not_only_the_first(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(GOOD.replace(b"\n", b"\r\n"))
    status, out = verify(ledger)
    assert status == 1
    assert [int(n) for n in re.findall(r"line (\d+): the line ends in CRLF", out)] == [1, 2, 3, 4, 5]
    assert "5 problem(s)" in out


def test_an_unreadable_entry_is_named_and_the_chain_break_it_leaves_too(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(with_line(2, b"{oops"))
    status, out = verify(ledger)
    assert status == 1
    assert "line 2: not JSON: Expecting property name enclosed in double quotes (column 2)" in out
    assert "line 3: spec9 entry has seq 3, expected 2" in out


def test_rederiving_is_byte_for_byte_line_ends_included(tmp_path, capsys):
    contracts, events, ledger = SPEC9 / "contracts", SPEC9 / "events.jsonl", tmp_path / "ledger.jsonl"
    ledger.write_bytes(GOOD.replace(b"\n", b"\r\n", 1))
    assert main(["verify", str(contracts), str(events), str(ledger)]) == 1
    out = capsys.readouterr().out
    assert "line 1 differs from the re-derived entry spec9/2026-01/lease_back/p1" in out
    assert "  the line ends in CRLF; ledger lines end in LF alone" in out
    ledger.write_bytes(GOOD + b"\n")
    assert main(["verify", str(contracts), str(events), str(ledger)]) == 1
    assert "line 6: blank line; a ledger has no blank lines" in capsys.readouterr().out
    ledger.write_bytes(GOOD[:-1])
    assert main(["verify", str(contracts), str(events), str(ledger)]) == 1
    assert "the last line does not end in LF" in capsys.readouterr().out


def test_explain_is_lenient_and_says_which_lines_it_could_not_read(tmp_path, capsys):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(b"\r\n".join(line.rstrip(b"\n") for line in LINES[:2]) + b"\r\n\r\n  \n" + b"".join(LINES[2:]))
    assert main(["explain", str(ledger), "spec9/2026-02/lease_back/p1"]) == 0
    assert "1400.00 USD, owed by Guarantor to Provider" in capsys.readouterr().out
    ledger.write_bytes(b"not json\n" + GOOD)
    assert main(["explain", str(ledger), "nope"]) == 1
    err = capsys.readouterr().err
    assert "no entry with id nope" in err and "line(s) 1 could not be read as JSON objects" in err
    ledger.write_bytes(b'{"id":"bare"}\n')
    assert main(["explain", str(ledger), "bare"]) == 1
    assert "entry bare lacks fields a ledger entry has" in capsys.readouterr().err


def test_an_unreadable_ledger_is_a_failure_to_run(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


# ---- any single-byte mutation is caught ----


@pytest.fixture(scope="module")
def bundled_ledger(tmp_path_factory) -> bytes:
    """The ledger of the bundled examples: four agreements interleaved, non-ASCII-free, 246 entries."""
    ledger = tmp_path_factory.mktemp("bundled") / "ledger.jsonl"
    with redirect_stdout(io.StringIO()):
        assert main(["replay", str(ROOT / "contracts"), str(ROOT / "examples" / "all.jsonl"), "--ledger", str(ledger)]) == 0
    return ledger.read_bytes()


def mutations(data: bytes):
    """A change of one byte to another value, an inserted byte, or a deleted byte, anywhere."""
    changed = st.tuples(st.just("change"), st.integers(0, len(data) - 1), st.integers(0, 255)).filter(
        lambda m: data[m[1]] != m[2])
    inserted = st.tuples(st.just("insert"), st.integers(0, len(data)), st.integers(0, 255))
    deleted = st.tuples(st.just("delete"), st.integers(0, len(data) - 1), st.just(0))
    return st.one_of(changed, inserted, deleted)


def mutate(data: bytes, mutation: tuple[str, int, int]) -> bytes:
    kind, at, byte = mutation
    if kind == "change":
        return data[:at] + bytes([byte]) + data[at + 1:]
    if kind == "insert":
        return data[:at] + bytes([byte]) + data[at:]
    return data[:at] + data[at + 1:]


def assert_caught(data: bytes, mutation: tuple[str, int, int], path: Path) -> None:
    path.write_bytes(mutate(data, mutation))
    status, out = verify(path)
    assert status == 1, f"{mutation} went unnoticed:\n{out}"
    first = re.search(r": line (\d+): ", out)
    assert first is not None, out
    assert int(first.group(1)) == data.count(b"\n", 0, mutation[1]) + 1, f"{mutation}:\n{out}"


@settings(max_examples=300)
@given(mutation=mutations(GOOD))
def test_any_single_byte_mutation_of_the_example_ledger_is_caught_on_its_line(tmp_path_factory, mutation):
    assert_caught(GOOD, mutation, tmp_path_factory.getbasetemp() / "mutated-spec9.jsonl")


@settings(max_examples=60)
@given(data=st.data())
def test_any_single_byte_mutation_of_a_four_agreement_ledger_is_caught_on_its_line(tmp_path_factory, bundled_ledger, data):
    mutation = data.draw(mutations(bundled_ledger), label="mutation")
    assert_caught(bundled_ledger, mutation, tmp_path_factory.getbasetemp() / "mutated-bundled.jsonl")
