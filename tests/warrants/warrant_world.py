"""Small warrant agreements written as YAML text, and a replay that checks each line's fate.

Imported by the tests in this folder as `warrant_world` (pytest puts the folder on the path).
The agreement is `w`: provider `Prov`, guarantor `Guar`, monthly from 2026-01-01 to
2027-01-01, net 30, late interest 10 % ACT/365F, one pool `p1` of 10 H200 GPUs with a
lease-back of 2.00 per GPU-hour below an 80 % floor (so a month's lease-back is
(0.8 × available − sold) × 2.00), and the warrants given as YAML text.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from engine.documents.loader import load_agreements
from engine.replay import Engine, LineOutcome

AGREEMENT = """\
schema: backstop/v1
agreement: w
version: {version}
effective: {effective}
parties:
  provider: Prov
  guarantor: Guar
currency: USD
term:
  start: 2026-01-01
  end: 2027-01-01
settlement:
  period: monthly
  payment_terms_days: {terms_days}
  rounding:
    places: 2
    mode: {mode}
{late_interest}pools:
  - id: p1
    gpu_model: H200
    gpus: 10
backstop:
  rate_per_gpu_hour:
    H200: 2.00
  threshold: 0.80
warrants:
  strike: {strike}
  expires: {expires}
  tranches:
{tranches}"""

LATE_INTEREST = """\
  late_interest:
    annual_rate: 0.10
    day_count: ACT/365F
"""


def agreement_text(
    tranches: str, *, strike: str = "0.01", expires: str = "2030-01-01", version: int = 1,
    effective: str = "2026-01-01", terms_days: int = 30, mode: str = "half_even", late_interest: bool = True,
) -> str:
    """One version of agreement `w`; `tranches` is the YAML list under `warrants.tranches`."""
    return AGREEMENT.format(
        version=version, effective=effective, terms_days=terms_days, mode=mode,
        late_interest=LATE_INTEREST if late_interest else "", strike=strike, expires=expires,
        tranches=textwrap.indent(textwrap.dedent(tranches).strip("\n") + "\n", "    "),
    )


def write_agreement(folder: Path, *versions: str) -> Path:
    """An agreement folder holding `v1.yaml`, `v2.yaml`, … with the given texts."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, text in enumerate(versions, start=1):
        (folder / f"v{number}.yaml").write_text(text, encoding="utf-8")
    return folder


class Log:
    """Feeds events of agreement `w` to an engine, one line each, and hands back the entries."""

    def __init__(self, engine: Engine, agreement: str = "w") -> None:
        self.engine = engine
        self.agreement = agreement
        self.count = 0
        self.entries: list[dict] = []  # every entry issued so far, in order

    @classmethod
    def of(cls, folder: Path) -> Log:
        return cls(Engine(load_agreements(folder)))

    def send(self, type_: str, event_id: str | None = None, **fields) -> LineOutcome:
        self.count += 1
        event = {"id": event_id or f"{type_}-{self.count}", "type": type_, "agreement": self.agreement, **fields}
        outcome = self.engine.feed_line(json.dumps(event))
        self.entries.extend(entry.fields for entry in outcome.entries)
        return outcome

    def ok(self, type_: str, event_id: str | None = None, **fields) -> list[dict]:
        """Send an event that must apply; returns the entries it issued."""
        outcome = self.send(type_, event_id, **fields)
        assert outcome.status == "applied", outcome.reason
        return [entry.fields for entry in outcome.entries]

    def rejected(self, type_: str, event_id: str | None = None, *, code: str, **fields) -> str:
        """Send an event that must be rejected with no entry and rejection code `code`; returns the reason."""
        outcome = self.send(type_, event_id, **fields)
        assert outcome.status == "rejected", f"expected a rejection, got {outcome.status}"
        assert outcome.code == code, f"expected code {code}, got {outcome.code}: {outcome.reason}"
        assert outcome.entries == ()
        return outcome.reason

    # ---- events, by what they do ----

    def usage(self, month: str, available: str, sold: str, event_id: str | None = None) -> list[dict]:
        """One utilization report covering the 1st of `month` (YYYY-MM) for pool p1."""
        day = f"{month}-01"
        nxt = f"{month}-02"
        return self.ok("utilization", event_id, pool="p1", start=f"{day}T00:00:00Z", end=f"{nxt}T00:00:00Z",
                       available_gpu_hours=available, sold_gpu_hours=sold)

    def close(self, period: str, event_id: str | None = None) -> list[dict]:
        return self.ok("close", event_id, period=period)

    def price(self, day: str, price: str, volume: str = "100", event_id: str | None = None) -> list[dict]:
        return self.ok("share_price", event_id, date=day, price=price, volume=volume)

    def split(self, day: str, numerator: int, denominator: int, event_id: str | None = None) -> list[dict]:
        return self.ok("stock_split", event_id, date=day, numerator=numerator, denominator=denominator)

    def exercise(self, day: str, tranche: str, shares: int, method: str = "cash", value: str | None = None,
                 event_id: str | None = None) -> list[dict]:
        fields = {"tranche": tranche, "shares": shares, "method": method, "date": day}
        if value is not None:
            fields["fair_market_value"] = value
        return self.ok("exercise", event_id, **fields)

    def pay(self, day: str, payer: str, amount: str, event_id: str | None = None, **extra) -> list[dict]:
        payee = "Prov" if payer == "Guar" else "Guar"
        return self.ok("payment", event_id, payer=payer, payee=payee, amount=amount, currency="USD",
                       date=day, **extra)

    # ---- reading the state ----

    @property
    def book(self):
        return self.engine.agreements[self.agreement].warrants


def brief(entry: dict) -> tuple:
    """The fields independent implementations agree on (SPEC §6), as one tuple."""
    return (entry["id"], entry["kind"], entry["amount"], entry["unit"], entry["date"], entry["due"],
            entry["debtor"], entry["creditor"], entry.get("tranche"))
