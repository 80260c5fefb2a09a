"""Models and agreements for the simulation's tests: the shipped model with some parameters
changed, a model without noise, and a small quarterly agreement given as Python values."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from engine.documents import load_agreements, load_agreements_from_mappings
from engine.simulate.model import default_model_path, read_model

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
DEFAULT_TEXT = Path(default_model_path()).read_text(encoding="utf-8")


def model_text(**changes: str) -> str:
    """The shipped model's text with `section__field=value` lines rewritten in place."""
    text = DEFAULT_TEXT
    for name, value in changes.items():
        section, field = name.split("__")
        pattern = re.compile(rf"(^{section}:\n(?:[ #].*\n|\n)*?  {field}:)[^\n#]*", re.MULTILINE)
        text, count = pattern.subn(rf"\g<1> {value} ", text, count=1)
        assert count == 1, f"no field {section}.{field} in the model"
    return text


def model(**changes: str):
    return read_model(model_text(**changes).encode("utf-8"), "model.yaml")


#: No noise: every pool sells exactly half of what it has, a GB300 hour sells at 4.50, and
#: the provider never defaults, so every scenario is the same deterministic path.
QUIET = dict(
    demand__start="0.5", demand__target="0.5", demand__ramp_years="0", demand__volatility="0",
    demand__availability="1", shocks__rate="0", prices__drift="0", prices__volatility="0",
    share_price__volatility="0", share_price__drift="0", payments__default_rate="0",
)


def quiet_model(**changes: str):
    return model(**{**QUIET, **changes})


def small_quarterly(*, cap: str = "500000.00", gpus: int = 100, places: int = 2):
    """One GB300 pool of `gpus` over four quarters from 2026-04-01; `covers: idle` below 95 %
    at 2.95, with `cap`; a 3 % revenue share, 2 % from year 2 (the term is one year: unused)."""
    document = {
        "schema": "backstop/v1", "agreement": "small-q", "version": 1, "effective": date(2026, 4, 1),
        "parties": {"provider": "Prov", "guarantor": "Guar"}, "currency": "USD",
        "term": {"start": date(2026, 4, 1), "end": date(2027, 4, 1)},
        "settlement": {"period": "quarterly", "payment_terms_days": 60,
                       "rounding": {"places": places, "mode": "half_up"}},
        "pools": [{"id": "p1", "gpu_model": "GB300", "gpus": gpus}],
        "backstop": {"rate_per_gpu_hour": {"GB300": Decimal("2.95")}, "threshold": Decimal("0.95"),
                     "covers": "idle", "cap": Decimal(cap)},
        "revenue_share": {"steps": [{"from_year": 1, "rate": Decimal("0.03")}]},
    }
    return load_agreements_from_mappings([document])


def bundled(name: str):
    return load_agreements(CONTRACTS / name)
