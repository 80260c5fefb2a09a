"""Rules across the versions of one agreement (SPEC §3), each broken rule a located error.

A version is checked against the others only after it passed on its own, so these rules see
valid documents. The numbering and date-order rules need every version: when some version
of an agreement failed on its own, they are left out rather than report a gap that is really
that version's error.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from engine.calendar import DATE_MAX, add_days_or_none, settlement_periods
from engine.documents.errors import DocumentError, FieldPath
from engine.documents.model import AgreementDocument, shown
from engine.documents.validate import Located


@dataclass(frozen=True)
class CheckedVersion:
    """A version document that passed every rule of its own, with where it came from."""

    document: AgreementDocument
    sha256: str
    where: Located


def _tranche_set(document: AgreementDocument) -> frozenset[tuple[str, int]] | None:
    if document.warrants is None:
        return None
    return frozenset((tranche.id, tranche.shares) for tranche in document.warrants.tranches)


def _warrant_field(name: str) -> Callable[[AgreementDocument], Any]:
    return lambda document: getattr(document.warrants, name) if document.warrants else None


#: The fields that are the same in every version, compared after defaults (`40` equals
#: `40.00`; an omitted rounding equals `{places: 2, mode: half_even}`). Warrant fields are
#: compared only between versions that both have warrants; their presence is its own rule.
SAME_IN_EVERY_VERSION: tuple[tuple[FieldPath, Callable[[AgreementDocument], Any]], ...] = (
    (("parties", "provider"), lambda document: document.parties.provider),
    (("parties", "guarantor"), lambda document: document.parties.guarantor),
    (("parties", "lender"), lambda document: document.parties.lender),
    (("currency",), lambda document: document.currency),
    (("term", "start"), lambda document: document.term.start),
    (("term", "end"), lambda document: document.term.end),
    (("settlement", "period"), lambda document: document.settlement.period),
    (("settlement", "rounding", "places"), lambda document: document.settlement.rounding.places),
    (("settlement", "rounding", "mode"), lambda document: document.settlement.rounding.mode),
    (("settlement", "lock_after_periods"), lambda document: document.settlement.lock_after_periods),
    (("warrants", "strike"), _warrant_field("strike")),
    (("warrants", "expires"), _warrant_field("expires")),
    (("warrants", "tranches"), _tranche_set),
)


#: The parts of a document that are present in every version or in none, each with how its
#: presence is said (`has warrants`, `has no warrants`). Fields under a part whose presence
#: differs are not compared as well: the presence is the one error.
PRESENT_IN_EVERY_VERSION: tuple[tuple[FieldPath, str, Callable[[AgreementDocument], bool]], ...] = (
    (("parties", "lender"), "a lender", lambda document: document.parties.lender is not None),
    (("warrants",), "warrants", lambda document: document.warrants is not None),
    (("guarantee",), "a guarantee", lambda document: document.guarantee is not None),
)


def version_problems(versions: Sequence[CheckedVersion], *, complete: bool) -> list[DocumentError]:
    """Every cross-version error of one agreement's versions; `complete` when none failed alone."""
    ordered = sorted(versions, key=lambda version: (version.document.version, version.where.file))
    if not ordered:
        return []
    problems = _agreement_id_problems(ordered)
    if problems:
        return problems  # versions of different agreements: comparing their terms is noise
    problems += _repeated_number_problems(ordered)
    if complete:
        problems += _missing_number_problems(ordered)
        problems += _effective_order_problems(ordered)
        if not problems:
            problems += _due_date_problems(ordered)
    for version in ordered[1:]:
        problems += _same_field_problems(ordered[0], version)
    return problems


def _agreement_id_problems(ordered: Sequence[CheckedVersion]) -> list[DocumentError]:
    first = ordered[0]
    return [
        version.where.error(
            ("agreement",),
            f"must be the same in every version of the folder: {first.where.file} has "
            f"{shown(first.document.agreement)}; got {shown(version.document.agreement)}",
        )
        for version in ordered[1:]
        if version.document.agreement != first.document.agreement
    ]


def _repeated_number_problems(ordered: Sequence[CheckedVersion]) -> list[DocumentError]:
    first_file: dict[int, str] = {}
    problems = []
    for version in ordered:
        number = version.document.version
        if number in first_file:
            problems.append(version.where.error(("version",), f"version {number} is also in {first_file[number]}"))
        first_file.setdefault(number, version.where.file)
    return problems


