"""Scalars of a rule file turned into typed values, each check saying what it expected.

Every function reads one node, reports a problem at that node when the text is wrong, and
returns the value (or None after reporting). Numbers are read from the scalar's own text, so
decimals are exact.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from ruamel.yaml.nodes import Node, SequenceNode

from bot.domain.thresholds import Threshold, ThresholdSyntaxError
from bot.rulefiles.yamlnodes import Sheet, is_null, is_text, shown

_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_DURATION = timedelta(weeks=260)  # five years: longer is a typo (and past it, dates overflow)
_THRESHOLD_EXPECTED = 'expected a threshold such as ">= 1.25" (an operator >=, >, <= or < and a decimal)'


def text(sheet: Sheet, node: Node, label: str, what: str = "a text") -> str | None:
    """A non-empty scalar's text."""
    if not is_text(node) or node.value.strip() == "":
        sheet.error(node, f"{label}: expected {what}, got {shown(node)}")
        return None
    return node.value


def optional_text(sheet: Sheet, node: Node, label: str) -> str | None:
    return None if is_null(node) else text(sheet, node, label)


def decimal(sheet: Sheet, node: Node, label: str, expected: str) -> Decimal | None:
    """A plain decimal number (``1.25``, ``-0.35``, ``3``), checked by ``expected``'s words."""
    if is_text(node) and _DECIMAL.match(node.value.strip()):
        return Decimal(node.value.strip())
    sheet.error(node, f"{label}: expected {expected}, got {shown(node)}")
    return None


def integer(sheet: Sheet, node: Node, label: str, minimum: int) -> int | None:
    """A whole number at least ``minimum``."""
    expected = "a whole number of 0 or more" if minimum == 0 else f"a whole number of {minimum} or more"
    if is_text(node) and _INTEGER.match(node.value.strip()):
        value = int(node.value.strip())
        if value >= minimum:
            return value
    sheet.error(node, f"{label}: expected {expected}, got {shown(node)}")
    return None


def threshold(sheet: Sheet, node: Node, label: str) -> Threshold | None:
    if is_text(node):
        try:
            return Threshold.parse(node.value)
        except ThresholdSyntaxError:
            pass
    sheet.error(node, f"{label}: {_THRESHOLD_EXPECTED}, got {shown(node)}")
    return None


def iso_date(sheet: Sheet, node: Node, label: str) -> date | None:
    if is_text(node) and _DATE.match(node.value):
        try:
            return date.fromisoformat(node.value)
        except ValueError:
            pass
    sheet.error(node, f"{label}: expected a date written YYYY-MM-DD (e.g. 2026-07-01), got {shown(node)}")
    return None


def duration(sheet: Sheet, node: Node, label: str) -> tuple[bool, timedelta | None]:
    """``7d``, ``12h``, ``2w``, ``30m``, or ``never``/nothing (None). Returns (ok, value)."""
    if is_null(node) or (is_text(node) and node.value.strip().lower() == "never"):
        return True, None
    if is_text(node):
        m = _DURATION.match(node.value.strip())
        if m and int(m.group(1)) > 0:
            count, unit = int(m.group(1)), _UNITS[m.group(2)]
            if count <= MAX_DURATION // unit:
                return True, count * unit
            sheet.error(node, f"{label}: {shown(node)} is longer than covbot allows; "
                              "a duration is at most five years (260w, 1820d)")
            return False, None
    sheet.error(
        node,
        f"{label}: expected a duration such as 7d, 12h, 2w or 30m (more than 0), or never, got {shown(node)}",
    )
    return False, None


def fraction(sheet: Sheet, node: Node, label: str, expected: str) -> Decimal | None:
    """A change written ``-0.30`` or ``-30%`` (as a number or in quotes), as a Decimal fraction."""
    if is_text(node):
        raw = node.value.strip()
        percent = raw.endswith("%")
        number = raw[:-1].strip() if percent else raw
        if _DECIMAL.match(number):
            value = Decimal(number)
            return value.scaleb(-2) if percent else value
    sheet.error(node, f"{label}: expected {expected}, got {shown(node)}")
    return None


def names(sheet: Sheet, node: Node, label: str, one: str, many: str) -> tuple[str, ...] | None:
    """A list of names (``one`` says what each is); a single name is accepted as a one-item list."""
    if is_text(node):
        items = [node]
    elif not isinstance(node, SequenceNode):
        sheet.error(node, f"{label}: expected {one} or a list of {many}, got {shown(node)}")
        return None
    else:
        items = list(node.value)
    if not items:
        sheet.error(node, f"{label}: expected at least one of {many}, got an empty list")
        return None
    found = [text(sheet, item, label, one) for item in items]
    if any(v is None for v in found):
        return None
    return tuple(v for v in found if v is not None)
