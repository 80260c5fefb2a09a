"""Invariant checks for backstop ledgers, usable in your own tests (SPEC §0, §5, §6, §7).

Each `check_*` function raises `AssertionError` when an invariant breaks; the message starts
with the invariant's name and says on which entry (id, seq) or line it broke, with the
numbers involved. Checks that replay take the agreements in any of these forms: loaded
agreements (`load_agreements`), version documents as mappings (one or a list, several
agreements allowed), or a CONTRACTS path. Lines are `str` or `bytes`, without line ends;
blank lines are skipped but counted for line numbers, as in a file.

Checks that read a ledger take its entries in any of these forms: `IssuedEntry` values, the
entries' field mappings, or ledger lines (`bytes`/`str`), or a whole ledger as one `bytes`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import wraps
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from engine.ledger import IssuedEntry
from engine.replay import Engine, LineOutcome
from engine.reports.balances import OBLIGATION_KINDS, SHARE_KINDS

GENESIS = "0" * 64
#: Which role owes which for each kind (an adjustment: the kind it adjusts): how the checks
#: that have only the ledger learn who is the provider, the guarantor and the lender.
ROLES_OF_KIND = {
    "lease_back": ("guarantor", "provider"), "exercise_price": ("guarantor", "provider"),
    "revenue_top_up": ("guarantor", "provider"), "revenue_share": ("provider", "guarantor"),
    "cash_in_lieu": ("provider", "guarantor"), "reimbursement": ("provider", "guarantor"),
    **{kind: ("provider", "guarantor") for kind in SHARE_KINDS},
    "debt_service": ("provider", "lender"), "discharge": ("provider", "lender"), "guarantee_call": ("guarantor", "lender"),
}
#: Fields that record how an amount came about rather than what it is: the events it derives
#: from (their ids and log order) and the chain links, which hash those.
PROVENANCE_FIELDS = frozenset({"events", "hash", "prev"})


_Check = TypeVar("_Check", bound=Callable[..., None])


def _exact(check: _Check) -> _Check:
    """Run a check's decimal arithmetic with digits to spare, as the engine's is: a sum of
    20-digit amounts must not be rounded to 28 significant digits on the way."""

    @wraps(check)
    def exactly(*args, **kwargs):
        with localcontext(prec=1000):
            return check(*args, **kwargs)

    return exactly  # type: ignore[return-value]


# =============================================================================================
# Replaying
# =============================================================================================


@dataclass(frozen=True)
class Replayed:
    """The result of a replay: one outcome per non-blank line, the entries, the summary."""

    outcomes: tuple[LineOutcome, ...]
    entries: tuple[IssuedEntry, ...]
    summary: dict

    @property
    def ledger(self) -> bytes:
        """The ledger file's bytes: every entry's canonical line, in issue order."""
        return b"".join(entry.line for entry in self.entries)

    @property
    def statuses(self) -> tuple[tuple[int, str], ...]:
        return tuple((outcome.line, outcome.status) for outcome in self.outcomes)

    def counts(self) -> tuple[int, int, int, int]:
        """(lines, applied, duplicates, rejected) as the summary gives them."""
        summary = self.summary
        return summary["lines"], summary["applied"], summary["duplicates"], len(summary["rejected"])


def replay_lines(
    agreements: Any, lines: Iterable[str | bytes], *, close_through: date | None = None, how: str = "lines"
) -> Replayed:
    """Replay `lines` in a fresh engine, fed one line at a time (`how="lines"`) or as one
    LF-joined stream (`how="stream"`); then `close_through`, as the command line does."""
    engine = Engine(loaded_agreements(agreements))
    raws = [_as_bytes(line) for line in lines]
    outcomes: list[LineOutcome] = []
    if how == "lines":
        for number, raw in enumerate(raws, start=1):
            if not is_blank(raw):
                outcomes.append(engine.feed_line(raw, number))
    elif how == "stream":
        outcomes.extend(engine.feed_stream(io.BytesIO(join_lines(raws))))
    else:
        raise ValueError(f'how must be "lines" or "stream"; got {how!r}')
    entries = [entry for outcome in outcomes for entry in outcome.entries]
    if close_through is not None:
        entries.extend(engine.close_through(close_through))
    return Replayed(tuple(outcomes), tuple(entries), engine.summary())


def loaded_agreements(agreements: Any) -> tuple:
    """Agreements as `Engine` takes them, from loaded agreements, mappings or a path."""
    from engine.documents.loader import LoadedAgreement, load_agreements, load_agreements_from_mappings

    if isinstance(agreements, (str, os.PathLike)):
        return load_agreements(agreements)
    if isinstance(agreements, LoadedAgreement):
        return (agreements,)
    if isinstance(agreements, Mapping):
        return load_agreements_from_mappings([agreements])
    items = list(agreements)
    if all(isinstance(item, LoadedAgreement) for item in items):
        return tuple(items)
    documents: list[Mapping] = []
    for item in items:
        if isinstance(item, Mapping):
            documents.append(item)
        elif isinstance(item, (list, tuple)) and all(isinstance(inner, Mapping) for inner in item):
            documents.extend(item)
        else:
            raise TypeError(
                "agreements must be loaded agreements, version documents (mappings), lists of them, "
                f"or a CONTRACTS path; got an item of type {type(item).__name__}"
            )
    return load_agreements_from_mappings(documents)


def is_blank(raw: bytes) -> bool:
    """SPEC §4: empty or only spaces and tabs (one CR of a CRLF end aside)."""
    return not raw.removesuffix(b"\r").strip(b" \t")


def join_lines(raws: Sequence[bytes], end: bytes = b"\n") -> bytes:
    return b"".join(raw + end for raw in raws)


# =============================================================================================
# The ledger alone
# =============================================================================================


def check_chain_integrity(ledger: Any, *, summary: Mapping | None = None) -> None:
    """Every agreement's entries form an intact hash chain, written in canonical JSON (SPEC §6).

    For each line: it is one JSON object written exactly in canonical form (sorted keys, no
    white space, only `"`, `\\` and control characters escaped) and ending in LF where line
    ends are given; `hash` is the SHA-256 of the entry without `hash`; `seq` counts 1, 2, 3 …
    within the agreement and `prev` is the previous entry's hash (64 zeros first). Entry ids
    are unique. With a `summary`, each agreement's `head` is its last entry's hash and
    `entries` its count. The engine's own auditor (`engine.ledger.audit.check_ledger`) must agree.
    """
    raws = _ledger_lines(ledger)
    heads: dict[str, str] = {}
    counts: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for number, raw in enumerate(raws, start=1):
        where = f"ledger line {number}"
        body = raw[:-1] if raw.endswith(b"\n") else raw
        _require(b"\n" not in body and b"\r" not in body, "chain integrity", f"{where} holds a line break inside the entry")
        try:
            entry = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise AssertionError(f"chain integrity: {where} is not one UTF-8 JSON object: {error}") from None
        _require(isinstance(entry, dict), "chain integrity", f"{where} is not a JSON object")
        entry_id, agreement = entry.get("id"), entry.get("agreement")
        where = f"{where} (entry {entry_id!r})"
        canonical = _canonical(entry).encode("utf-8")
        _require(body == canonical, "chain integrity", f"{where} is not in canonical JSON form:\n  written:   {body[:200]!r}\n  canonical: {canonical[:200]!r}")
        for name in ("id", "agreement", "seq", "prev", "hash"):
            _require(name in entry, "chain integrity", f"{where} has no {name!r}")
        expected_hash = hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"}).encode("utf-8")).hexdigest()
        _require(entry["hash"] == expected_hash, "chain integrity", f"{where}: hash {entry['hash']} is not the SHA-256 of its content ({expected_hash})")
        expected_seq = counts.get(agreement, 0) + 1
        _require(entry["seq"] == expected_seq, "chain integrity", f"{where}: seq {entry['seq']}, expected {expected_seq} in agreement {agreement!r}")
        expected_prev = heads.get(agreement, GENESIS)
        _require(entry["prev"] == expected_prev, "chain integrity", f"{where}: prev {entry['prev']} does not link to the previous entry of {agreement!r} ({expected_prev})")
        _require(entry_id not in seen_ids, "chain integrity", f"{where}: id already used by ledger line {seen_ids.get(entry_id)}")
        seen_ids[entry_id] = number
        heads[agreement], counts[agreement] = entry["hash"], expected_seq
    if summary is not None:
        for agreement, facts in summary.get("agreements", {}).items():
            _require(facts["head"] == heads.get(agreement), "chain integrity",
                     f"summary head of {agreement!r} is {facts['head']}, the ledger's last entry hash is {heads.get(agreement)}")
            _require(facts["entries"] == counts.get(agreement, 0), "chain integrity",
                     f"summary says {agreement!r} has {facts['entries']} entries; the ledger has {counts.get(agreement, 0)}")
    from engine.ledger.audit import check_ledger

    report = check_ledger(raw if raw.endswith(b"\n") else raw + b"\n" for raw in raws)
    _require(report.ok, "chain integrity",
             f"engine.ledger.audit.check_ledger disagrees with this check: {'; '.join(map(str, report.problems))}")


def check_line_accounting(summary: Mapping, non_blank_lines: int | Iterable[str | bytes]) -> None:
    """Every non-blank line of input is accounted for exactly once (SPEC §0, §7, §8).

    `applied + duplicates + rejected = lines = the number of non-blank lines`; every
    rejection has a reason and a line number ≥ 1, and no line is rejected twice.
    `non_blank_lines` is that number, or the lines themselves (blank ones are not counted).
    """
    if isinstance(non_blank_lines, int):
        expected = non_blank_lines
    else:
        expected = sum(1 for line in non_blank_lines if not is_blank(_as_bytes(line)))
    lines, applied, duplicates = summary["lines"], summary["applied"], summary["duplicates"]
    rejected = summary["rejected"]
    _require(lines == expected, "line accounting", f"summary counts {lines} lines; the input has {expected} non-blank lines")
    _require(
        applied + duplicates + len(rejected) == lines, "line accounting",
        f"applied {applied} + duplicates {duplicates} + rejected {len(rejected)} = "
        f"{applied + duplicates + len(rejected)}, not the {lines} non-blank lines",
    )
    numbers = [rejection["line"] for rejection in rejected]
    _require(len(set(numbers)) == len(numbers), "line accounting", f"a line is rejected twice: line numbers {numbers}")
    for rejection in rejected:
        _require(isinstance(rejection["line"], int) and rejection["line"] >= 1, "line accounting", f"rejection {rejection} has no line number ≥ 1")
        _require(bool(rejection.get("reason")), "line accounting", f"line {rejection['line']} is rejected without a reason")


@_exact
def check_cap_respected(entries: Any, cap: Decimal | str | int | None, *, of: str = "lease_back") -> None:
    """The guarantor never pays more lease-back than the cap (SPEC §5.3), with a constant cap.

    `of="revenue_top_up"` checks the revenue floor's top-ups against their own cap (v2)
    instead: the entries of the other kind never count, so that passing both checks shows
    that the two caps never share a cent.

    Per agreement, in ledger order: I, the lease-back issued so far (every `lease_back`
    entry and lease-back adjustment), never exceeds the cap; and after every such entry I
    equals min(cap, E), where E, the entitlement, sums every change d (an entry's `uncapped`
    when the cap changed its amount, else its amount). So an amount cut by the cap is never
    issued later, and a cut never claws back what the cap let through. `cap` None: I = E.
    An `uncapped` field is present only where the cap changed the amount.
    """
    limit = None if cap is None else Decimal(str(cap))
    issued: dict[str, Decimal] = {}
    entitled: dict[str, Decimal] = {}
    for entry in _entry_fields(entries):
        if not (entry["kind"] == of or (entry["kind"] == "adjustment" and entry.get("of") == of)):
            continue
        agreement = entry["agreement"]
        amount = Decimal(entry["amount"])
        change = Decimal(entry["uncapped"]) if "uncapped" in entry else amount
        if "uncapped" in entry:
            _require(change != amount, "cap", f"{_where(entry)} records uncapped {entry['uncapped']} equal to its amount {entry['amount']}")
            _require(limit is not None, "cap", f"{_where(entry)} records uncapped {entry['uncapped']} but there is no cap")
        issued[agreement] = issued.get(agreement, Decimal(0)) + amount
        entitled[agreement] = entitled.get(agreement, Decimal(0)) + change
        total, entitlement = issued[agreement], entitled[agreement]
        if limit is not None:
            _require(total <= limit, "cap", f"after {_where(entry)} (amount {entry['amount']}) the lease-back issued is {total}, above the cap {limit}")
        expected = entitlement if limit is None else min(limit, entitlement)
        _require(
            total == expected, "cap",
            f"after {_where(entry)} (amount {entry['amount']}, change {change}) the lease-back issued is {total}; "
            f"min(cap {limit if limit is not None else 'none'}, entitlement {entitlement}) is {expected}",
        )


@_exact
def check_guarantee_calls(entries: Any, documents: Any) -> None:
    """(v2) Guarantee calls follow SPEC §5.7, from the ledger and the documents alone.

    Every `guarantee_call` names a `debt_service` entry of its agreement, never one called
    before, and is followed at once by its `discharge` (−c, provider → lender) and its
    `reimbursement` (c, provider → guarantor) on the same obligation and date. Its amount c
    is never more than round(covers × what the debt service still owed), nor than what the
    guarantee's cap left; `uncapped` records that round(…) where the cap cut it. A discharge
    never takes more than its obligation owed, and every reimbursement matches a call.
    """
    from engine.reports import BalanceFold, LedgerInconsistent

    loaded = {agreement.id: agreement for agreement in loaded_agreements(documents)}
    fields = _entry_fields(entries)
    fold = BalanceFold()  # the balances just before each entry, as the rebuild of SPEC §5.5 has them
    called: set[str] = set()
    calls: dict[str, Decimal] = {}
    for position, entry in enumerate(fields):
        _check_call(entry, position, fields, fold, loaded, called, calls)
        try:
            fold.add(entry)
        except LedgerInconsistent as error:
            raise AssertionError(f"guarantee: {error}") from None


def _check_call(entry: dict, position: int, fields: list[dict], fold, loaded: dict, called: set[str],
                calls: dict[str, Decimal]) -> None:
    """One entry of `check_guarantee_calls`, on the balances just before it."""
    kind, amount = entry["kind"], Decimal(entry["amount"]) if entry["kind"] not in SHARE_KINDS else None
    if kind == "reimbursement":
        before = fields[position - 2] if position >= 2 else {}
        _require(before.get("kind") == "guarantee_call" and before.get("obligation") == entry["obligation"]
                 and Decimal(before["amount"]) == amount, "guarantee",
                 f"{_where(entry)} reimburses {amount} with no call of that amount on {entry['obligation']} just before")
    if kind != "guarantee_call":
        return
    target = entry["obligation"]
    guarantee = loaded[entry["agreement"]].versions[entry["version"] - 1].document.guarantee
    _require(target.startswith(f"{entry['agreement']}/") and target.endswith("/debt_service"), "guarantee",
             f"{_where(entry)} calls {target!r}, which is not a debt-service entry of its agreement")
    _require(target not in called, "guarantee", f"{_where(entry)} calls {target} a second time")
    called.add(target)
    outstanding = fold.outstanding.get(target, Decimal(0))
    agreement = loaded[entry["agreement"]]
    covered = _rounded(Fraction(outstanding) * Fraction(guarantee.covers), _places(agreement), _mode(agreement))
    _require(0 < amount <= covered, "guarantee",
             f"{_where(entry)} calls {amount}; covers {guarantee.covers} × the {outstanding} still owed is {covered}")
    so_far = calls.get(entry["agreement"], Decimal(0))
    if guarantee.cap is not None:
        _require(so_far + amount <= guarantee.cap, "guarantee",
                 f"{_where(entry)} brings the calls to {so_far + amount}, above the guarantee's cap {guarantee.cap}")
    _require(("uncapped" in entry) == (amount != covered), "guarantee",
             f"{_where(entry)}: uncapped {entry.get('uncapped')} but the covered amount is {covered}")
    calls[entry["agreement"]] = so_far + amount
    discharge, reimbursement = (fields[position + 1: position + 3] + [{}, {}])[:2]
    _require(discharge.get("kind") == "discharge" and Decimal(discharge["amount"]) == -amount
             and discharge.get("obligation") == target and discharge.get("date") == entry["date"], "guarantee",
             f"{_where(entry)} is not followed by its discharge of {-amount} on {target}")
    _require(-Decimal(discharge["amount"]) <= outstanding, "guarantee",
             f"{_where(discharge)} discharges {-Decimal(discharge['amount'])}; {target} owed only {outstanding}")
    _require(reimbursement.get("kind") == "reimbursement" and reimbursement.get("date") == entry["date"]
             and (reimbursement["debtor"], reimbursement["creditor"]) == (discharge["debtor"], entry["debtor"]),
             "guarantee", f"{_where(entry)} is not followed by the provider's reimbursement of the guarantor")


def _places(agreement) -> int:
    return agreement.versions[0].document.settlement.rounding.places


def _mode(agreement) -> str:
    return agreement.versions[0].document.settlement.rounding.mode


@_exact
def check_step_downs_only(entries: Any, *, documents: Any = None) -> None:
    """The revenue-share rate never rises over the term (SPEC §3: a step-down schedule).

    Reads `basis.inputs.rate` and `basis.inputs.contract_year` of every revenue-share entry
    and revenue-share adjustment. Within one version's terms, a later contract year never
    has a higher rate, and one contract year has one rate. With the agreement's
    `documents` (version mappings or loaded agreements), each rate must also be the step of
    that version with the largest `from_year` ≤ the contract year of the period's start,
    the contract year being computed here from `term.start` (29 February starts included).
    """
    rates: dict[tuple[str, int], dict[int, tuple[Decimal, dict]]] = {}
    schedule = _schedules(documents) if documents is not None else None
    for entry in _entry_fields(entries):
        if not _is_revenue_share(entry):
            continue
        inputs = entry.get("basis", {}).get("inputs", {})
        _require("rate" in inputs and "contract_year" in inputs, "step-downs only",
                 f"{_where(entry)} has no basis.inputs.rate and contract_year to read: {inputs}")
        rate, year = Decimal(inputs["rate"]), int(inputs["contract_year"])
        by_year = rates.setdefault((entry["agreement"], entry["version"]), {})
        if year in by_year:
            earlier_rate, earlier = by_year[year]
            _require(rate == earlier_rate, "step-downs only",
                     f"{_where(entry)} uses rate {rate} in contract year {year}; {_where(earlier)} used {earlier_rate}")
        by_year[year] = (rate, entry)
        if schedule is not None:
            _check_scheduled_rate(entry, rate, year, schedule)
    for (agreement, version), by_year in rates.items():
        years = sorted(by_year)
        for before, after in zip(years, years[1:]):
            (rate_before, entry_before), (rate_after, entry_after) = by_year[before], by_year[after]
            _require(
                rate_after <= rate_before, "step-downs only",
                f"revenue-share rate rises from {rate_before} in contract year {before} ({_where(entry_before)}) "
                f"to {rate_after} in contract year {after} ({_where(entry_after)}), version {version} of {agreement!r}",
            )


@_exact
def check_outstanding_rebuilt(entries: Any, summary: Mapping) -> None:
    """What is owed can be rebuilt from the ledger alone (SPEC §5.5).

    The rebuild is `engine.reports.rebuild_balances`: every obligation (a positive entry of
    an obligation kind, v2's revenue top-ups, debt service, calls and reimbursements included)
    starts at its amount less its `credit_applied`; every payment and every credit (a negative
    adjustment) lowers the obligations its `applied` list names, and a discharge (v2) lowers
    its own obligation alone. Each application names an earlier open obligation of the same
    debtor and creditor and never takes more than it still owes; a payment's applications
    plus `unapplied` equal its amount, a credit's equal its size. On top of the rebuild this
    checks SPEC's order: the payment's `applies_to` first when it is open in that direction,
    then by (due date, seq); credit is unapplied only when nothing is owed in its direction,
    and a new obligation takes all the unapplied credit it can at once. Per direction, the
    obligations' balances must sum to the summary's `outstanding`, and the unapplied credit
    to its `unapplied_credit`, for each of the agreement's directions (two, or six with a
    lender).
    """
    from engine.reports import BalanceFold, LedgerInconsistent

    fold = BalanceFold()
    roles: dict[str, dict[str, str]] = {}
    for entry in _entry_fields(entries):
        agreement, kind = entry["agreement"], entry["kind"]
        _learn_roles(roles.setdefault(agreement, {}), entry)
        if kind not in SHARE_KINDS:
            _check_spec_order(entry, fold)
        try:
            fold.add(entry)
        except LedgerInconsistent as error:
            raise AssertionError(f"outstanding rebuilt: {error}") from None
    balances = fold.result()
    for agreement, facts in summary.get("agreements", {}).items():
        totals_by_pair: dict[tuple[str, str], Decimal] = {}
        for obligation in balances.obligations.values():
            if obligation.agreement == agreement:
                pair = (obligation.debtor, obligation.creditor)
                totals_by_pair[pair] = totals_by_pair.get(pair, Decimal(0)) + balances.outstanding[obligation.id]
        credits_by_pair = {(debtor, creditor): value for (a, debtor, creditor), value in balances.unapplied_credit.items() if a == agreement}
        summary_owed = {name: Decimal(value) for name, value in facts["outstanding"].items()}
        summary_credit = {name: Decimal(value) for name, value in facts["unapplied_credit"].items()}
        named = _direction_names(roles.get(agreement, {}))
        rebuilt = {name: Decimal(0) for name in summary_owed}
        rebuilt_credit = {name: Decimal(0) for name in summary_credit}
        if named is None or not set(totals_by_pair) | set(credits_by_pair) <= set(named):
            # No entry says who plays the role of some party that money moved between: compare
            # the directions as a multiset of values.
            _require(sorted(summary_owed.values()) == _padded(totals_by_pair, len(summary_owed)), "outstanding rebuilt",
                     f"{agreement!r}: summary outstanding {facts['outstanding']}; rebuilt from the ledger {totals_by_pair}")
            _require(sorted(summary_credit.values()) == _padded(credits_by_pair, len(summary_credit)), "outstanding rebuilt",
                     f"{agreement!r}: summary unapplied credit {facts['unapplied_credit']}; rebuilt {credits_by_pair}")
            continue
        unknown = {named[pair] for pair in set(totals_by_pair) | set(credits_by_pair)} - set(rebuilt)
        _require(not unknown, "outstanding rebuilt",
                 f"{agreement!r}: the ledger has money owed in directions {sorted(unknown)}, which the summary does not list")
        for pair, value in totals_by_pair.items():
            rebuilt[named[pair]] += value
        for pair, value in credits_by_pair.items():
            rebuilt_credit[named[pair]] += value
        for name in rebuilt:
            _require(summary_owed[name] == rebuilt[name], "outstanding rebuilt",
                     f"{agreement!r} {name}: summary outstanding {facts['outstanding'][name]}, rebuilt from the ledger {rebuilt[name]}"
                     + _open_list(balances, agreement, named, name))
            _require(summary_credit[name] == rebuilt_credit[name], "outstanding rebuilt",
                     f"{agreement!r} {name}: summary unapplied credit {facts['unapplied_credit'][name]}, rebuilt from the ledger {rebuilt_credit[name]}")


@_exact
def check_totals(entries: Any, summary: Mapping) -> None:
    """The summary's `totals` sum each kind's amounts (adjustments of every kind together)."""
    sums: dict[str, dict[str, Decimal]] = {}
    for entry in _entry_fields(entries):
        per_kind = sums.setdefault(entry["agreement"], {})
        per_kind[entry["kind"]] = per_kind.get(entry["kind"], Decimal(0)) + Decimal(entry["amount"])
    for agreement, facts in summary.get("agreements", {}).items():
        totals = facts["totals"]
        expected = sums.get(agreement, {})
        _require(set(totals) == set(expected), "totals", f"{agreement!r}: summary totals have kinds {sorted(totals)}; the ledger has {sorted(expected)}")
        for kind, total in totals.items():
            _require(Decimal(total) == expected[kind], "totals", f"{agreement!r} {kind}: summary total {total}, the ledger's amounts sum to {expected[kind]}")


@_exact
def check_terms_applied(entries: Any, documents: Any) -> None:
    """Each entry uses the terms of the version SPEC §3 says decides, and its own arithmetic.

    Against the agreements' documents, with periods and dates computed here:

    - a lease-back, revenue-share or adjustment entry records the version governing its
      period (the latest whose `effective` ≤ the period's start); a lease-back or revenue-
      share entry is dated the period's end and due `payment_terms_days` of that version later;
      an adjustment is due as a close (the closed period's due date) or a true-up (its date
      plus the terms of the version for that date) on its date would make it;
    - a lease-back basis holds that version's rate for the pool's model, its threshold and
      cover, and its target is round(H × rate) with H = threshold × A − S (shortfall) or
      A − S (idle), 0 when A = 0 or S ≥ threshold × A; its change is target − previous;
    - a payment records the version for its date (version 1 before the term, the last one
      from its end); each late-interest entry uses that version's late interest: amount
      round(applied × annual_rate × days / basis) and due date + its payment terms.
    """
    from fractions import Fraction

    terms = {agreement.id: agreement for agreement in loaded_agreements(documents)}
    for entry in _entry_fields(entries):
        agreement = terms.get(entry["agreement"])
        _require(agreement is not None, "terms applied", f"{_where(entry)} names an agreement that is not in the documents")
        kind = entry["kind"]
        if kind in ("lease_back", "revenue_share", "adjustment"):
            period, version = _governing(agreement, entry["period"])
            _require(entry["version"] == version.number, "terms applied",
                     f"{_where(entry)} uses version {entry['version']}; version {version.number} governs period {period.id} (starts {period.start})")
            document = version.document
            if kind != "adjustment":
                due = period.end + timedelta(days=document.settlement.payment_terms_days)
                _require((entry["date"], entry["due"]) == (period.end.isoformat(), due.isoformat()), "terms applied",
                         f"{_where(entry)} is dated {entry['date']} due {entry['due']}; period {period.id} ends {period.end}, "
                         f"due {due} ({document.settlement.payment_terms_days} days)")
            else:
                _check_adjustment_due(entry, agreement)
            if _is_lease_back(entry):
                _check_lease_back_basis(entry, agreement, document, Fraction)
        elif kind in ("payment", "late_interest"):
            version = _version_for_date(agreement, date.fromisoformat(entry["date"]))
            _require(entry["version"] == version.number, "terms applied",
                     f"{_where(entry)} dated {entry['date']} uses version {entry['version']}; version {version.number} decides for that date")
            if kind == "late_interest":
                _check_late_interest(entry, agreement, version.document, Fraction)


def _check_adjustment_due(entry: dict, agreement) -> None:
    """An adjustment is due as the close of P (P's due date) or a true-up dated D (D + the terms
    of the version for D) says; from the ledger alone both readings of its date are allowed."""
    from engine.testing.strategies import settlement_periods

    day = date.fromisoformat(entry["date"])
    first = agreement.versions[0].document
    allowed = {day + timedelta(days=_version_for_date(agreement, day).document.settlement.payment_terms_days)}
    for period in settlement_periods(first.term.start, first.term.end, first.settlement.period):
        if period.end == day:
            allowed.add(day + timedelta(days=_governing(agreement, period.id)[1].document.settlement.payment_terms_days))
    _require(date.fromisoformat(entry["due"]) in allowed, "terms applied",
             f"{_where(entry)} dated {entry['date']} is due {entry['due']}; a close or true-up that day makes it due "
             f"{' or '.join(sorted(d.isoformat() for d in allowed))}")


def _check_lease_back_basis(entry: dict, agreement, document, fraction) -> None:
    inputs = entry["basis"]["inputs"]
    backstop = document.backstop
    _require(backstop is not None, "terms applied", f"{_where(entry)} is a lease-back under version {entry['version']}, which has no backstop")
    pool = next((pool for pool in document.pools if pool.id == entry["pool"]), None)
    _require(pool is not None, "terms applied", f"{_where(entry)} names pool {entry['pool']!r}, not in version {entry['version']}")
    rate, threshold = backstop.rate_per_gpu_hour[pool.gpu_model], backstop.threshold
    _require((Decimal(inputs["rate"]), Decimal(inputs["threshold"]), inputs["covers"]) == (rate, threshold, backstop.covers),
             "terms applied", f"{_where(entry)} uses rate {inputs['rate']}, threshold {inputs['threshold']}, covers {inputs['covers']}; "
             f"version {entry['version']} has {rate}, {threshold}, {backstop.covers}")
    available, sold = fraction(inputs["available_gpu_hours"]), fraction(inputs["sold_gpu_hours"])
    floor = fraction(threshold) * available
    if available == 0 or sold >= floor:
        covered = fraction(0)
    else:
        covered = floor - sold if backstop.covers == "shortfall" else available - sold
    settlement = agreement.versions[0].document.settlement
    target = _rounded(covered * fraction(rate), settlement.rounding.places, settlement.rounding.mode)
    _require(fraction(inputs["covered_gpu_hours"]) == covered, "terms applied",
             f"{_where(entry)}: covered GPU-hours {inputs['covered_gpu_hours']}; A {inputs['available_gpu_hours']}, S {inputs['sold_gpu_hours']} give {covered}")
    _require(Decimal(inputs["target"]) == target, "terms applied",
             f"{_where(entry)}: target {inputs['target']}; round({covered} × {rate}) to {settlement.rounding.places} places "
             f"({settlement.rounding.mode}) is {target}")
    change = Decimal(inputs["target"]) - Decimal(inputs["previous_target"])
    _require(Decimal(inputs["change"]) == change == Decimal(entry.get("uncapped", entry["amount"])), "terms applied",
             f"{_where(entry)}: change {inputs['change']}, uncapped-or-amount {entry.get('uncapped', entry['amount'])}; "
             f"target − previous is {change}")


def _check_late_interest(entry: dict, agreement, document, fraction) -> None:
    inputs = entry["basis"]["inputs"]
    late = document.settlement.late_interest
    if inputs["obligation"].endswith("/reimbursement") and "/call/" in inputs["obligation"]:
        # (v2) A reimbursement bears late interest on the guarantee's own terms (SPEC §5.5).
        late = document.guarantee.reimbursement.late_interest if document.guarantee is not None else None
    _require(late is not None, "terms applied", f"{_where(entry)}: version {entry['version']} has no late interest")
    days = (date.fromisoformat(inputs["paid"]) - date.fromisoformat(inputs["due"])).days
    _require(days > 0 and int(inputs["days"]) == days, "terms applied",
             f"{_where(entry)}: {inputs['days']} days late from {inputs['due']} to {inputs['paid']}; that is {days}")
    basis = {"ACT/365F": 365, "ACT/360": 360}[late.day_count]
    settlement = agreement.versions[0].document.settlement
    exact = fraction(inputs["applied"]) * fraction(late.annual_rate) * days / basis
    expected = _rounded(exact, settlement.rounding.places, settlement.rounding.mode)
    _require(Decimal(entry["amount"]) == expected and expected != 0, "terms applied",
             f"{_where(entry)}: late interest {entry['amount']}; round({inputs['applied']} × {late.annual_rate} × {days} / {basis}) is {expected}")
    due = date.fromisoformat(entry["date"]) + timedelta(days=document.settlement.payment_terms_days)
    _require(entry["due"] == due.isoformat(), "terms applied",
             f"{_where(entry)} is due {entry['due']}; its date plus {document.settlement.payment_terms_days} days is {due}")


def _governing(agreement, period_id: str):
    from engine.testing.strategies import settlement_periods

    first = agreement.versions[0].document
    periods = settlement_periods(first.term.start, first.term.end, first.settlement.period)
    period = next((p for p in periods if p.id == period_id), None)
    _require(period is not None, "terms applied", f"period {period_id!r} is not a settlement period of {agreement.id!r}")
    version = [v for v in agreement.versions if v.document.effective <= period.start][-1]
    return period, version


def _version_for_date(agreement, day: date):
    from engine.testing.strategies import settlement_periods

    first = agreement.versions[0].document
    if day < first.term.start:
        return agreement.versions[0]
    if day >= first.term.end:
        return agreement.versions[-1]
    periods = settlement_periods(first.term.start, first.term.end, first.settlement.period)
    start = [p for p in periods if p.start <= day][-1].start
    return [v for v in agreement.versions if v.document.effective <= start][-1]


def _rounded(value, places: int, mode: str) -> Decimal:
    """SPEC §1's one rounding, computed independently: half_even, half_up (away from 0), down (toward 0)."""
    scaled = value * 10**places
    negative, magnitude = scaled < 0, abs(scaled)
    whole, remainder = divmod(magnitude.numerator, magnitude.denominator)
    twice = 2 * remainder
    if mode == "half_up" and twice >= magnitude.denominator:
        whole += 1
    elif mode == "half_even" and (twice > magnitude.denominator or (twice == magnitude.denominator and whole % 2)):
        whole += 1
    return Decimal(-whole if negative else whole).scaleb(-places)


# =============================================================================================
# Replays compared
# =============================================================================================


def check_replay_deterministic(agreements: Any, lines: Sequence[str | bytes]) -> None:
    """The ledger is a pure function of the documents and the log (SPEC §0).

    Two replays in fresh engines give the same ledger bytes, the same summary and the same
    outcome for every line, also when the agreements are handed over in reverse order.
    """
    loaded = loaded_agreements(agreements)
    first = replay_lines(loaded, lines)
    for label, again in (("a second replay", replay_lines(loaded, lines)),
                         ("a replay with the agreements in reverse order", replay_lines(tuple(reversed(loaded)), lines))):
        _same_ledger(first, again, "deterministic replay", label)
        _require(first.summary == again.summary, "deterministic replay", f"{label} gives another summary:\n{_diff(first.summary, again.summary)}")
        _same_outcomes(first, again, "deterministic replay", label, line_numbers=True)


def check_chunking_invariance(
    agreements: Any,
    lines: Sequence[str | bytes],
    *,
    chunks: Sequence[int] = (),
    read_sizes: Sequence[int] = (1, 7, 64),
) -> None:
    """The ledger does not depend on how the input was cut up or when the engine paused (SPEC §0).

    Compares the ledger bytes, the counts and each line's outcome of: `feed_line` per line;
    `feed_lines` over the lines; `feed_stream` over the whole log in one `BytesIO`; the
    same with CRLF line ends; the log read through a buffered stream whose underlying reads
    return only a few bytes at a time (`read_sizes`); consecutive `feed_stream` calls on one
    engine over the pieces of the log cut before the line indexes in `chunks`; and the same
    pieces fed with `feed_lines`, the engine carried from one piece to the next through
    `snapshot()` and `Engine.restore()`, as across process restarts. Line numbers are not
    compared for the chunked streams, since each stream counts its own lines.
    """
    loaded = loaded_agreements(agreements)
    raws = [_as_bytes(line) for line in lines]
    reference = replay_lines(loaded, raws, how="lines")
    engine = Engine(loaded)
    _compare_runs(reference, _collected(engine, engine.feed_lines(raws)), "feed_lines over the lines", line_numbers=True)
    streamed = replay_lines(loaded, raws, how="stream")
    _compare_runs(reference, streamed, "one feed_stream over the whole log", line_numbers=True)
    crlf = _stream_replay(loaded, [io.BytesIO(join_lines(raws, b"\r\n"))])
    _compare_runs(reference, crlf, "one feed_stream with CRLF line ends", line_numbers=True)
    trickled = _stream_replay(loaded, [io.BufferedReader(_Trickle(join_lines(raws), read_sizes), buffer_size=16)])
    _compare_runs(reference, trickled, f"a stream read {tuple(read_sizes)} bytes at a time", line_numbers=True)
    cuts = sorted({cut for cut in chunks if 0 < cut < len(raws)})
    pieces = [raws[start:stop] for start, stop in zip([0, *cuts], [*cuts, len(raws)])]
    chunked = _stream_replay(loaded, [io.BytesIO(join_lines(piece)) for piece in pieces])
    _compare_runs(reference, chunked, f"feed_stream over {len(pieces)} chunks cut before lines {cuts}", line_numbers=False)
    _compare_runs(reference, _restored_replay(loaded, pieces), f"feed_lines over {len(pieces)} chunks with a snapshot and "
                  f"restore before lines {cuts}", line_numbers=True)


def _collected(engine: Engine, outcomes: Iterable[LineOutcome]) -> Replayed:
    done = tuple(outcomes)
    return Replayed(done, tuple(entry for outcome in done for entry in outcome.entries), engine.summary())


def _restored_replay(loaded: tuple, pieces: Sequence[Sequence[bytes]]) -> Replayed:
    engine = Engine(loaded)
    outcomes: list[LineOutcome] = []
    for piece in pieces:
        outcomes.extend(engine.feed_lines(piece))
        snapshot = engine.snapshot()
        engine = Engine.restore(snapshot, loaded)
        if engine.snapshot() != snapshot:
            raise AssertionError("a restored engine's snapshot differs from the snapshot it was restored from")
    return _collected(engine, outcomes)


def check_duplicates_harmless(agreements: Any, lines: Sequence[str | bytes], *, reformat: bool = False) -> None:
    """Re-sending applied lines changes nothing but the duplicate count (SPEC §7).

    Each applied line is sent a second time right after itself (with `reformat`, with its
    members in reverse order and spaces added: still the same JSON value). The ledger bytes
    are the same, every re-sent line is counted as a duplicate, and every other line has
    the outcome it had before.
    """
    loaded = loaded_agreements(agreements)
    raws = [_as_bytes(line) for line in lines]
    first = replay_lines(loaded, raws)
    applied = {outcome.line for outcome in first.outcomes if outcome.status == "applied"}
    doubled: list[bytes] = []
    resent_at: set[int] = set()
    for number, raw in enumerate(raws, start=1):
        doubled.append(raw)
        if number in applied:
            doubled.append(_reformatted(raw) if reformat else raw)
            resent_at.add(len(doubled))
    second = replay_lines(loaded, doubled)
    _same_ledger(first, second, "duplicates harmless", "re-sending every applied line right after itself")
    lines_count, applied_count, duplicates, rejected = first.counts()
    expected = (lines_count + len(applied), applied_count, duplicates + len(applied), rejected)
    _require(second.counts() == expected, "duplicates harmless",
             f"(lines, applied, duplicates, rejected) is {second.counts()} with the re-sends; expected {expected}")
    for outcome in second.outcomes:
        if outcome.line in resent_at:
            _require(outcome.status == "duplicate", "duplicates harmless",
                     f"the re-send of an applied line (now line {outcome.line}, id {outcome.id!r}) is {outcome.status}: {outcome.reason}")
    originals = [outcome.status for outcome in second.outcomes if outcome.line not in resent_at]
    _require(originals == [outcome.status for outcome in first.outcomes], "duplicates harmless",
             "some original line changed its outcome once applied lines were re-sent")


def check_correction_equivalence(
    agreements: Any,
    lines: Sequence[str | bytes],
    *,
    index: int,
    wrong: Mapping[str, Any],
    correct_after: int | None = None,
    correction_id: str | None = None,
) -> None:
    """A wrong value corrected in an open period settles like the right value (SPEC §5.1).

    `lines[index]` is a utilization or revenue event with the right values. The variant log
    sends it with the fields in `wrong` instead, then, right after `lines[correct_after]`
    (default: right after it), a correction whose replacement holds the right values. While
    the period is open nothing has been issued from it, so both logs must issue the same
    entries (same ids, in the same order) with the same amounts, dates, parties and bases;
    only the `events` lists (which name the correction) and the hashes may differ. Raises
    `ValueError` when the case does not fit: the event is not an input, or its period is
    closed by then.
    """
    raws = [_as_bytes(line) for line in lines]
    correct_after = index if correct_after is None else correct_after
    if not 0 <= index <= correct_after < len(raws):
        raise ValueError(f"need 0 <= index <= correct_after < {len(raws)}; got index={index}, correct_after={correct_after}")
    event = json.loads(raws[index])
    if not isinstance(event, dict) or event.get("type") not in ("utilization", "revenue"):
        raise ValueError(f"lines[{index}] is not a utilization or revenue event")
    loaded = loaded_agreements(agreements)
    period = _event_period(event, loaded)
    for position in range(index, correct_after + 1):
        other = _json_or_none(raws[position])
        if isinstance(other, dict) and other.get("type") == "close" and other.get("agreement") == event["agreement"] \
                and other.get("period") == period:
            raise ValueError(f"period {period} is closed at line index {position}, before the correction")
    wrong_event = {**event, **wrong}
    replacement = {key: value for key, value in event.items() if key not in ("id", "type", "agreement", "meta")}
    correction = {"id": correction_id or f"correction-of-{event['id']}", "type": "correction",
                  "agreement": event["agreement"], "corrects": event["id"], "replacement": replacement}
    variant = [*raws[:index], _canonical(wrong_event).encode("utf-8"), *raws[index + 1 : correct_after + 1],
               _canonical(correction).encode("utf-8"), *raws[correct_after + 1 :]]
    right, corrected = replay_lines(loaded, raws), replay_lines(loaded, variant)
    right_rejected = [outcome.line for outcome in right.outcomes if outcome.status == "rejected"]
    corrected_rejected = [outcome.line for outcome in corrected.outcomes if outcome.status == "rejected"]
    shifted = [line + 1 if line > correct_after + 1 else line for line in right_rejected]
    _require(corrected_rejected == shifted, "correction equivalence",
             f"lines rejected with the right value first: {right_rejected}; with the wrong value corrected: {corrected_rejected} "
             f"({[o.reason for o in corrected.outcomes if o.status == 'rejected'][:3]})")
    _require(_amount_views(right.entries) == _amount_views(corrected.entries), "correction equivalence",
             f"sending {wrong} for {event['id']!r} and correcting it after line index {correct_after} issues other amounts:\n"
             + _first_difference(right.entries, corrected.entries))


def correctable_inputs(lines: list[str], kind: str) -> list[tuple[int, int]]:
    """(index, last): an input sent while its period is open and never re-sent, and the last
    line index after which a correction still finds that period open and the input unchanged."""
    items = [json.loads(line) for line in lines]
    found = []
    for index, item in enumerate(items):
        if item["type"] not in ("utilization", "revenue"):
            continue
        period = input_period(item, kind)
        if any(other["type"] == "close" and other["period"] == period for other in items[:index]):
            continue
        if any(other["id"] == item["id"] for position, other in enumerate(items) if position != index):
            continue  # a re-send, or re-sent later: the wrong value would conflict with the right one
        last = index
        for position in range(index + 1, len(items)):
            other = items[position]
            if (other["type"] == "close" and other["period"] == period) or other.get("corrects") == item["id"]:
                break
            last = position
        found.append((index, last))
    return found


def input_period(item: dict, kind: str) -> str:
    """The id of the period an input counts in: its month or quarter (SPEC §2), in UTC."""
    if item["type"] == "revenue":
        return item["period"]
    start = datetime.fromisoformat(item["start"].replace("Z", "+00:00")).astimezone(timezone.utc).date()
    return f"{start.year:04d}-{start.month:02d}" if kind == "monthly" else f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"


def amount_views(entries: Any) -> list[tuple[str, dict]]:
    """(id, fields without provenance) of each entry: what must not depend on event order.

    Provenance is `events`, `prev` and `hash`; everything else, `basis` included, must match
    exactly (basis inputs are written in their shortest exact form, whatever the history).
    """
    return _amount_views(entries)


# =============================================================================================
# Helpers
# =============================================================================================


class _Trickle(io.RawIOBase):
    """A raw stream whose reads return at most a few bytes, cycling through `sizes`."""

    def __init__(self, data: bytes, sizes: Sequence[int]) -> None:
        self.data, self.position, self.sizes, self.calls = data, 0, [max(1, size) for size in sizes] or [1], 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), self.sizes[self.calls % len(self.sizes)], len(self.data) - self.position)
        self.calls += 1
        buffer[:size] = self.data[self.position : self.position + size]
        self.position += size
        return size


