from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from engine.numbers import decimal_text_problem, format_amount, round_fraction


@pytest.mark.parametrize(
    "value, places, mode, expected",
    [
        (Fraction(5, 1000), 2, "half_even", "0.00"),
        (Fraction(15, 1000), 2, "half_even", "0.02"),
        (Fraction(25, 1000), 2, "half_even", "0.02"),
        (Fraction(25, 1000), 2, "half_up", "0.03"),
        (Fraction(-25, 1000), 2, "half_up", "-0.03"),
        (Fraction(-25, 1000), 2, "half_even", "-0.02"),
        (Fraction(-29, 1000), 2, "down", "-0.02"),
        (Fraction(29, 1000), 2, "down", "0.02"),
        (Fraction(-1, 1000), 2, "half_even", "0.00"),
        (Fraction(40767, 1000), 2, "half_even", "40.77"),
        (Fraction(7, 3), 0, "half_up", "2"),
        (Fraction(1, 3), 6, "half_even", "0.333333"),
    ],
)
def test_round_fraction(value, places, mode, expected):
    result = round_fraction(value, places, mode)
    assert format_amount(result, places) == expected


@given(st.fractions(), st.integers(0, 6), st.sampled_from(["half_even", "half_up", "down"]))
def test_rounding_is_within_half_a_unit_and_down_never_grows(value, places, mode):
    result = Fraction(round_fraction(value, places, mode))
    unit = Fraction(1, 10**places)
    assert abs(result - value) <= unit if mode == "down" else abs(result - value) <= unit / 2
    if mode == "down":
        assert abs(result) <= abs(value)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**6, max_value=10**6))
def test_format_amount_writes_exactly_the_places_and_no_negative_zero(amount):
    text = format_amount(amount, 2)
    assert len(text.partition(".")[2]) == 2
    assert text != "-0.00"
    assert Decimal(text) == amount


@pytest.mark.parametrize("text", ["1", "-1", "0.5", "12345678901234567890.123456789012"])
def test_decimal_text_accepted(text):
    assert decimal_text_problem(text) is None


@pytest.mark.parametrize(
    "text, words",
    [("+1", "expected a decimal"), (".5", "expected a decimal"), ("5.", "expected a decimal"), ("1e3", "expected a decimal"),
     ("123456789012345678901", "21 digits before the point"), ("0.1234567890123", "13 digits after the point"),
     ("1,000", "expected a decimal"), (" 1", "expected a decimal")],
)
def test_decimal_text_rejected(text, words):
    assert words in decimal_text_problem(text)
