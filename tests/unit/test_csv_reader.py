"""The CSV reader and value parsers without a database: exact values, line numbers, and a fuzz."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import ImportDataError
from bot.imports import SPECS, read_rows
from bot.imports import fields
from bot.imports.fields import FieldError
from bot.imports.reader import read_records


@pytest.mark.parametrize("text, value", [
    ("1250000.00", "1250000.00"), ("-0.35", "-0.35"), ("0", "0"), ("+7", "7"),
    ("123456789012345678.123456789012345678", "123456789012345678.123456789012345678"),  # the bounds
    ("000000000000000000001.5", "1.5"),
])
def test_plain_decimals_are_read_exactly(text, value):
    parsed = fields.decimal(text)
    assert isinstance(parsed, Decimal) and parsed == Decimal(value)


@pytest.mark.parametrize("text", ["1234567890123456789012345.678", "1" + "0" * 18, "-1" + "0" * 18,
                                  "0." + "1" * 19])
def test_decimals_beyond_18_digits_either_side_are_refused(text):
    with pytest.raises(FieldError, match="18 digits"):
        fields.decimal(text)


@pytest.mark.parametrize("text", [
    "1e5", "1E-2", "NaN", "nan", "inf", "-Infinity", "1,000", "12,5", "1_000", "$5", "5%", ".5", "5.",
    "1.2.3", "--1", "٣", "0x10", "1 000",
])
def test_anything_but_a_plain_decimal_is_refused(text):
    with pytest.raises(FieldError, match="expected a decimal number such as 1250000.00"):
        fields.decimal(text)


def test_negative_amounts_where_not_allowed():
    assert fields.non_negative_decimal("0.00") == 0
    assert fields.non_negative_decimal("-0") == 0
    with pytest.raises(FieldError, match='must not be negative, got "-0.01"'):
        fields.non_negative_decimal("-0.01")
    with pytest.raises(FieldError, match="expected a decimal number"):
        fields.non_negative_decimal("-x")


def test_dates_are_iso_only():
    assert fields.iso_date("2024-02-29") == date(2024, 2, 29)
    assert fields.optional_date("") is None
    for bad in ("2025-2-3", "20250203", "2025/02/03", "03-02-2025", "2025-02-03T00:00"):
        with pytest.raises(FieldError, match="YYYY-MM-DD"):
            fields.iso_date(bad)
    with pytest.raises(FieldError, match="not a date on the calendar"):
        fields.iso_date("2025-02-29")


def test_records_start_on_their_physical_line():
    data = b'a,b\n\n"x\ny",1\r\n"p\r\nq\rr",2\nlast,3\n\n'
    csv = read_records("t.csv", data)
    assert csv.problems == []
    assert csv.header == ["a", "b"]
    assert [line for line, _ in csv.records] == [3, 5, 8]
    assert csv.records[1][1] == ["p\r\nq\rr", "2"]


def test_rows_come_back_typed():
    data = ("symbol,date,price\r\nBTC,2026-01-01, 94000.50 \r\nGPU:H100,2026-01-01,18500\r\n").encode()
    assert read_rows("prices.csv", data) == [
        {"symbol": "BTC", "date": date(2026, 1, 1), "price": Decimal("94000.50")},
        {"symbol": "GPU:H100", "date": date(2026, 1, 1), "price": Decimal("18500")},
    ]


def test_columns_may_come_in_any_order_and_problems_name_the_real_position():
    data = b"price,symbol,date\n1e5,BTC,2026-01-01\n3,ETH,2026-01-01\n"
    with pytest.raises(ImportDataError) as caught:
        read_rows("prices.csv", data)
    assert [str(p) for p in caught.value.problems] == [
        'prices.csv:2:1: price: expected a decimal number such as 1250000.00, got "1e5"']
    assert read_rows("prices.csv", b"price,symbol,date\n3,ETH,2026-01-01\n")[0]["symbol"] == "ETH"


def test_every_bad_value_of_a_row_is_reported():
    header = "facility_id,period_end,revenue,opex,capex,taxes,interest,principal,cash,reported_on\n"
    data = (header + "F,2025-13-01,1,x,1,1,1,1,1,\n").encode()
    with pytest.raises(ImportDataError) as caught:
        read_rows("financials.csv", data)
    assert [str(p.location) for p in caught.value.problems] == ["financials.csv:2:2", "financials.csv:2:4"]


# --- fuzz: any bytes are either rows or ImportDataError, never another exception -------------

CSV_ALPHABET = st.sampled_from(list('abcFH-0123456789.,;"\r\n :+eE\t\x00é€') + ["NaN", "inf", "2025-03-31"])


def _check(name: str, data: bytes) -> None:
    try:
        rows = read_rows(name, data)
    except ImportDataError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.location.file == name
            assert problem.location.line >= 1 and problem.location.column >= 1
    else:
        assert isinstance(rows, list)
        for row in rows:
            assert tuple(row) == SPECS[name].column_names


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SPECS)), data=st.binary(max_size=400))
def test_random_bytes_never_crash_the_reader(name, data):
    _check(name, data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SPECS)), body=st.lists(CSV_ALPHABET, max_size=200).map("".join),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_random_csv_like_text_never_crashes_the_reader(name, body, encoding):
    header = ",".join(SPECS[name].column_names) + "\n"
    _check(name, (header + body).encode(encoding, errors="surrogatepass"))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_generated_valid_price_rows_are_read_back(data):
    rows = data.draw(st.lists(
        st.tuples(
            st.text(st.characters(whitelist_categories=("Lu", "Nd"), max_codepoint=127), min_size=1, max_size=8),
            st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)),
            st.decimals(min_value=0, max_value=10**12, places=4, allow_nan=False, allow_infinity=False),
        ),
        max_size=20, unique_by=lambda r: (r[0], r[1]),
    ))
    text = "symbol,date,price\n" + "".join(f'{s},{d.isoformat()},{p:f}\n' for s, d, p in rows)
    back = read_rows("prices.csv", text.encode())
    assert [(r["symbol"], r["date"], r["price"]) for r in back] == [(s, d, p) for s, d, p in rows]