def _stream_replay(loaded: tuple, streams: Sequence) -> Replayed:
    engine = Engine(loaded)
    outcomes = [outcome for stream in streams for outcome in engine.feed_stream(stream)]
    entries = [entry for outcome in outcomes for entry in outcome.entries]
    return Replayed(tuple(outcomes), tuple(entries), engine.summary())


def _compare_runs(reference: Replayed, other: Replayed, label: str, *, line_numbers: bool) -> None:
    _same_ledger(reference, other, "chunking invariance", label)
    _require(reference.counts() == other.counts(), "chunking invariance",
             f"(lines, applied, duplicates, rejected) is {reference.counts()} line by line but {other.counts()} with {label}")
    _same_outcomes(reference, other, "chunking invariance", label, line_numbers=line_numbers)


def _same_ledger(first: Replayed, second: Replayed, invariant: str, label: str) -> None:
    if first.ledger == second.ledger:
        return
    for position, (a, b) in enumerate(zip(first.entries, second.entries), start=1):
        if a.line != b.line:
            raise AssertionError(f"{invariant}: {label} changes ledger line {position} (entry {a.id!r}):\n  before: {a.line[:300]!r}\n  after:  {b.line[:300]!r}")
    raise AssertionError(
        f"{invariant}: {label} gives {len(second.entries)} entries instead of {len(first.entries)}; first extra: "
        f"{(second.entries[len(first.entries)] if len(second.entries) > len(first.entries) else first.entries[len(second.entries)]).id!r}"
    )


