"""Progress of long runs on standard error, for a person watching a terminal."""

from __future__ import annotations

import sys
import time


class Progress:
    """Progress on standard error, only when it is a terminal, at most a few times a second."""

    def __init__(self, total_bytes: int | None, *, noun: str = "lines", every: int = 4096) -> None:
        self.enabled = sys.stderr.isatty()
        self.total_bytes = total_bytes
        self.noun = noun
        self.every = every
        self.last = 0.0

    def update(self, count: int, position: int | None = None) -> None:
        if not self.enabled or count % self.every:
            return
        now = time.monotonic()
        if now - self.last < 0.25:
            return
        self.last = now
        share = f" ({100 * position / self.total_bytes:.0f}%)" if self.total_bytes and position else ""
        print(f"\r{count:,} {self.noun}{share}", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.enabled and self.last:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
