"""Rejections: the exception a rule raises (the event broke it, and nothing has changed yet),
and the record of a rejected line."""

from __future__ import annotations

from dataclasses import dataclass

from engine.rejection_codes import Code


class Rejected(Exception):
    """An event broke a rule; the message is the reason users read, `code` the rejection code
    of SPEC §7 that a settlement system routes on."""

    def __init__(self, reason: str, *, code: Code) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected line, as the summary lists it."""

    line: int
    id: str | None
    reason: str
    code: Code