def _same_outcomes(first: Replayed, second: Replayed, invariant: str, label: str, *, line_numbers: bool) -> None:
    def view(outcome: LineOutcome) -> tuple:
        return (outcome.line if line_numbers else None, outcome.id, outcome.status, outcome.reason if line_numbers else None)

    for a, b in zip(first.outcomes, second.outcomes):
        _require(view(a) == view(b), invariant, f"{label}: line {a.line} was {view(a)}, now {view(b)}")
    _require(len(first.outcomes) == len(second.outcomes), invariant,
             f"{label}: {len(second.outcomes)} outcomes instead of {len(first.outcomes)}")


def _amount_views(entries: Any) -> list[tuple[str, dict]]:
    return [(entry["id"], {k: v for k, v in entry.items() if k not in PROVENANCE_FIELDS}) for entry in _entry_fields(entries)]


def _first_difference(first: Sequence[IssuedEntry], second: Sequence[IssuedEntry]) -> str:
    a, b = _amount_views(first), _amount_views(second)
    for left, right in zip(a, b):
        if left != right:
            keys = sorted(set(left[1]) | set(right[1]))
            changed = {key: (left[1].get(key), right[1].get(key)) for key in keys if left[1].get(key) != right[1].get(key)}
            return f"  entry {left[0]!r} / {right[0]!r} differs in {changed}"
    return f"  {len(a)} entries against {len(b)}; the extra ones: {[view[0] for view in (a[len(b):] or b[len(a):])]}"


