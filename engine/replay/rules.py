"""Pure rules of SPEC §5.3–§5.5 and §5.7: targets, the caps, late interest, the call amount.

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


def revenue_share_target(base: Decimal | Fraction, rate: Decimal, places: int, mode: str) -> Decimal:
    """round(B × rate), or 0 when the base is not positive.

    B is the period's revenue R, or (v2, `above_floor`) R − F, an exact `Fraction`.
    """
    if base <= 0:
        return round_fraction(0, places, mode)
    if type(base) is Fraction:
        return round_fraction(base * Fraction(rate), places, mode)
    return round_fraction(EXACT.multiply(base, rate), places, mode)


def top_up_target(revenue: Decimal, floor: Fraction, places: int, mode: str) -> Decimal:
    """(v2) round(F − R) when the period's revenue R falls short of its scheduled floor F, else 0.

    R may be negative; the top-up then exceeds F.
    """
    shortfall = floor - Fraction(revenue)
    if shortfall <= 0:
        return round_fraction(0, places, mode)
    return round_fraction(shortfall, places, mode)


def call_amount(outstanding: Decimal, covers: Decimal, cap: Decimal | None, called: Decimal, places: int,
                mode: str) -> tuple[Decimal, Decimal]:
    """(v2) (c, u) of a guarantee call (SPEC §5.7): u = round(O × covers) is what the guarantee
    covers of the outstanding O, and c = min(u, max(0, cap − C)) what the cap leaves of it,
    C being every call amount so far (c = u without a cap)."""
    covered = round_fraction(Fraction(outstanding) * Fraction(covers), places, mode)
    if cap is None:
        return covered, covered
    return min(covered, max(ZERO, EXACT.subtract(cap, called))), covered


def capped_change(change: Decimal, cap: Decimal | None, entitled: Decimal, issued: Decimal) -> Decimal:
    """The amount issued for a lease-back (or, v2, top-up) change d under its cap (SPEC §5.3).

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
