"""The one exception a rule raises: the event broke it, and nothing has changed yet."""

from __future__ import annotations


class Rejected(Exception):
    """An event broke a rule; the message is the reason users read, `code` the rejection code
    of SPEC §7 that a settlement system routes on."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