def _event_period(event: dict, loaded: tuple) -> str:
    """The id of the period an input event counts in (SPEC §2: named after its month or quarter)."""
    if event["type"] == "revenue":
        return event["period"]
    from datetime import datetime, timezone

    agreement = next((a for a in loaded if a.id == event["agreement"]), None)
    if agreement is None:
        raise ValueError(f"unknown agreement {event['agreement']!r}")
    kind = agreement.versions[0].document.settlement.period
    start = datetime.fromisoformat(event["start"].replace("Z", "+00:00")).astimezone(timezone.utc).date()
    return f"{start.year:04d}-{start.month:02d}" if kind == "monthly" else f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"


def _check_spec_order(entry: dict, fold) -> None:
    """SPEC §5.5's order, on the balances just before `entry`: money goes to `applies_to` first
    (a discharge to its `obligation`) if open in this direction, then to the direction's open
    obligations by (due date, seq), each up to what it still owes; credit is left unapplied only
    when nothing is open; a new obligation takes the unapplied credit at once."""
    key = (entry["agreement"], entry["debtor"], entry["creditor"])
    amount = Decimal(entry["amount"])
    if entry["kind"] == "discharge":
        applied = [(item["entry"], Decimal(item["amount"])) for item in entry.get("applied", [])]
        _require(applied == [(entry.get("obligation"), -amount)] and Decimal(entry.get("unapplied", "0")) == 0,
                 "outstanding rebuilt", f"{_where(entry)} of {amount} applies {applied}; a discharge settles "
                 f"its own obligation {entry.get('obligation')!r} alone, by its whole size")
    if entry["kind"] == "payment" or (entry["kind"] in ("adjustment", "discharge") and amount < 0):
        first = entry.get("applies_to") if entry["kind"] == "payment" else entry.get("obligation")
        open_ids = fold.open_in(*key)
        if first in open_ids:
            open_ids.remove(first)
            open_ids.insert(0, first)
        expected, remaining = [], abs(amount)
        for obligation in open_ids:
            if remaining <= 0:
                break
            part = min(remaining, fold.balance(obligation))
            expected.append((obligation, part))
            remaining -= part
        written = [(item["entry"], Decimal(item["amount"])) for item in entry.get("applied", [])]
        _require(written == expected, "outstanding rebuilt",
                 f"{_where(entry)} applies {[(i, str(a)) for i, a in written]}; SPEC §5.5 order"
                 f"{' (' + first + ' first)' if first else ''} gives {[(i, str(a)) for i, a in expected]}")
    elif entry["kind"] in OBLIGATION_KINDS and amount > 0:
        used, available = Decimal(entry.get("credit_applied", "0")), fold.credit(*key)
        expected_use = min(available, amount)
        _require(used == expected_use, "outstanding rebuilt",
                 f"{_where(entry)} takes credit {used}; SPEC §5.5 applies the unapplied {available} at once, so {expected_use}")


