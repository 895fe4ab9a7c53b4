"""Thresholds (``">= 1.25"``): parsing, comparison and headroom, exactly per DOMAIN.md."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

from bot.domain.decimals import CONTEXT, divide, to_text

OPERATORS = (">=", ">", "<=", "<")
_PATTERN = re.compile(r"^\s*(>=|<=|>|<)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*$")


class ThresholdSyntaxError(ValueError):
    """The text is not an operator followed by a decimal."""


@dataclass(frozen=True)
class Threshold:
    op: str
    value: Decimal

    @classmethod
    def parse(cls, text: str) -> "Threshold":
        if not isinstance(text, str):
            raise ThresholdSyntaxError(
                f"expected a threshold such as \">= 1.25\" (an operator >=, >, <= or < and a decimal), got {text!r}"
            )
        m = _PATTERN.match(text)
        if not m:
            raise ThresholdSyntaxError(
                f"expected a threshold such as \">= 1.25\" (an operator >=, >, <= or < and a decimal), got {text!r}"
            )
        try:
            value = Decimal(m.group(2))
        except InvalidOperation as exc:  # pragma: no cover - the regex guards this
            raise ThresholdSyntaxError(f"{m.group(2)!r} is not a decimal number") from exc
        return cls(m.group(1), value)

    def passes(self, value: Decimal) -> bool:
        """Exact decimal comparison; equal complies with >= and <=, fails > and <."""
        if self.op == ">=":
            return value >= self.value
        if self.op == ">":
            return value > self.value
        if self.op == "<=":
            return value <= self.value
        return value < self.value

    @property
    def is_lower_bound(self) -> bool:
        return self.op in (">=", ">")

    def headroom(self, value: Decimal) -> Decimal | None:
        """(value − t)/|t| for >= and >; (t − value)/|t| for <= and <; None when t = 0.

        Computed in ``CONTEXT`` whatever the caller's decimal context: stored results keep the
        threshold text and the value, and every reader derives the same headroom from them."""
        if self.value == 0:
            return None
        diff = CONTEXT.subtract(value, self.value) if self.is_lower_bound else CONTEXT.subtract(self.value, value)
        return divide(diff, CONTEXT.abs(self.value))

    def __str__(self) -> str:
        # remembered: every result of a covenant shares its threshold, and the daily job writes the
        # text of each (frozen, so straight into the instance's dict; not a field: equality ignores it)
        text = self.__dict__.get("_text")
        if text is None:
            text = self.__dict__["_text"] = f"{self.op} {to_text(self.value)}"
        return text


def last_compliant_day(threshold_op: str, limit: Decimal) -> int | None:
    """The largest whole number of days that still complies with ``<= limit`` / ``< limit`` (a
    reporting covenant on days_since_period_end); None for a lower bound, which sets no deadline."""
    if threshold_op == "<=":
        return int(limit.to_integral_value(rounding=ROUND_FLOOR))
    if threshold_op == "<":
        return int(limit.to_integral_value(rounding=ROUND_CEILING)) - 1
    return None
