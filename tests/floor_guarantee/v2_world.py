"""Agreements of semantics backstop/v2 written as YAML text, their events, and a replay that
keeps every entry, for the tests of the revenue floor and the guarantee."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from engine.replay import Engine
from engine.replay.rejected import Rejected

PROVIDER, GUARANTOR, LENDER = "P", "G", "L"


def agreement_text(
    *, agreement="v2", version=1, effective=None, start="2026-01-01", end="2028-01-01", period="monthly",
    places=2, mode="half_even", payment_terms_days=30, late_interest="0.08", lock=None, lender=LENDER,
    floor="1000.00", floor_cap=None, share_rate="0.10", above_floor=False,
    backstop_rate=None, backstop_cap=None,
    debt_service="500.00", covers=None, cure_days=None, guarantee_cap=None,
    reimbursement_days=None, reimbursement_late=None,
) -> str:
    """One version; a clause is left out when its main term is None."""
    lines = [
        "schema: backstop/v2", f"agreement: {agreement}", f"version: {version}", f"effective: {effective or start}",
        "parties:", f"  provider: {PROVIDER}", f"  guarantor: {GUARANTOR}",
    ]
    if lender is not None:
        lines.append(f"  lender: {lender}")
    lines += ["currency: USD", "term:", f"  start: {start}", f"  end: {end}", "settlement:", f"  period: {period}",
              f"  payment_terms_days: {payment_terms_days}", "  rounding:", f"    places: {places}", f"    mode: {mode}"]
    if late_interest is not None:
        lines += ["  late_interest:", f"    annual_rate: {late_interest}", "    day_count: ACT/365F"]
    if lock is not None:
        lines.append(f"  lock_after_periods: {lock}")
    lines += ["pools:", "  - id: p1", "    gpu_model: H200", "    gpus: 10"]
    if backstop_rate is not None:
        lines += ["backstop:", "  rate_per_gpu_hour:", f"    H200: {backstop_rate}", "  threshold: 0.80"]
        if backstop_cap is not None:
            lines.append(f"  cap: {backstop_cap}")
    if floor is not None:
        lines += ["revenue_floor:", "  steps:", "    - from_year: 1", f"      amount: {floor}"]
        if floor_cap is not None:
            lines.append(f"  cap: {floor_cap}")
    if share_rate is not None:
        lines += ["revenue_share:", "  steps:", "    - from_year: 1", f"      rate: {share_rate}"]
        if above_floor:
            lines.append("  above_floor: true")
    if debt_service is not None:
        lines += ["guarantee:", "  debt_service:", "    - from_year: 1", f"      amount: {debt_service}"]
        for name, value in (("covers", covers), ("cure_days", cure_days), ("cap", guarantee_cap)):
            if value is not None:
                lines.append(f"  {name}: {value}")
        if reimbursement_days is not None or reimbursement_late is not None:
            lines.append("  reimbursement:")
            if reimbursement_days is not None:
                lines.append(f"    payment_terms_days: {reimbursement_days}")
            if reimbursement_late is not None:
                lines += ["    late_interest:", f"      annual_rate: {reimbursement_late}", "      day_count: ACT/365F"]
    return "\n".join(lines) + "\n"


def write_agreement(folder: Path, *versions: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number, text in enumerate(versions, start=1):
        (folder / f"v{number}.yaml").write_text(text, encoding="utf-8")
    return folder


def event(**fields) -> str:
    return json.dumps(fields)


def revenue(event_id: str, period: str, amount: str, agreement="v2") -> str:
    return event(id=event_id, type="revenue", agreement=agreement, period=period, amount=amount, currency="USD")


def close(event_id: str, period: str, agreement="v2") -> str:
    return event(id=event_id, type="close", agreement=agreement, period=period)


def true_up(event_id: str, day: str, agreement="v2") -> str:
    return event(id=event_id, type="true_up", agreement=agreement, date=day)


def payment(event_id: str, payer: str, payee: str, amount: str, day: str, applies_to=None, agreement="v2") -> str:
    fields = dict(id=event_id, type="payment", agreement=agreement, payer=payer, payee=payee, amount=amount,
                  currency="USD", date=day)
    if applies_to is not None:
        fields["applies_to"] = applies_to
    return event(**fields)


def call(event_id: str, obligation: str, day: str, agreement="v2") -> str:
    return event(id=event_id, type="guarantee_call", agreement=agreement, date=day, obligation=obligation)


def correction(event_id: str, corrects: str, replacement=None, agreement="v2") -> str:
    if replacement is None:
        return event(id=event_id, type="correction", agreement=agreement, corrects=corrects, void=True)
    return event(id=event_id, type="correction", agreement=agreement, corrects=corrects, replacement=replacement)


def utilization(event_id: str, start: str, end: str, available: str, sold: str, agreement="v2") -> str:
    return event(id=event_id, type="utilization", agreement=agreement, pool="p1", start=start, end=end,
                 available_gpu_hours=available, sold_gpu_hours=sold)


@dataclass
class Log:
    """An engine over some agreements, fed line by line, keeping every entry in issue order."""

    engine: Engine
    entries: list[dict] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)

    @classmethod
    def of(cls, contracts: Path) -> Log:
        return cls(Engine.from_path(contracts))

    def feed(self, *texts: str):
        """Feed lines; returns the last outcome."""
        outcome = None
        for text in texts:
            outcome = self.engine.feed_line(text)
            self.entries += [entry.fields for entry in outcome.entries]
            self.lines += [entry.line for entry in outcome.entries]
        return outcome

    def rejected(self, text: str) -> Rejected:
        """Feed a line that must be rejected, with no effect; its reason and code as a `Rejected`."""
        outcome = self.feed(text)
        assert outcome.status == "rejected" and outcome.entries == (), outcome
        return Rejected(outcome.reason, code=outcome.code)

    def entry(self, entry_id: str) -> dict:
        found = [entry for entry in self.entries if entry["id"] == entry_id]
        assert len(found) == 1, f"{len(found)} entries with id {entry_id}"
        return found[0]

    def of_kind(self, kind: str) -> list[dict]:
        return [entry for entry in self.entries if entry["kind"] == kind]

    def summary(self, agreement="v2") -> dict:
        return self.engine.summary()["agreements"][agreement]


def brief(entry: dict) -> tuple:
    """(kind, amount, debtor, creditor, date, due) of an entry, to compare in one line."""
    return entry["kind"], entry["amount"], entry["debtor"], entry["creditor"], entry["date"], entry["due"]
