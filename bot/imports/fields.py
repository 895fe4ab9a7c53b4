"""Parsers for one CSV value each: text in, a Python value out, or ``FieldError`` with a sentence.

Numbers are plain decimals only (``1250000.00``, ``-0.35``): no exponents, no thousands
separators, no ``NaN``/``inf``, no currency signs, and at most 18 digits before and 18 after the
decimal point (a lender's amounts fit; anything larger is a typo or a hostile file, and would only
break arithmetic and formatting later). Dates are ISO ``YYYY-MM-DD``.
Facility ids are printable text without surrounding spaces, so two ids that look alike are equal.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Callable

Parser = Callable[[str], Any]

MAX_INTEGER_DIGITS = 18
MAX_FRACTION_DIGITS = 18

_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_UNSIGNED = re.compile(r"\+?[0-9]+(?:\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHITESPACE = re.compile(r"\s")


class FieldError(ValueError):
    """The value does not fit its column; the message says what was expected."""


def _shown(text: str) -> str:
    if len(text) > 40:
        text = text[:37] + "..."
    return '"' + text.replace('"', '\\"') + '"'


def text(value: str) -> str:
    if not value:
        raise FieldError("a value is required")
    return value


def optional_text(value: str) -> str | None:
    return value or None


def identifier(value: str) -> str:
    """Non-empty and without spaces (facility ids, symbols)."""
    if not value:
        raise FieldError("a value is required")
    if _WHITESPACE.search(value):
        raise FieldError(f"expected a value without spaces, got {_shown(value)}")
    return value


def facility_id(value: str) -> str:
    """A facility id: printable, without spaces around it (given the value as written, unstripped),
    so a second "GPUC-001" with a trailing space or a zero-width character cannot slip in."""
    if not value.strip():
        raise FieldError("a value is required")
    if value != value.strip():
        raise FieldError(f"{_shown(value)} has spaces around it; write the id without them")
    if not value.isprintable():
        bad = next(ch for ch in value if not ch.isprintable())
        raise FieldError(f"{_shown(value.encode('unicode_escape').decode('ascii'))} contains the invisible "
                         f"or control character U+{ord(bad):04X}; type the id again without it")
    return value


facility_id.unstripped = True  # type: ignore[attr-defined]  # validate.py passes the raw value


def symbol(value: str) -> str:
    if not value:
        raise FieldError("a value is required (e.g. BTC, ETH, GPU:H100, RENT:H100)")
    if _WHITESPACE.search(value):
        raise FieldError(f"expected a symbol without spaces such as BTC or GPU:H100, got {_shown(value)}")
    return value


def _bounded(value: str) -> Decimal:
    """``value`` (already known to be a plain decimal) within the digits covbot accepts."""
    if len(value) > MAX_INTEGER_DIGITS:  # short values cannot break a bound: skip the split
        whole, _, fraction = value.lstrip("+-").partition(".")
        if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
            raise FieldError(f"has more than {MAX_INTEGER_DIGITS} digits before the decimal point, got "
                             f"{_shown(value)}; covbot takes amounts up to 999,999,999,999,999,999 "
                             f"({MAX_INTEGER_DIGITS} digits)")
        if len(fraction) > MAX_FRACTION_DIGITS:
            raise FieldError(f"has more than {MAX_FRACTION_DIGITS} digits after the decimal point, got "
                             f"{_shown(value)}")
    return Decimal(value)


def decimal(value: str) -> Decimal:
    """Any plain decimal number, negative allowed (financial amounts)."""
    if _DECIMAL.fullmatch(value):
        return _bounded(value)
    if not value:
        raise FieldError("a value is required (a decimal number such as 1250000.00)")
    raise FieldError(f"expected a decimal number such as 1250000.00, got {_shown(value)}")


def non_negative_decimal(value: str) -> Decimal:
    """A plain decimal number that is zero or more (quantities, costs, prices, balances)."""
    if _UNSIGNED.fullmatch(value):
        return _bounded(value)
    number = decimal(value)  # raises for anything that is not a number at all
    if number < 0:
        raise FieldError(f"must not be negative, got {_shown(value)}")
    return number  # "-0"


_DATES: dict[str, date] = {}  # dates repeat a lot in loan data; parsing each once is enough


def iso_date(value: str) -> date:
    known = _DATES.get(value)
    if known is not None:
        return known
    if not value:
        raise FieldError("a value is required (a date written YYYY-MM-DD)")
    if not _DATE.fullmatch(value):
        raise FieldError(f"expected a date written YYYY-MM-DD, got {_shown(value)}")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise FieldError(f"{_shown(value)} is not a date on the calendar") from None
    if len(_DATES) >= 100_000:
        _DATES.clear()
    _DATES[value] = parsed
    return parsed


def optional_date(value: str) -> date | None:
    return iso_date(value) if value else None