def _learn_roles(roles: dict[str, str], entry: dict) -> None:
    kind = entry["kind"]
    pair = ROLES_OF_KIND.get(entry.get("of") if kind == "adjustment" else kind)
    if pair is not None:
        roles.setdefault(pair[0], entry["debtor"])
        roles.setdefault(pair[1], entry["creditor"])


def _direction_names(roles: dict[str, str]) -> dict[tuple[str, str], str] | None:
    """(debtor, creditor) → the summary's name of that direction, for every pair of parties
    whose roles the ledger revealed; None while it revealed none."""
    if not roles:
        return None
    return {
        (roles[debtor], roles[creditor]): f"{debtor}_to_{creditor}"
        for debtor in roles for creditor in roles if debtor != creditor
    }


def _padded(values: dict, count: int) -> list[Decimal]:
    found = list(values.values())
    return sorted(found + [Decimal(0)] * (count - len(found)))


def _open_list(balances, agreement: str, named: dict, name: str) -> str:
    items = [f"{obligation.id}: {balances.outstanding[obligation.id]}" for obligation in balances.obligations.values()
             if obligation.agreement == agreement and balances.outstanding[obligation.id]
             and named.get((obligation.debtor, obligation.creditor)) == name]
    return ("; open obligations: " + ", ".join(items[:8])) if items else ""


