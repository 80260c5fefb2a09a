"""What the HTML audit report shows, as values: per agreement, read from the ledger and the
documents it was made from.

- the terms in force per version, with each version file's SHA-256;
- per pool and period, sold against available and the threshold, from the basis of the
  latest lease-back entry or adjustment of that key (a period without one had no lease-back:
  sold was at or above the threshold, or the period is not closed);
- the lease-back issued cumulatively (I), the entitlement (E) and the cap in force, entry by
  entry;
- per period, revenue, the floor and the top-up (v2), the revenue-share rate and the share
  issued, from the basis of the latest revenue-share or top-up entry of the period;
- (v2) per period, the debt service and how it was settled (paid by the provider, discharged
  by a guarantee call, still owed), and each call against the guarantee's cap with what its
  reimbursement still owes;
- warrant vesting, splits and exercises, dated;
- the statement's aging as of the report's date, the totals per kind, the chain head.

Nothing here reads an event: a period whose figures the ledger does not carry is shown as such.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, Iterable, Mapping

from engine.calendar import settlement_periods
from engine.numbers import EXACT, ZERO
from engine.reports.balances import Balances, rebuild_balances
from engine.reports.parties import roles
from engine.reports.sources import by_agreement, entry_fields, match_documents
from engine.reports.statement import AgreementStatement, agreement_statement

#: The kinds that record warrants vesting, changing and being exercised (SPEC §5.6).
WARRANT_KINDS = ("warrant_vested", "split_adjustment", "exercise_price", "share_delivery", "cash_in_lieu")
#: Document fields shown in a version's heading rather than among its terms.
HEADING_FIELDS = ("schema", "agreement", "version", "effective", "title")


@dataclass(frozen=True)
class VersionTerms:
    """One version: its number, effective date, file hash, and its terms as (path, value) rows."""

    number: int
    effective: date
    sha256: str
    schema: str
    terms: tuple[tuple[str, str], ...]  # document path (as `basis.rule` names it) → value as written


@dataclass(frozen=True, slots=True)
class UsagePoint:
    """One pool's figures for one period, as the latest lease-back entry of that key used them."""

    pool: str
    period: str
    available: Decimal
    sold: Decimal
    threshold: Decimal
    issued: Decimal  # the key's lease-back entry and adjustments, summed
    entry: str  # the entry whose basis gave the figures


@dataclass(frozen=True, slots=True)
class CapPoint:
    """The lease-back issued (I) and the entitlement (E) just after one lease-back entry."""

    date: date
    entry: str
    amount: Decimal
    issued: Decimal
    entitled: Decimal
    cap: Decimal | None


@dataclass(frozen=True, slots=True)
class RevenuePoint:
    """One period's revenue, floor (v2), top-up (v2) and revenue share, as the latest entries
    of its revenue-share and top-up keys used them."""

    period: str
    revenue: Decimal
    floor: Fraction | None  # (v2) the scheduled floor, exactly, when an entry of the period names it
    floor_text: str | None  # as the ledger writes it: `45000000`, or `17000000/31 ≈ 548387.096774`
    rate: Decimal | None  # None when the period has no revenue-share entry
    contract_year: int
    share: Decimal  # the period's revenue-share entry and adjustments, summed
    top_up: Decimal  # (v2) the period's top-up entry and adjustments, summed
    entry: str  # the latest entry whose basis gave the figures


@dataclass(frozen=True, slots=True)
class DebtServicePoint:
    """(v2) One period's debt service and what became of it: paid by the provider, discharged
    by a guarantee call (now owed by the guarantor), or still owed."""

    period: str
    due: date
    amount: Decimal
    paid: Decimal
    discharged: Decimal
    owed: Decimal
    entry: str


@dataclass(frozen=True, slots=True)
class CallPoint:
    """(v2) One guarantee call: its amount, the cap in force, and what the provider still owes
    the guarantor back on its reimbursement."""

    date: date
    entry: str
    obligation: str
    amount: Decimal
    called: Decimal  # the calls so far, this one included
    cap: Decimal | None
    reimbursement: str
    reimbursement_owed: Decimal


@dataclass(frozen=True, slots=True)
class Listed:
    """A warrant entry listed as it is: vesting, a split's change, an exercise's parts."""

    date: date
    id: str
    kind: str
    period: str | None
    subject: str | None  # the tranche it concerns
    debtor: str
    creditor: str
    amount: Decimal
    unit: str


