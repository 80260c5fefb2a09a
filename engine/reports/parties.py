"""The parties of an agreement and the directions between them (SPEC §5.5, §8).

A direction is an ordered pair (debtor, creditor) of distinct parties: two without a lender,
six with one (v2). Reports name and order them as the summary does (the replay's
`directions`), so that a statement, a report and a summary can be read side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.replay.agreement import directions as summary_directions
from engine.replay.terms import AgreementTerms


@dataclass(frozen=True, slots=True)
class Direction:
    """One direction of an agreement: its summary name and its two parties."""

    name: str
    debtor: str
    creditor: str


def terms_of(agreement: Any) -> AgreementTerms:
    """The governing-version rules of a loaded agreement (SPEC §3)."""
    return AgreementTerms(agreement.id, tuple(agreement.versions))


def roles(agreement: Any) -> dict[str, str]:
    """Role → party name: provider, guarantor, and lender when the agreement has one."""
    terms = terms_of(agreement)
    found = {"provider": terms.provider, "guarantor": terms.guarantor}
    if terms.lender is not None:
        found["lender"] = terms.lender
    return found


def directions(agreement: Any) -> tuple[Direction, ...]:
    """Every direction of a loaded agreement, named and ordered as in the summary."""
    return tuple(Direction(name, debtor, creditor) for (debtor, creditor), name in summary_directions(terms_of(agreement)))