def _schedules(documents: Any) -> dict:
    """(agreement, version) → (term start, [(from_year, rate)]) from the agreements' documents."""
    schedules = {}
    for agreement in loaded_agreements(documents):
        for version in agreement.versions:
            document = version.document
            if document.revenue_share is not None:
                steps = [(step.from_year, step.rate) for step in document.revenue_share.steps]
                term = document.term
                schedules[(agreement.id, version.number)] = (term.start, term.end, document.settlement.period, steps)
    return schedules


def _check_scheduled_rate(entry: dict, rate: Decimal, year: int, schedule: dict) -> None:
    from engine.testing.strategies import contract_year, settlement_periods

    key = (entry["agreement"], entry["version"])
    _require(key in schedule, "step-downs only", f"{_where(entry)} uses version {entry['version']}, which has no revenue_share")
    term_start, term_end, kind, steps = schedule[key]
    period = next((p for p in settlement_periods(term_start, term_end, kind) if p.id == entry["period"]), None)
    _require(period is not None, "step-downs only", f"{_where(entry)} names period {entry['period']!r}, which is not in the term")
    expected_year = contract_year(term_start, period.start)
    _require(year == expected_year, "step-downs only",
             f"{_where(entry)} is in contract year {year}; period {period.id} starts {period.start}, in contract year {expected_year} of a term from {term_start}")
    expected_rate = [step_rate for from_year, step_rate in steps if from_year <= expected_year][-1]
    _require(rate == expected_rate, "step-downs only",
             f"{_where(entry)} uses rate {rate}; the schedule {[(y, str(r)) for y, r in steps]} gives {expected_rate} in contract year {expected_year}")