@dataclass(frozen=True)
class AgreementReport:
    id: str
    title: str | None
    currency: str
    places: int
    parties: Mapping[str, str]  # role → party
    versions: tuple[VersionTerms, ...]
    usage: tuple[UsagePoint, ...]  # by pool, then period
    lease_back: tuple[CapPoint, ...]
    revenue: tuple[RevenuePoint, ...]
    debt_service: tuple[DebtServicePoint, ...]  # (v2)
    calls: tuple[CallPoint, ...]  # (v2)
    warrants: tuple[Listed, ...]
    aging: AgreementStatement
    totals: Mapping[str, Decimal]  # kind → sum of amounts, as the summary's `totals`
    head: str | None
    entries: int
    periods: tuple[str, ...]  # the term's period ids, in order


@dataclass(frozen=True)
class AuditReport:
    as_of: date
    agreements: tuple[AgreementReport, ...]


def audit_report(entries: Iterable[Mapping[str, Any]], agreements: Iterable[Any], as_of: date | None = None) -> AuditReport:
    """The audit report's contents for every agreement of `agreements`; aging as of `as_of`
    (default: the latest date in the ledger, so that the report depends on nothing else)."""
    fields = entry_fields(entries)
    loaded = match_documents(fields, agreements)
    if as_of is None:
        as_of = max((date.fromisoformat(entry["date"]) for entry in fields), default=None)
        if as_of is None:
            as_of = min(agreement.versions[0].document.term.start for agreement in loaded.values())
    balances = rebuild_balances(fields)
    grouped = by_agreement(fields)
    return AuditReport(as_of, tuple(
        _agreement_report(loaded[name], grouped.get(name, []), balances, agreement_statement(balances, loaded[name], as_of))
        for name in sorted(loaded)
    ))


def version_terms(version: Any) -> VersionTerms:
    """A version's terms flattened to (path, value) rows in document order: `pools[gb300-a].gpus`,
    `backstop.rate_per_gpu_hour.GB300`; a warrant condition stays one value."""
    document = version.document
    dumped = document.model_dump(mode="json", by_alias=True, exclude_none=True)
    rows: list[tuple[str, str]] = []
    for name, value in dumped.items():
        if name not in HEADING_FIELDS:
            _flatten(name, value, rows)
    return VersionTerms(version.number, document.effective, version.sha256, document.schema_, tuple(rows))


def _flatten(path: str, value: Any, rows: list[tuple[str, str]]) -> None:
    if path.endswith(".vests"):
        rows.append((path, json.dumps(value, separators=(", ", ": "))))
    elif isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{path}.{key}", inner, rows)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            label = inner["id"] if isinstance(inner, dict) and "id" in inner else index
            _flatten(f"{path}[{label}]", {k: v for k, v in inner.items() if k != "id"} if isinstance(inner, dict) else inner, rows)
    else:
        rows.append((path, value if isinstance(value, str) else json.dumps(value)))


def _agreement_report(agreement: Any, entries: list[Mapping[str, Any]], balances: Balances, aging: AgreementStatement) -> AgreementReport:
    first = agreement.versions[0].document
    totals: dict[str, Decimal] = {}
    for entry in entries:
        totals[entry["kind"]] = EXACT.add(totals.get(entry["kind"], ZERO), Decimal(entry["amount"]))
    periods = settlement_periods(first.term.start, first.term.end, first.settlement.period)
    return AgreementReport(
        id=agreement.id, title=first.title, currency=first.currency, places=first.settlement.rounding.places,
        parties=roles(agreement), versions=tuple(version_terms(version) for version in agreement.versions),
        usage=_usage(entries), lease_back=_lease_back(entries), revenue=_revenue(entries),
        debt_service=_debt_service(entries, balances), calls=_calls(entries, balances), warrants=_listed(entries, WARRANT_KINDS),
        aging=aging, totals=dict(sorted(totals.items())), head=entries[-1]["hash"] if entries else None,
        entries=len(entries), periods=tuple(period.id for period in periods),
    )


def _of(entry: Mapping[str, Any]) -> str:
    """The kind an entry's amount counts toward: its own, or for an adjustment the kind it adjusts."""
    return entry["of"] if entry["kind"] == "adjustment" else entry["kind"]


def _usage(entries: list[Mapping[str, Any]]) -> tuple[UsagePoint, ...]:
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    issued: dict[tuple[str, str], Decimal] = {}
    for entry in entries:
        if _of(entry) == "lease_back":
            key = (entry["pool"], entry["period"])
            latest[key] = entry
            issued[key] = EXACT.add(issued.get(key, ZERO), Decimal(entry["amount"]))
    points = []
    for key in sorted(latest):
        inputs = latest[key]["basis"]["inputs"]
        points.append(UsagePoint(
            pool=key[0], period=key[1], available=Decimal(inputs["available_gpu_hours"]),
            sold=Decimal(inputs["sold_gpu_hours"]), threshold=Decimal(inputs["threshold"]),
            issued=issued[key], entry=latest[key]["id"],
        ))
    return tuple(points)


