"""The parties of an agreement and the directions between them (SPEC §5.5, §8).

A direction is an ordered pair (debtor, creditor) of distinct parties: two without a lender,
six with one (v2). Reports name them as the summary does, in the summary's order, so that a
statement, a report and a summary can be read side by side.

The lender and the other fields that semantics `backstop/v2` adds to the documents are read
here and in `v2_clause` only, through `getattr`, so that the reports work on documents of
either model: on a v1 document model the v2 fields simply read as absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The roles of each direction, in the summary's order: the two of v1, then the four that
#: involve the lender (v2).
ROLE_PAIRS = (("guarantor", "provider"), ("provider", "guarantor"))
LENDER_ROLE_PAIRS = (("provider", "lender"), ("guarantor", "lender"), ("lender", "provider"), ("lender", "guarantor"))


@dataclass(frozen=True, slots=True)
class Direction:
    """One direction of an agreement: its summary name and its two parties."""

    name: str
    debtor: str
    creditor: str


def lender_of(document: Any) -> str | None:
    """(v2) The lender named by a version document, or None (always None under v1)."""
    return getattr(document.parties, "lender", None)


def v2_clause(document: Any, name: str) -> Any:
    """(v2) A clause that only `backstop/v2` documents have (`revenue_floor`, `guarantee`), or None."""
    return getattr(document, name, None)


def roles(document: Any) -> dict[str, str]:
    """Role → party name: provider, guarantor, and lender when the agreement has one."""
    found = {"provider": document.parties.provider, "guarantor": document.parties.guarantor}
    lender = lender_of(document)
    if lender is not None:
        found["lender"] = lender
    return found


def directions(document: Any) -> tuple[Direction, ...]:
    """Every direction of the agreement `document` belongs to, named and ordered as in the summary."""
    parties = roles(document)
    pairs = ROLE_PAIRS + (LENDER_ROLE_PAIRS if "lender" in parties else ())
    return tuple(Direction(f"{debtor}_to_{creditor}", parties[debtor], parties[creditor]) for debtor, creditor in pairs)
