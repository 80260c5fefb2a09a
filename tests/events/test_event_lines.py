"""Cutting a log into lines (SPEC §4): only LF ends a line, blanks are skipped but counted."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, strategies as st

from engine.events.reader import LINE_BYTES_MAX, iter_lines, parse_line


def lines_of(data: bytes) -> list[tuple[int, bytes]]:
    return list(iter_lines(io.BytesIO(data)))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", []),
        (b"a\n", [(1, b"a")]),
        (b"a", [(1, b"a")]),
        (b"a\nb", [(1, b"a"), (2, b"b")]),
        (b"a\r\nb\r\n", [(1, b"a"), (2, b"b")]),
        (b"a\r\nb", [(1, b"a"), (2, b"b")]),
        (b"\n\na\n\n\nb\n\n", [(3, b"a"), (6, b"b")]),
        (b" \t \n\t\na\n   ", [(3, b"a")]),
        (b" \t\r\na\r\n\r\n", [(2, b"a")]),
        (b"a\rb\n", [(1, b"a\rb")]),  # a lone CR does not end a line
        (b"a\r\r\n", [(1, b"a\r")]),  # only one CR belongs to the line end
        (b"\r\r\n", [(1, b"\r")]),  # a CR is no blank
        (b"a\r", [(1, b"a\r")]),  # a CR at the very end, without LF, is part of the line
        (b"\x0b\n\x0c\n", [(1, b"\x0b"), (2, b"\x0c")]),  # only spaces and tabs are blank
        (b"\xa0\n", [(1, b"\xa0")]),
        (b"  a  \n", [(1, b"  a  ")]),
    ],
)
def test_lines_and_their_numbers(data: bytes, expected: list[tuple[int, bytes]]) -> None:
    assert lines_of(data) == expected


def test_iter_lines_reads_a_real_file(tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"a":1}\r\n\n{"b":2}')
    with path.open("rb") as stream:
        assert list(iter_lines(stream)) == [(1, b'{"a":1}'), (3, b'{"b":2}')]


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b""])
def test_a_line_of_the_largest_size_is_whole(end: bytes) -> None:
    line = b"x" * LINE_BYTES_MAX
    if end:
        assert lines_of(line + end + b"next\n") == [(1, line), (2, b"next")]
    else:  # the last line, without LF
        assert lines_of(b"first\n" + line) == [(1, b"first"), (2, line)]


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b""])
def test_a_line_one_byte_too_long_is_rejected(end: bytes) -> None:
    line = b"x" * (LINE_BYTES_MAX + 1)
    (number, raw), *rest = lines_of(line + end + b"\nnext")
    assert number == 1
    assert "longer than 1048576 bytes" in parse_line(number, raw).problem
    assert rest == ([(3, b"next")] if end else [(2, b"next")])


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b""])
def test_an_over_long_line_is_cut_and_the_rest_dropped(end: bytes) -> None:
    line = b"x" * (3 * LINE_BYTES_MAX + 17)
    result = lines_of(b"first\n" + line + end + b"last")
    assert [number for number, _ in result] == ([1, 2, 3] if end else [1, 2])
    number, raw = result[1]
    assert len(raw) == LINE_BYTES_MAX + 1
    assert "longer than" in parse_line(number, raw).problem


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b""])
def test_an_over_long_blank_line_is_skipped(end: bytes) -> None:
    blank = b" \t" * (LINE_BYTES_MAX + 5)
    if end:
        assert lines_of(blank + end + b"a\n") == [(2, b"a")]
    else:  # the last line, without LF
        assert lines_of(b"a\n" + blank) == [(1, b"a")]


def test_an_over_long_line_with_a_cr_at_a_chunk_edge() -> None:
    # The CR falls at the end of the first chunk: it is part of the line, not of its end.
    blank_then_cr = b" " * (LINE_BYTES_MAX + 1) + b"\r" + b" " * 10 + b"\n"
    assert lines_of(blank_then_cr) == [(1, b" " * (LINE_BYTES_MAX + 1))]
    # Here CR LF straddles two chunks and ends a blank line.
    blank_crlf = b" " * (LINE_BYTES_MAX + 1) + b"\r\n" + b"a"
    assert lines_of(blank_crlf) == [(2, b"a")]


def test_iter_lines_streams() -> None:
    """Lines come out as soon as they are whole, and no read asks for more than a block:
    a settlement system piping events in gets each replayed as it arrives."""

    class Pipe(io.RawIOBase):
        def __init__(self, pieces: list[bytes]) -> None:
            self.pieces = pieces
            self.sizes: list[int] = []

        def readable(self) -> bool:
            return True

        def read1(self, size: int = -1) -> bytes:
            self.sizes.append(size)
            return self.pieces.pop(0) if self.pieces else b""

    stream = Pipe([b'{"a"', b':1}\n{"b":2}\n', b'{"c":3}'])
    lines = iter_lines(stream)
    assert next(lines) == (1, b'{"a":1}')
    assert stream.pieces == [b'{"c":3}']  # the third piece was not waited for
    assert list(lines) == [(2, b'{"b":2}'), (3, b'{"c":3}')]
    assert all(0 < size <= 2**20 for size in stream.sizes)


def _reference_lines(data: bytes) -> list[tuple[int, bytes]]:
    """What iter_lines must give, written the obvious way: split on LF, drop one CR before it."""
    pieces = data.split(b"\n")
    out = []
    for number, piece in enumerate(pieces, start=1):
        if number < len(pieces) and piece.endswith(b"\r"):
            piece = piece[:-1]
        if piece.strip(b" \t"):
            out.append((number, piece))
    return out


@given(st.binary(max_size=300).map(lambda raw: bytes(b"{}a \t\r\n"[byte % 7] for byte in raw)),
       st.integers(1, 40))
def test_iter_lines_agrees_with_the_obvious_reading_whatever_the_blocks(data, block):
    from engine.events import reader

    original = reader._BLOCK_BYTES
    reader._BLOCK_BYTES = block
    try:
        assert list(iter_lines(io.BytesIO(data))) == _reference_lines(data)
    finally:
        reader._BLOCK_BYTES = original


@given(st.binary(max_size=300).map(lambda raw: bytes(b"{}a \t\r\n"[byte % 7] for byte in raw)),
       st.integers(1, 40), st.data())
def test_iter_lines_keeps_the_lines_it_is_told_to_whatever_the_blocks(data, block, draw):
    from engine.events import reader

    physical = data.count(b"\n") + 1
    keep = draw.draw(st.binary(min_size=physical, max_size=physical + 3))
    original = reader._BLOCK_BYTES
    reader._BLOCK_BYTES = block
    try:
        assert list(iter_lines(io.BytesIO(data), keep=keep)) == [
            (number, line) for number, line in _reference_lines(data) if keep[number - 1]
        ]
        if physical > 1 and data.rstrip(b"\n"):
            with pytest.raises(IndexError):  # a log longer than its routing
                list(iter_lines(io.BytesIO(data + b"\n{}\n" * (block + 1)), keep=keep[:physical] + b"\1"))
    finally:
        reader._BLOCK_BYTES = original
