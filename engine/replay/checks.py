"""Static checks of an agreement's terms, for `backstop check` (risk teams' questions).

What could the guarantee cost at most? Can one period exhaust the cap? Do any terms never
take effect? Each answer is computed from the documents alone, exactly, per SPEC §5.3's
formulas in the guarantor's worst case: every pool idle all period long (sold 0) for the
lease-back; (v2) no revenue at all for the revenue floor's top-ups; and every debt-service
amount defaulted and called for the guarantee (§5.7: the call covers `covers` of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from engine.calendar import contract_year
from engine.documents.model import AllOf, AnyOf, LeaseBackTotalAtLeast, OnOrAfter, VwapAtLeast
from engine.numbers import EXACT, ZERO, format_amount, round_fraction
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


def worst_top_ups_by_period(terms: AgreementTerms) -> list[tuple[str, int, Decimal]]:
    """(v2) (period id, contract year, the top-up of the period with no revenue at all): the
    whole scheduled floor, rounded; 0 where the governing version has no revenue floor."""
    rows = []
    for period in terms.periods:
        floor = terms.version_for_period(period).document.revenue_floor
        top_up = ZERO
        if floor is not None:
            top_up = round_fraction(terms.scheduled_amount(floor.steps, period).value, terms.places, terms.mode)
        rows.append((period.id, contract_year(terms.first.term.start, period.start), top_up))
    return rows


def worst_calls_by_period(terms: AgreementTerms) -> list[tuple[str, int, Decimal]]:
    """(v2) (period id, contract year, the call on the period's debt service when none of it
    is paid): round(round(scheduled amount) × covers), `covers` of the version governing the
    period; 0 where it has no guarantee."""
    rows = []
    for period in terms.periods:
        guarantee = terms.version_for_period(period).document.guarantee
        call = ZERO
        if guarantee is not None:
            scheduled = terms.scheduled_amount(guarantee.debt_service, period).value
            owed = round_fraction(scheduled, terms.places, terms.mode)
            call = round_fraction(Fraction(owed) * Fraction(guarantee.covers), terms.places, terms.mode)
        rows.append((period.id, contract_year(terms.first.term.start, period.start), call))
    return rows


def static_findings(terms: AgreementTerms) -> list[Finding]:
    """Every static finding for one agreement, in a stable order."""
    findings: list[Finding] = []
    findings += _exposure_findings(terms)
    findings += _capped_findings(
        terms, worst_top_ups_by_period(terms), "top-ups", "no revenue at all",
        [terms.top_up_cap_in_force(version) for version in terms.versions], "top-up cap",
    )
    findings += _capped_findings(
        terms, worst_calls_by_period(terms), "guarantee calls", "every debt-service amount defaulted",
        [_guarantee_cap(version) for version in terms.versions], "guarantee's cap",
    )
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
        findings += _single_period_findings(terms, rows, cap, "cap")
    return findings


def _single_period_findings(terms: AgreementTerms, rows: list[tuple[str, int, Decimal]], cap: Decimal,
                            cap_name: str) -> list[Finding]:
    """A warning when one period's worst case alone can exhaust the cap."""
    exhausting = [period for period, _, total in rows if total >= cap]
    if not exhausting:
        return []
    more = f", and {len(exhausting) - 1} more" if len(exhausting) > 1 else ""
    return [Finding(terms.id, "warning", f"the {cap_name} {_money(terms, cap)} can be exhausted by a single "
                                         f"period ({exhausting[0]}{more})")]


def _guarantee_cap(version) -> Decimal | None:
    guarantee = version.document.guarantee
    return None if guarantee is None else guarantee.cap


def _capped_findings(terms: AgreementTerms, rows: list[tuple[str, int, Decimal]], what: str, when: str,
                     caps: list[Decimal | None], cap_name: str) -> list[Finding]:
    """(v2) The worst case of one capped exposure, per contract year and over the term, and
    when at worst it reaches each cap in force (the lease-back's has its own findings)."""
    if not any(total for _, _, total in rows):
        return []
    by_year: dict[int, Decimal] = {}
    for _, year, total in rows:
        by_year[year] = EXACT.add(by_year.get(year, ZERO), total)
    findings = [Finding(terms.id, "note", f"contract year {year}: {what} at most {_money(terms, total)} ({when})")
                for year, total in sorted(by_year.items())]
    over_term = sum((total for _, _, total in rows), ZERO)
    findings.append(Finding(terms.id, "note", f"over the term: {what} at most {_money(terms, over_term)} ({when})"))
    for cap in dict.fromkeys(cap for cap in caps if cap is not None):
        cumulative, reached = ZERO, None
        for period, year, total in rows:
            cumulative = EXACT.add(cumulative, total)
            if cumulative >= cap:
                reached = (period, year)
                break
        if reached is None:
            message = f"the {cap_name} {_money(terms, cap)} can never bind: {what} can reach at most {_money(terms, over_term)}"
        else:
            message = (f"the {cap_name} {_money(terms, cap)} is reached at worst in period {reached[0]} "
                       f"(contract year {reached[1]}), with {when}")
        findings.append(Finding(terms.id, "note", message))
        findings += _single_period_findings(terms, rows, cap, cap_name)
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
