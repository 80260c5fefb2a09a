"""Small agreements written as YAML text, and a one-call replay, for the replay's tests."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from engine.replay import Engine

BASE = """\
schema: {schema}
agreement: {agreement}
version: 1
effective: {start}
parties:
  provider: Prov
  guarantor: Guar
{lender}currency: USD
term:
  start: {start}
  end: {end}
settlement:
  period: {period}
  payment_terms_days: 30
{settlement_extra}pools:
  - id: p1
    gpu_model: H200
    gpus: 10
  - id: p2
    gpu_model: B200
    gpus: 10
{clauses}"""

BACKSTOP = """\
backstop:
  rate_per_gpu_hour:
    H200: 2.00
    B200: 3.00
  threshold: 0.80
  covers: {covers}
{cap}"""

REVENUE_SHARE = """\
revenue_share:
  steps:
    - from_year: 1
      rate: 0.10
    - from_year: 2
      rate: 0.05
"""


def agreement_text(
    *, agreement="a1", start="2026-01-01", end="2028-01-01", period="monthly", covers="shortfall",
    cap=None, lock=None, late_interest=True, backstop=True, revenue_share=True, extra_clauses="", lender=None,
) -> str:
    """A `backstop/v1` agreement, or with a `lender` a `backstop/v2` one (give its clauses in
    `extra_clauses`)."""
    settlement_extra = ""
    if late_interest:
        settlement_extra += "  late_interest:\n    annual_rate: 0.10\n    day_count: ACT/365F\n"
    if lock is not None:
        settlement_extra += f"  lock_after_periods: {lock}\n"
    clauses = ""
    if backstop:
        clauses += BACKSTOP.format(covers=covers, cap=f"  cap: {cap}\n" if cap is not None else "")
    if revenue_share:
        clauses += REVENUE_SHARE
    clauses += extra_clauses
    schema, lender_line = ("backstop/v1", "") if lender is None else ("backstop/v2", f"  lender: {lender}\n")
    return BASE.format(schema=schema, agreement=agreement, start=start, end=end, period=period, lender=lender_line,
                       settlement_extra=settlement_extra, clauses=clauses)


def engine_for(tmp_path: Path, *texts: str) -> Engine:
    """An engine over one agreement folder per text (several texts: versions of one agreement if named vN)."""
    folder = tmp_path / "contracts"
    for number, text in enumerate(texts, start=1):
        sub = folder / "a"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"v{number}.yaml").write_text(textwrap.dedent(text))
    return Engine.from_path(folder)


def line(**fields) -> str:
    return json.dumps(fields)


def utilization(event_id, start, end, available, sold, pool="p1", agreement="a1") -> str:
    return line(id=event_id, type="utilization", agreement=agreement, pool=pool, start=start, end=end,
                available_gpu_hours=available, sold_gpu_hours=sold)


def revenue(event_id, period, amount, agreement="a1") -> str:
    return line(id=event_id, type="revenue", agreement=agreement, period=period, amount=amount, currency="USD")


def close(event_id, period, agreement="a1") -> str:
    return line(id=event_id, type="close", agreement=agreement, period=period)


def payment(event_id, payer, payee, amount, day, applies_to=None, agreement="a1") -> str:
    fields = dict(id=event_id, type="payment", agreement=agreement, payer=payer, payee=payee, amount=amount,
                  currency="USD", date=day)
    if applies_to is not None:
        fields["applies_to"] = applies_to
    return line(**fields)


def correction(event_id, corrects, replacement=None, agreement="a1") -> str:
    if replacement is None:
        return line(id=event_id, type="correction", agreement=agreement, corrects=corrects, void=True)
    return line(id=event_id, type="correction", agreement=agreement, corrects=corrects, replacement=replacement)


def feed(engine: Engine, *lines: str):
    """Feed lines; returns (outcomes, entries by id in issue order)."""
    outcomes = [engine.feed_line(text) for text in lines]
    entries = {entry.id: entry.fields for outcome in outcomes for entry in outcome.entries}
    return outcomes, entries
