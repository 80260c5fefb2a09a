"""What a report is made from: a ledger that verifies, and the documents it was made from.

`read_ledger` takes a written ledger's lines and gives its entries only when the ledger
verifies as `backstop verify LEDGER` would have it (canonical lines, intact hash chains):
a report vouches for its numbers, so it is never made from a ledger that was changed.
`match_documents` then holds every entry to the agreement documents at hand: its agreement,
its version and that version file's SHA-256 must be theirs, so that terms read from the
documents (late interest, caps, thresholds, titles) are the terms the ledger used.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

from engine.ledger import IssuedEntry
from engine.ledger.audit import check_ledger
from engine.reports.errors import ReportError

#: How many problems an error message lists before it counts the rest.
PROBLEMS_SHOWN_MAX = 5


def read_ledger(lines: Iterable[bytes]) -> list[dict]:
    """The entries of a ledger given as its physical lines (each with its LF), once it verifies."""
    raws = list(lines)
    report = check_ledger(raws)
    if not report.ok:
        shown = "; ".join(str(problem) for problem in report.problems[:PROBLEMS_SHOWN_MAX])
        more = report.problems_total - min(report.problems_total, PROBLEMS_SHOWN_MAX)
        raise ReportError(
            f"the ledger does not verify ({shown}{f'; and {more} more' if more else ''}); "
            "`backstop verify LEDGER` lists every problem"
        )
    return [json.loads(raw) for raw in raws]


def entry_fields(entries: Iterable[Mapping[str, Any] | IssuedEntry]) -> list[Mapping[str, Any]]:
    """Entries as field mappings, from `IssuedEntry` values or mappings, in ledger order."""
    return [entry.fields if isinstance(entry, IssuedEntry) else entry for entry in entries]


def match_documents(entries: Sequence[Mapping[str, Any]], agreements: Iterable[Any]) -> dict[str, Any]:
    """Agreement id → loaded agreement, once every entry names an agreement, version and
    document hash of `agreements`; raises `ReportError` listing the entries that do not."""
    by_id = {agreement.id: agreement for agreement in agreements}
    problems: list[str] = []
    for entry in entries:
        agreement = by_id.get(entry["agreement"])
        if agreement is None:
            problems.append(f"entry {entry['id']!r} is of agreement {entry['agreement']!r}, which CONTRACTS does not hold")
            continue
        versions = {version.number: version.sha256 for version in agreement.versions}
        if entry["version"] not in versions:
            problems.append(f"entry {entry['id']!r} uses version {entry['version']} of {agreement.id!r}, "
                            f"which has versions 1..{len(versions)}")
        elif versions[entry["version"]] != entry["document"]:
            problems.append(f"entry {entry['id']!r} was made with version {entry['version']} of {agreement.id!r} "
                            f"whose file had SHA-256 {entry['document']}; that version's file now has {versions[entry['version']]}")
    if problems:
        more = len(problems) - min(len(problems), PROBLEMS_SHOWN_MAX)
        raise ReportError(
            "the ledger was not made from these agreement documents: " + "; ".join(problems[:PROBLEMS_SHOWN_MAX])
            + (f"; and {more} more" if more else "")
        )
    return by_id


def by_agreement(entries: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Each agreement's entries, in ledger order."""
    found: dict[str, list[Mapping[str, Any]]] = {}
    for entry in entries:
        found.setdefault(entry["agreement"], []).append(entry)
    return found
