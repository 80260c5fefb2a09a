"""Reading inputs and writing outputs: the one place where commands touch files.

Outputs are written to temporary files beside their targets, flushed to disk, and moved into
place only when the whole run succeeded, so that an invalid document, an unreadable log, a
write failure or a power cut never leaves a half-written or changed output behind.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import ExitStack
from typing import BinaryIO, Iterator

from engine.cli.status import UsageFailure


def open_events(path: str, stack: ExitStack) -> tuple[BinaryIO, int | None]:
    if path == "-":
        return sys.stdin.buffer, None
    try:
        stream = stack.enter_context(open(path, "rb"))
    except OSError as error:
        raise UsageFailure(f"cannot read events {path}: {error.strerror}") from None
    return stream, os.fstat(stream.fileno()).st_size


class Outputs:
    """Output files written beside their targets and moved into place together at the end.

    `commit` makes each temporary file durable (fsync) before renaming it over its target,
    then makes the renames durable (fsync of each folder): after a crash at any instant every
    target holds either its old bytes or its new ones, whole.
    """

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack
        self.pending: list[tuple[str, str, BinaryIO]] = []
        stack.callback(self._discard)

    def open(self, target: str | None) -> BinaryIO | None:
        if target is None:
            return None
        folder = os.path.dirname(os.path.abspath(target))
        try:
            handle, temporary = tempfile.mkstemp(prefix=".backstop-", dir=folder)
        except OSError as error:
            raise UsageFailure(f"cannot write {target}: {error.strerror}") from None
        stream = self.stack.enter_context(os.fdopen(handle, "wb"))
        self.pending.append((temporary, target, stream))
        return stream

    def commit(self) -> None:
        """Flush, fsync and rename every output into place, then fsync their folders."""
        folders = set()
        for temporary, target, stream in self.pending:
            try:
                stream.flush()
                os.fsync(stream.fileno())
                stream.close()
                os.replace(temporary, target)
            except OSError as error:
                raise UsageFailure(f"cannot write {target}: {error.strerror}") from None
            folders.add(os.path.dirname(os.path.abspath(target)))
        self.pending = []
        for folder in sorted(folders):
            sync_folder(folder)

    def _discard(self) -> None:
        for temporary, _, stream in self.pending:
            try:
                stream.close()
                os.unlink(temporary)
            except OSError:
                pass


def sync_folder(folder: str) -> None:
    """Make a rename inside `folder` durable; a no-op where folders cannot be opened (Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename itself has happened
    finally:
        os.close(descriptor)


def read_ledger_lines(path: str) -> Iterator[bytes]:
    """A ledger's physical lines exactly as written, each with its line end, read as they are needed.

    Nothing is stripped or skipped: `backstop verify` judges line ends and blank lines itself.
    """
    try:
        with open(path, "rb") as handle:
            yield from handle
    except OSError as error:
        raise UsageFailure(f"cannot read {path}: {error.strerror}") from None


class WholeLongLines:
    """Copies each over-long line (always rejected) whole into the `--rejected` file.

    The reader hands the line over in pieces as it streams by; a spool keeps memory bounded
    until the line's end shows whether it was blank (then it is skipped, not rejected).
    """

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.spool: tempfile.SpooledTemporaryFile | None = None
        self.written: set[int] = set()

    def write(self, number: int, piece: bytes) -> None:
        if self.spool is None:
            self.spool = tempfile.SpooledTemporaryFile(max_size=8 * 2**20)
        self.spool.write(piece)

    def end(self, number: int, blank: bool) -> None:
        if not blank:
            self.spool.seek(0)
            shutil.copyfileobj(self.spool, self.target)
            self.target.write(b"\n")
            self.written.add(number)
        self.spool.close()
        self.spool = None
