"""Pure rules of SPEC §5.3–§5.5: targets, the cap, late interest.

Each function takes the terms and inputs it needs and returns exact values; none touches
replay state. Rounding happens here, once per amount, by `round_fraction`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from engine.documents.model import Backstop, RevenueShare
from engine.numbers import EXACT, ZERO, round_fraction

DAY_COUNT_BASIS = {"ACT/365F": 365, "ACT/360": 360}


@dataclass(frozen=True, slots=True)
class LeaseBackTarget:
    """A lease-back target with what it came from, for the entry's `basis`."""

    target: Decimal
    covered_hours: Decimal  # H; 0 when nothing is covered
    rate: Decimal


def lease_back_target(
    backstop: Backstop, gpu_model: str, available: Decimal, sold: Decimal, places: int, mode: str
) -> LeaseBackTarget:
    """Target of one pool in one period: round(H × rate), or 0 when sales meet the threshold."""
    rate = backstop.rate_per_gpu_hour[gpu_model]
    floor_hours = EXACT.multiply(backstop.threshold, available)
    if available.is_zero() or sold >= floor_hours:
        return LeaseBackTarget(round_fraction(0, places, mode), ZERO, rate)
    if backstop.covers == "shortfall":
        covered = EXACT.subtract(floor_hours, sold)
    else:
        covered = EXACT.subtract(available, sold)
    return LeaseBackTarget(round_fraction(EXACT.multiply(covered, rate), places, mode), covered, rate)


def revenue_share_step(revenue_share: RevenueShare, contract_year: int) -> int:
    """Index of the step in force in a contract year: the largest `from_year` ≤ that year."""
    index = 0
    for position, step in enumerate(revenue_share.steps):
        if step.from_year <= contract_year:
            index = position
    return index


def revenue_share_target(revenue: Decimal, rate: Decimal, places: int, mode: str) -> Decimal:
    """round(R × rate), or 0 when the period's revenue is not positive."""
    if revenue <= 0:
        return round_fraction(0, places, mode)
    return round_fraction(EXACT.multiply(revenue, rate), places, mode)


def capped_change(change: Decimal, cap: Decimal | None, entitled: Decimal, issued: Decimal) -> Decimal:
    """The amount issued for a lease-back change d under the cap (SPEC §5.3).

    Raises pay out only up to the cap's headroom; cuts claw back only what was issued above
    the entitlement that remains, so a lower cap never claws back what was issued.
    """
    if change > 0:
        if cap is None:
            return change
        return min(change, max(ZERO, EXACT.subtract(cap, issued)))
    remaining = EXACT.subtract(EXACT.add(entitled, change), issued)
    return min(ZERO, max(change, remaining))


def late_interest(
    applied: Decimal, annual_rate: Decimal, days: int, day_count: str, places: int, mode: str
) -> Decimal:
    """round(a × annual_rate × days / basis) on an amount applied `days` after it fell due."""
    exact = Fraction(applied) * Fraction(annual_rate) * days / DAY_COUNT_BASIS[day_count]
    return round_fraction(exact, places, mode)


def days_late(due: date, paid: date) -> int:
    return (paid - due).days
