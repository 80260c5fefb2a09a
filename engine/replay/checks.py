"""Static checks of an agreement's terms, for `backstop check` (risk teams' questions).

What could the guarantee cost at most? Can one period exhaust the cap? Do any terms never
take effect? Each answer is computed from the documents alone, exactly, per SPEC §5.3's
formulas with every pool idle all period long (sold 0): the guarantor's worst case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from engine.calendar import contract_year
from engine.documents.model import AllOf, AnyOf, LeaseBackTotalAtLeast, OnOrAfter, VwapAtLeast
from engine.numbers import EXACT, ZERO, format_amount
from engine.replay.rules import lease_back_target
from engine.replay.terms import AgreementTerms


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of a static check: `warning` when a term looks wrong, `note` to inform."""

    agreement: str
    severity: str  # "warning" | "note"
    message: str

    def __str__(self) -> str:
        return f"{self.agreement}: {self.severity}: {self.message}"


def worst_case_by_period(terms: AgreementTerms) -> list[tuple[str, int, Decimal]]:
    """(period id, contract year, the largest lease-back target of the period) for every period."""
    rows = []
    for period in terms.periods:
        document = terms.version_for_period(period).document
        total = ZERO
        if document.backstop is not None:
            for pool in document.pools:
                available = Decimal(pool.gpus * period.hours)
                result = lease_back_target(document.backstop, pool.gpu_model, available, ZERO, terms.places, terms.mode)
                total = EXACT.add(total, result.target)
        rows.append((period.id, contract_year(terms.first.term.start, period.start), total))
    return rows


def static_findings(terms: AgreementTerms) -> list[Finding]:
    """Every static finding for one agreement, in a stable order."""
    findings: list[Finding] = []
    findings += _exposure_findings(terms)
    findings += _step_findings(terms)
    findings += _tranche_findings(terms)
    findings += _idle_version_findings(terms)
    return findings


def _money(terms: AgreementTerms, amount: Decimal) -> str:
    return f"{format_amount(amount, terms.places)} {terms.first.currency}"


def _exposure_findings(terms: AgreementTerms) -> list[Finding]:
    rows = worst_case_by_period(terms)
    if not any(total for _, _, total in rows):
        return []
    findings = []
    by_year: dict[int, Decimal] = {}
    for _, year, total in rows:
        by_year[year] = EXACT.add(by_year.get(year, ZERO), total)
    for year, total in sorted(by_year.items()):
        findings.append(Finding(terms.id, "note", f"contract year {year}: lease-back at most {_money(terms, total)} (every pool idle)"))
    over_term = sum((total for _, _, total in rows), ZERO)
    findings.append(Finding(terms.id, "note", f"over the term: lease-back at most {_money(terms, over_term)} (every pool idle)"))
    seen_caps: set[Decimal] = set()
    for version in terms.versions:
        cap = terms.cap_in_force(version)
        if cap is None or cap in seen_caps:
            continue
        seen_caps.add(cap)
        findings.append(Finding(terms.id, "note", _cap_reached(terms, rows, cap)))
        exhausting = [period for period, _, total in rows if total >= cap]
        if exhausting:
            more = f", and {len(exhausting) - 1} more" if len(exhausting) > 1 else ""
            findings.append(Finding(terms.id, "warning", f"the cap {_money(terms, cap)} can be exhausted by a single "
                                                          f"period ({exhausting[0]}{more})"))
    return findings


def _cap_reached(terms: AgreementTerms, rows: list[tuple[str, int, Decimal]], cap: Decimal) -> str:
    """When the worst case first reaches a cap, or that it never does."""
    cumulative = ZERO
    for period, year, total in rows:
        cumulative = EXACT.add(cumulative, total)
        if cumulative >= cap:
            return (f"the cap {_money(terms, cap)} is reached at worst in period {period} "
                    f"(contract year {year}), when every pool stays idle")
    return f"the cap {_money(terms, cap)} can never bind: the whole term can entitle at most {_money(terms, cumulative)}"


def _step_findings(terms: AgreementTerms) -> list[Finding]:
    last_year = contract_year(terms.first.term.start, terms.periods[-1].start)
    findings = []
    for version in terms.versions:
        revenue_share = version.document.revenue_share
        if revenue_share is None:
            continue
        for index, step in enumerate(revenue_share.steps):
            if step.from_year > last_year:
                findings.append(Finding(
                    terms.id, "warning",
                    f"version {version.number}: revenue_share.steps[{index}] starts in contract year {step.from_year}, "
                    f"after the term's last contract year {last_year}; it never applies",
                ))
    return findings


def _tranche_findings(terms: AgreementTerms) -> list[Finding]:
    findings = []
    lease_back_max = sum((total for _, _, total in worst_case_by_period(terms)), ZERO)
    caps = [terms.cap_in_force(version) for version in terms.versions]
    if all(cap is not None for cap in caps) and caps:
        lease_back_max = min(lease_back_max, max(caps))
    for version in terms.versions:
        warrants = version.document.warrants
        if warrants is None:
            continue
        for index, tranche in enumerate(warrants.tranches):
            why = _never_holds(tranche.vests, warrants.expires, lease_back_max)
            if why:
                findings.append(Finding(
                    terms.id, "warning",
                    f"version {version.number}: tranche {tranche.id} (warrants.tranches[{index}]) can never vest before "
                    f"expiry {warrants.expires}: {why}",
                ))
    return findings


def _never_holds(condition, expires: date, lease_back_max: Decimal) -> str | None:
    """Why a condition cannot hold on any date before `expires`, or None when it can."""
    if isinstance(condition, OnOrAfter):
        return f"on_or_after {condition.on_or_after} is not before expiry" if condition.on_or_after >= expires else None
    if isinstance(condition, LeaseBackTotalAtLeast):
        if condition.lease_back_total_at_least > lease_back_max:
            return f"lease_back_total_at_least {condition.lease_back_total_at_least} exceeds the most that can be issued, {lease_back_max}"
        return None
    if isinstance(condition, VwapAtLeast):
        return None  # a share price can always rise
    if isinstance(condition, AllOf):
        reasons = [_never_holds(part, expires, lease_back_max) for part in condition.all]
        return next((reason for reason in reasons if reason), None)
    if isinstance(condition, AnyOf):
        reasons = [_never_holds(part, expires, lease_back_max) for part in condition.any]
        return "; ".join(reasons) if all(reasons) else None
    raise TypeError(f"unknown condition {condition!r}")


def _idle_version_findings(terms: AgreementTerms) -> list[Finding]:
    findings = []
    for before, after in zip(terms.versions, terms.versions[1:]):
        ignored = {"version", "effective", "title"}
        if before.document.model_dump(exclude=ignored) == after.document.model_dump(exclude=ignored):
            findings.append(Finding(terms.id, "warning", f"version {after.number} changes nothing of version {before.number}'s terms"))
    return findings
