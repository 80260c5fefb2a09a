"""Exact numbers: decimal text, the one rounding of SPEC §1, and amount formatting.

Amounts are `Decimal` values summed and multiplied under `EXACT`, a context that raises
instead of rounding, so an arithmetic slip fails loudly rather than losing a cent. Formulas
that divide are computed as `fractions.Fraction` and rounded by `round_fraction`.
"""

from __future__ import annotations

import re
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from fractions import Fraction

#: Sums and products of SPEC-bounded decimals never need more than a few hundred digits; a
#: result that would is an engine bug, so the context traps instead of rounding.
EXACT = Context(
    prec=1000,
    rounding=ROUND_HALF_EVEN,
    Emax=10_000,
    Emin=-10_000,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)

INTEGER_DIGITS_MAX = 20
FRACTION_DIGITS_MAX = 12
DECIMAL_TEXT = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?")
INTEGER_TEXT = re.compile(r"-?[0-9]+")

ROUNDING_MODES = {"half_even": ROUND_HALF_EVEN, "half_up": ROUND_HALF_UP, "down": ROUND_DOWN}
ZERO = Decimal(0)


def decimal_text_problem(text: str) -> str | None:
    """Why `text` is not a SPEC decimal (`-?[0-9]+(\\.[0-9]+)?` within digit bounds), or None."""
    match = DECIMAL_TEXT.fullmatch(text)
    if match is None:
        return f'expected a decimal like "2.10"; got {text!r}'
    integer_part, fraction_part = match.group(1), match.group(2) or ""
    if len(integer_part) > INTEGER_DIGITS_MAX:
        return f"has {len(integer_part)} digits before the point; at most {INTEGER_DIGITS_MAX} allowed"
    if len(fraction_part) > FRACTION_DIGITS_MAX:
        return f"has {len(fraction_part)} digits after the point; at most {FRACTION_DIGITS_MAX} allowed"
    return None


def fraction_digits(text: str) -> int:
    """Fraction digits as written: `100.000` has three."""
    _, _, fraction_part = text.partition(".")
    return len(fraction_part)


def round_fraction(value: Fraction | Decimal | int, places: int, mode: str) -> Decimal:
    """Round an exact value once, to `places` fraction digits, by a SPEC rounding mode.

    `down` rounds toward zero; `half_up` rounds halves away from zero. The result carries
    exactly `places` fraction digits and never a negative zero.
    """
    exact = Fraction(value)
    scaled = exact * 10**places
    magnitude = abs(scaled)
    whole, remainder = divmod(magnitude.numerator, magnitude.denominator)
    if mode == "down":
        pass
    elif mode == "half_up":
        if 2 * remainder >= magnitude.denominator:
            whole += 1
    elif mode == "half_even":
        twice = 2 * remainder
        if twice > magnitude.denominator or (twice == magnitude.denominator and whole % 2 == 1):
            whole += 1
    else:
        raise ValueError(f"unknown rounding mode {mode!r}")
    signed = -whole if scaled < 0 else whole
    return Decimal(signed).scaleb(-places, EXACT) if signed else Decimal(0).scaleb(-places, EXACT)


def format_amount(amount: Decimal, places: int) -> str:
    """An amount as written in the ledger: exactly `places` fraction digits, no negative zero."""
    quantized = amount.quantize(Decimal(1).scaleb(-places), context=EXACT)
    if quantized.is_zero():
        quantized = abs(quantized)
    return f"{quantized:f}"


def decimal_text(value: Decimal) -> str:
    """A decimal as written (no exponent), for a term or an event value in `basis.inputs`."""
    text = f"{value:f}"
    return "0" if text in ("-0", "0") else text


def sum_text(value: Decimal) -> str:
    """A derived decimal (a sum of inputs) in its shortest exact form: `1.50` → `1.5`.

    Sums carry trailing zeros that depend on how their events were written and corrected;
    writing the value alone keeps the ledger a function of the amounts, not of their spelling.
    """
    if value.is_zero():
        return "0"
    return f"{value.normalize(EXACT):f}"
