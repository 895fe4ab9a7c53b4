"""Formatting a decimal for people never raises, whatever the Decimal (issue 13, item 2)."""

from decimal import Decimal

import pytest

from bot.domain.decimals import fixed, percent

EXTREMES = [
    Decimal("1E+28"), Decimal("-1E+26"), Decimal("123456789012345678901234567890.123456789"),
    Decimal("1E+999999"), Decimal("-1E-999999"), Decimal("0E-1000"), Decimal("NaN"), Decimal("sNaN"),
    Decimal("Infinity"), Decimal("-Infinity"), Decimal("9" * 60), Decimal("0." + "9" * 60),
]


@pytest.mark.parametrize("value", EXTREMES, ids=str)
@pytest.mark.parametrize("places", [0, 1, 2, 4])
def test_fixed_and_percent_are_total(value, places):
    for grouping in (False, True):
        text = fixed(value, places, grouping=grouping)
        assert isinstance(text, str) and text and len(text) <= 80
    assert isinstance(percent(value, places), str)


def test_ordinary_values_are_exact_and_grouped():
    assert fixed(Decimal("1234567.895"), 2, grouping=True) == "1,234,567.90"
    assert fixed(Decimal("1E+28"), 0, grouping=True) == "10,000,000,000,000,000,000,000,000,000"
    assert fixed(Decimal("-0.004"), 2) == "0.00"
    assert percent(Decimal("0.1234")) == "12.3"
    assert percent(Decimal("1E+26")) == "10000000000000000000000000000.0"


def test_absurd_magnitudes_fall_back_to_scientific_text():
    assert fixed(Decimal("1E+999999"), 2) == "1.00E+999999"
    assert fixed(Decimal("NaN"), 2) == "NaN"
    assert fixed(Decimal("-Infinity"), 2) == "-Infinity"
