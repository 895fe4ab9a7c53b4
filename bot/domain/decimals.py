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
