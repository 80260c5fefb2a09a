"""`backstop validate`, `schema` and `check`: the agreement documents, read and stress-tested."""

from __future__ import annotations

import argparse
import json
import os
from decimal import Decimal

from engine.cli.progress import Progress
from engine.cli.status import EXIT_OK, EXIT_REJECTED, UsageFailure
from engine.documents.loader import load_agreements
from engine.documents.model import AgreementDocument


def run_validate(args: argparse.Namespace) -> int:
    for agreement in load_agreements(args.contracts):
        print(agreement.id)
        for version in agreement.versions:
            document = version.document
            print(f"  version {version.number}  effective {document.effective}  sha256 {version.sha256}  {version.path}")
            print(f"    {document.schema_}: {', '.join(clause_terms(document))}")
    return EXIT_OK


def clause_terms(document: AgreementDocument) -> list[str]:
    """The clauses a version has, each with the terms that bound what the guarantor can owe."""
    clauses = []
    if document.backstop is not None:
        clauses.append(f"backstop (cap {_cap(document.backstop.cap)})")
    if document.revenue_share is not None:
        clauses.append("revenue_share" + (" above the floor" if document.revenue_share.above_floor else ""))
    if document.warrants is not None:
        clauses.append(f"warrants ({len(document.warrants.tranches)} tranches)")
    if document.revenue_floor is not None:
        floor = document.revenue_floor
        clauses.append(f"revenue_floor ({len(floor.steps)} steps, cap {_cap(floor.cap)})")
    if document.guarantee is not None:
        guarantee = document.guarantee
        clauses.append(
            f"guarantee of debt service to {document.parties.lender} (covers {guarantee.covers:f}, "
            f"cure {guarantee.cure_days} days, cap {_cap(guarantee.cap)})"
        )
    return clauses


def _cap(cap: Decimal | None) -> str:
    return "none" if cap is None else f"{cap:f}"


def run_schema(args: argparse.Namespace) -> int:
    from engine.documents.schema import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    """Static findings, then generated logs through every invariant; 0 only when all holds."""
    from engine.replay.checks import static_findings
    from engine.replay.terms import AgreementTerms

    try:
        from engine.testing.stress import stress_agreement
    except ImportError as error:
        raise UsageFailure(f"backstop check generates logs with Hypothesis: {error}") from None
    agreements = load_agreements(args.contracts)
    if not os.path.isdir(args.out):
        raise UsageFailure(f"--out {args.out} is not a folder")
    all_hold = True
    for loaded in agreements:
        print(loaded.id)
        for finding in static_findings(AgreementTerms(loaded.id, loaded.versions)):
            print(f"  {finding.severity}: {finding.message}")
            all_hold &= finding.severity != "warning"
        progress = Progress(None, noun=f"generated logs of {args.examples}", every=1)
        result = stress_agreement(loaded, examples=args.examples, seed_value=args.seed, on_example=progress.update)
        progress.done()
        if result.ok:
            print(f"  {result.examples} generated logs (seed {args.seed}): every invariant holds")
            continue
        all_hold = False
        path = os.path.join(args.out, f"{loaded.id}.failing.jsonl")
        with open(path, "w", encoding="utf-8") as failing:
            failing.writelines(line + "\n" for line in result.failing_lines)
        print(f"  FAILED after {result.examples} generated logs (seed {args.seed}): {result.failure}")
        print(f"  the smallest failing log ({len(result.failing_lines)} lines) is in {path}; replay it with:")
        print(f"    backstop replay {args.contracts} {path}")
    return EXIT_OK if all_hold else EXIT_REJECTED