def _lease_back(entries: list[Mapping[str, Any]]) -> tuple[CapPoint, ...]:
    points, issued, entitled = [], ZERO, ZERO
    for entry in entries:
        if _of(entry) != "lease_back":
            continue
        amount = Decimal(entry["amount"])
        issued = EXACT.add(issued, amount)
        entitled = EXACT.add(entitled, Decimal(entry.get("uncapped", entry["amount"])))
        cap = entry["basis"]["inputs"]["cap"]  # "none" when no cap was in force
        points.append(CapPoint(date.fromisoformat(entry["date"]), entry["id"], amount, issued, entitled,
                               None if cap == "none" else Decimal(cap)))
    return tuple(points)


def _revenue(entries: list[Mapping[str, Any]]) -> tuple[RevenuePoint, ...]:
    latest: dict[str, Mapping[str, Any]] = {}  # period → its latest revenue-share or top-up entry
    rates: dict[str, Decimal] = {}
    issued: dict[tuple[str, str], Decimal] = {}
    for entry in entries:
        kind = _of(entry)
        if kind in ("revenue_share", "revenue_top_up"):
            period, inputs = entry["period"], entry["basis"]["inputs"]
            latest[period] = entry
            if kind == "revenue_share":
                rates[period] = Decimal(inputs["rate"])
            issued[(period, kind)] = EXACT.add(issued.get((period, kind), ZERO), Decimal(entry["amount"]))
    points = []
    for period in sorted(latest):
        inputs = latest[period]["basis"]["inputs"]
        points.append(RevenuePoint(
            period=period, revenue=Decimal(inputs["revenue"]),
            floor=_exact(inputs["floor"]) if "floor" in inputs else None, floor_text=inputs.get("floor"), rate=rates.get(period),
            contract_year=int(inputs["contract_year"]), share=issued.get((period, "revenue_share"), ZERO),
            top_up=issued.get((period, "revenue_top_up"), ZERO), entry=latest[period]["id"],
        ))
    return tuple(points)


def _exact(text: str) -> Fraction:
    """A scheduled amount as `basis` writes it: a decimal, or `p/q ≈ approximation` when it has
    no finite decimal form (the `p/q` is the value used)."""
    return Fraction(text.split(" ≈ ", 1)[0])


def _debt_service(entries: list[Mapping[str, Any]], balances: Balances) -> tuple[DebtServicePoint, ...]:
    """Each debt service, and how much of it payments and discharges settled (their `applied`)."""
    settled: dict[tuple[str, str], Decimal] = {}  # (obligation, "payment" or "discharge") → amount
    for entry in entries:
        if entry["kind"] in ("payment", "discharge"):
            for item in entry["applied"]:
                key = (item["entry"], entry["kind"])
                settled[key] = EXACT.add(settled.get(key, ZERO), Decimal(item["amount"]))
    return tuple(
        DebtServicePoint(entry["period"], date.fromisoformat(entry["due"]), Decimal(entry["amount"]),
                         EXACT.add(settled.get((entry["id"], "payment"), ZERO), Decimal(entry.get("credit_applied", "0"))),
                         settled.get((entry["id"], "discharge"), ZERO), balances.outstanding.get(entry["id"], ZERO), entry["id"])
        for entry in entries if entry["kind"] == "debt_service"
    )


def _calls(entries: list[Mapping[str, Any]], balances: Balances) -> tuple[CallPoint, ...]:
    reimbursements = {entry["obligation"]: entry["id"] for entry in entries if entry["kind"] == "reimbursement"}
    points, called = [], ZERO
    for entry in entries:
        if entry["kind"] == "guarantee_call":
            amount, cap = Decimal(entry["amount"]), entry["basis"]["inputs"]["cap"]
            called = EXACT.add(called, amount)
            reimbursement = reimbursements[entry["obligation"]]
            points.append(CallPoint(date.fromisoformat(entry["date"]), entry["id"], entry["obligation"], amount, called,
                                    None if cap == "none" else Decimal(cap), reimbursement,
                                    balances.outstanding.get(reimbursement, ZERO)))
    return tuple(points)


def _listed(entries: list[Mapping[str, Any]], kinds: tuple[str, ...]) -> tuple[Listed, ...]:
    found = []
    for entry in entries:
        if entry["kind"] in kinds:
            found.append(Listed(date.fromisoformat(entry["date"]), entry["id"], entry["kind"], entry.get("period"),
                                entry.get("tranche"), entry["debtor"], entry["creditor"], Decimal(entry["amount"]), entry["unit"]))
    return tuple(found)
