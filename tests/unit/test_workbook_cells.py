"""Typed workbook cells → the text the CSV contract reads, exactly."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.errors import CellLocation
from bot.imports.workbook import _CellError, cell_text, float_text


@pytest.mark.parametrize(("value", "text"), [
    (0.1, "0.1"), (1234.56, "1234.56"), (-0.35, "-0.35"), (15000000.0, "15000000.0"), (1e16, "10000000000000000"),
    (123456789012345.0, "123456789012345.0"), (0.000123, "0.000123"), (-0.0, "0"),
])
def test_a_float_cell_is_the_shortest_decimal_that_round_trips(value, text):
    assert float_text(value) == text


@pytest.mark.parametrize("value", [0.1 + 0.2, 1234567.8901234567, 1 / 3])
def test_more_than_15_significant_digits_is_refused_with_a_hint(value):
    with pytest.raises(_CellError, match="store it as text"):
        float_text(value)


def test_other_cells():
    assert cell_text(None) == ""
    assert cell_text(42) == "42"
    assert cell_text(datetime(2026, 3, 31)) == "2026-03-31"
    assert cell_text(datetime(2026, 3, 31, 12, 30)) == "2026-03-31 12:30:00"  # refused by the date column
    assert cell_text(date(2026, 3, 31)) == "2026-03-31"
    assert cell_text(" GPUC-001 ") == " GPUC-001 "  # stripped by the validation, as a CSV value
    assert cell_text(True) == "TRUE"


def test_a_cell_location_is_shown_as_excel_names_it():
    assert str(CellLocation("book.xlsx", 7, 3, "financials")) == "book.xlsx:financials!C7"
    assert str(CellLocation("book.xlsx", 2, 28, "prices")) == "book.xlsx:prices!AB2"
