"""Decimal arithmetic in one explicit context, and the canonical text form of a decimal."""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation, ROUND_HALF_EVEN, Overflow, DivisionByZero

# 28 significant digits (Python's default) with traps on, set explicitly so no caller's
# thread-local context can change a result.
CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, Overflow, DivisionByZero])

ZERO = Decimal(0)
ONE = Decimal(1)


def dec(text: str | int | Decimal) -> Decimal:
    """A Decimal from text or int (never from float)."""
    if isinstance(text, float):  # pragma: no cover - defensive
        raise TypeError("floats are not accepted for money or ratios")
    return Decimal(text)


def to_text(value: Decimal | None) -> str | None:
    """Plain decimal text without exponent (``1.25``, ``-0.35``, ``1500000.00``)."""
    if value is None:
        return None
    text = format(value, "f")
    if text == "-0":
        return "0"
    return text


def divide(a: Decimal, b: Decimal) -> Decimal:
    return CONTEXT.divide(a, b)


# -- text for people: total, whatever the Decimal ---------------------------------------------------

_PLAIN_DIGITS = 40  # beyond this many integer digits a number is shown in scientific notation
_WIDE = Context(prec=_PLAIN_DIGITS + 60, rounding=ROUND_HALF_EVEN, Emax=999_999_999, Emin=-999_999_999,
                traps=[])


def fixed(value: Decimal, places: int = 0, *, grouping: bool = False, rounding: str = ROUND_HALF_EVEN) -> str:
    """``value`` rounded to ``places`` decimals as plain text (``1,234.50`` with ``grouping``).

    Never raises: NaN and infinities show as such, and a number with more than 40 integer digits
    (only an absurd input or ratio gets there) is shown as ``1.00E+45``."""
    if not value.is_finite():
        return "NaN" if value.is_nan() else ("-Infinity" if value < 0 else "Infinity")
    if value.adjusted() >= _PLAIN_DIGITS:
        return format(value, f".{max(places, 2)}E")
    context = Context(prec=_PLAIN_DIGITS + places + 2, rounding=rounding, Emax=999_999_999,
                      Emin=-999_999_999, traps=[])
    rounded = value.quantize(Decimal(1).scaleb(-places, context=_WIDE), context=context)
    text = format(rounded, ",f" if grouping else "f")
    return text[1:] if rounded == 0 and text.startswith("-") else text


def percent(value: Decimal, places: int = 1, *, rounding: str = ROUND_HALF_EVEN) -> str:
    """``value`` × 100 as text with ``places`` decimals (``0.1234`` → ``12.3``); never raises."""
    if not value.is_finite():
        return fixed(value)
    return fixed(value.scaleb(2, context=_WIDE), places, rounding=rounding)