def _is_lease_back(entry: dict) -> bool:
    return entry["kind"] == "lease_back" or (entry["kind"] == "adjustment" and entry.get("of") == "lease_back")


def _is_revenue_share(entry: dict) -> bool:
    return entry["kind"] == "revenue_share" or (entry["kind"] == "adjustment" and entry.get("of") == "revenue_share")


def _entry_fields(entries: Any) -> list[dict]:
    if isinstance(entries, (bytes, bytearray)):
        entries = bytes(entries).splitlines()
    fields = []
    for item in entries:
        if isinstance(item, IssuedEntry):
            fields.append(item.fields)
        elif isinstance(item, Mapping):
            fields.append(dict(item))
        elif isinstance(item, (bytes, str)):
            if item.strip():
                fields.append(json.loads(item))
        else:
            raise TypeError(f"expected IssuedEntry, an entry mapping or a ledger line; got {type(item).__name__}")
    return fields


def _ledger_lines(ledger: Any) -> list[bytes]:
    if isinstance(ledger, (bytes, bytearray)):
        data = bytes(ledger)
        _require(not data or data.endswith(b"\n"), "chain integrity", "the ledger's last line does not end in LF")
        return [line + b"\n" for line in data.split(b"\n")[:-1]] if data else []
    raws = []
    for item in ledger:
        if isinstance(item, IssuedEntry):
            raws.append(item.line)
        elif isinstance(item, str):
            raws.append(item.encode("utf-8"))
        elif isinstance(item, (bytes, bytearray)):
            raws.append(bytes(item))
        else:
            raise TypeError(f"expected ledger lines (bytes or str) or IssuedEntry values; got {type(item).__name__}")
    return raws


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _reformatted(raw: bytes) -> bytes:
    """The same JSON value, members reversed and spaced out, numbers kept as written."""
    from engine.testing.strategies import _dump, load_line

    def reverse(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: reverse(value[key]) for key in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(item) for item in value]
        return value

    return (" " + _dump(reverse(load_line(raw)), " , ", " : ", True, None) + "\t").encode("utf-8")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _as_bytes(line: str | bytes) -> bytes:
    return line.encode("utf-8", "surrogatepass") if isinstance(line, str) else bytes(line)


def _where(entry: Mapping) -> str:
    return f"entry {entry.get('id')!r} (seq {entry.get('seq')} of {entry.get('agreement')!r})"


def _diff(a: Any, b: Any) -> str:
    return f"  first:  {json.dumps(a, sort_keys=True, default=str)[:600]}\n  second: {json.dumps(b, sort_keys=True, default=str)[:600]}"


def _require(condition: bool, invariant: str, message: str) -> None:
    if not condition:
        raise AssertionError(f"{invariant}: {message}")