def _missing_number_problems(ordered: Sequence[CheckedVersion]) -> list[DocumentError]:
    """A gap in 1..N is reported at the first version after it."""
    numbers = {version.document.version for version in ordered}
    last = max(numbers)
    problems = []
    for missing in sorted(set(range(1, last + 1)) - numbers):
        after = next(version for version in ordered if version.document.version > missing)
        message = f"version {missing} is missing: an agreement's versions are exactly 1..{last}"
        problems.append(after.where.error(("version",), message))
    return problems


def _effective_order_problems(ordered: Sequence[CheckedVersion]) -> list[DocumentError]:
    problems = []
    for before, version in zip(ordered, ordered[1:]):
        if version.document.version == before.document.version:
            continue  # a repeated number is reported on its own
        if version.document.effective <= before.document.effective:
            message = (
                f"must be later than version {before.document.version}'s effective date "
                f"({before.document.effective}); got {version.document.effective}"
            )
            problems.append(version.where.error(("effective",), message))
    return problems


def _due_date_problems(ordered: Sequence[CheckedVersion]) -> list[DocumentError]:
    """A period whose due date would fall past 9999-12-31 (SPEC §2 "Range"): the first such
    period of each version, at that version's payment terms. Period ends only grow, so a
    version's periods are all in range when the last one it governs is."""
    first = ordered[0].document
    periods = settlement_periods(first.term.start, first.term.end, first.settlement.period)
    starts = [period.start for period in periods]
    problems = []
    for number, version in enumerate(ordered):
        until = ordered[number + 1].document.effective if number + 1 < len(ordered) else DATE_MAX
        governed = periods[bisect.bisect_left(starts, version.document.effective) : bisect.bisect_left(starts, until)]
        days = version.document.settlement.payment_terms_days
        if not governed or add_days_or_none(governed[-1].end, days) is not None:
            continue
        period = next(period for period in governed if add_days_or_none(period.end, days) is None)
        message = (
            f"period {period.id} ends on {period.end} and would fall due {days} days later, "
            f"after {DATE_MAX}, the last date the engine handles; shorten the term or the payment terms"
        )
        problems.append(version.where.error(("settlement", "payment_terms_days"), message))
    return problems


def _same_field_problems(first: CheckedVersion, version: CheckedVersion) -> list[DocumentError]:
    """Where `version` differs from the first version in a part that is present in every version
    or in none, or in a field that may never change."""
    problems, absent = [], []
    for path, noun, has in PRESENT_IN_EVERY_VERSION:
        if has(first.document) != has(version.document):
            what = noun if has(first.document) else f"no {noun.removeprefix('a ')}"
            message = (
                "must be present in every version or in none: version "
                f"{first.document.version} ({first.where.file}) has {what}"
            )
            problems.append(version.where.error(path, message))
            absent.append(path)
    for path, value_of in SAME_IN_EVERY_VERSION:
        if any(path[: len(part)] == part for part in absent):
            continue
        expected, got = value_of(first.document), value_of(version.document)
        if expected != got:
            message = (
                f"must be the same in every version: version {first.document.version} "
                f"({first.where.file}) has {_described(expected)}; got {_described(got)}"
            )
            problems.append(version.where.error(path, message))
    return problems


def _described(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, frozenset):
        return ", ".join(f"{tranche_id} ({shares} shares)" for tranche_id, shares in sorted(value))
    return shown(value)


def repeated_agreement_problems(folders: Sequence[tuple[str, Sequence[CheckedVersion]]]) -> list[DocumentError]:
    """An agreement id defined by two folders is an error at the later folder (SPEC §3)."""
    first_folder: dict[str, str] = {}
    problems = []
    for folder, versions in folders:
        if not versions:
            continue
        first = min(versions, key=lambda version: version.document.version)
        agreement = first.document.agreement
        if agreement in first_folder:
            message = f"agreement {shown(agreement)} is also defined in {first_folder[agreement]}; ids are unique"
            problems.append(first.where.error(("agreement",), message))
        first_folder.setdefault(agreement, folder)
    return problems
