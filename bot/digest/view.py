"""How the digest's numbers read and draw: text, and geometry for SVG and e-mail bars.

Templates receive a ``DigestFormat`` as ``fmt`` and call it (``fmt.headroom(h)``); every method
returns plain text or numbers, so the HTML templates' autoescaping still applies to all of it.
Decimal throughout; coordinates are rounded decimals written as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

from bot.digest.model import CovenantLine, Money
from bot.digest.trend import ARROWS, NEG_SCALE, POS_SCALE, Point, spark, text_bar
from bot.notify.render import STATUS_WORDS, format_headroom, format_number, format_threshold, format_value

ARROW_WORDS = {"up": "improving", "down": "deteriorating", "flat": "steady", "none": "no comparison"}

# SVG headroom bar: −50 %..0 on the left third, 0..+100 % on the right two thirds.
BAR_WIDTH, BAR_HEIGHT = Decimal(120), Decimal(10)
BAR_ZERO = BAR_WIDTH * NEG_SCALE / (NEG_SCALE + POS_SCALE)
# SVG sparkline: one bar per point.
SPARK_BAR, SPARK_GAP, SPARK_HEIGHT = Decimal(7), Decimal(3), Decimal(24)
# Collateral mirage bars: an LTV from 0 to 200 % over LTV_WIDTH, 100 % marked.
LTV_WIDTH, LTV_HEIGHT, LTV_SCALE = Decimal(160), Decimal(8), Decimal(2)
# E-mail bar in pixels (table cells), same scale as the SVG one.
MAIL_NEG, MAIL_POS = 40, 80

_MD_SPECIAL = set("\\`*_[]<>|&~#")


def md_escape(text: str) -> str:
    """Text safe inside Markdown (also in a table cell): every active character backslash-escaped."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text)).replace("\n", " ")


def _px(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _whole(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Rect:
    x: str
    y: str
    width: str
    height: str
    kind: str  # css class suffix: a status, or "gap"


@dataclass(frozen=True)
class MailBar:
    """Pixel widths of the cells of a table-drawn headroom bar (0: leave the cell out)."""

    neg_rest: int
    neg: int
    pos: int
    pos_rest: int


class DigestFormat:
    """Formatting helpers handed to the digest templates."""

    arrows = ARROWS
    bar_width = _px(BAR_WIDTH)
    bar_height = _px(BAR_HEIGHT)
    bar_zero = _px(BAR_ZERO)
    spark_height = _px(SPARK_HEIGHT)

    # -- text ------------------------------------------------------------------------------------
    @staticmethod
    def status(status: str | None) -> str:
        return STATUS_WORDS.get(status, status) if status else "not tested"

    @staticmethod
    def value(line: CovenantLine, currency: str = "") -> str:
        return format_value(line.result.metric, line.result.value, currency)

    @staticmethod
    def threshold(line: CovenantLine, currency: str = "") -> str:
        return format_threshold(line.result.metric, line.result.threshold, currency)

    @staticmethod
    def headroom(headroom: Decimal | None) -> str:
        return format_headroom(headroom)

    @staticmethod
    def money(amounts: Sequence[Money]) -> str:
        if not amounts:
            return "0"
        return " + ".join(f"{m.currency} {format_number(m.amount, 0)}".strip() for m in amounts)

    @staticmethod
    def arrow(name: str) -> str:
        return ARROWS[name]

    @staticmethod
    def arrow_word(name: str) -> str:
        return ARROW_WORDS[name]

    @staticmethod
    def spark(points: Sequence[Point]) -> str:
        return spark(points)

    @staticmethod
    def bar(headroom: Decimal | None) -> str:
        return text_bar(headroom)

    @staticmethod
    def date(day: date | None) -> str:
        return day.isoformat() if day else "—"

    @staticmethod
    def days(n: int | None) -> str:
        if n is None:
            return "—"
        return f"{n} day" if abs(n) == 1 else f"{n} days"

    @staticmethod
    def plural(n: int, one: str, many: str | None = None) -> str:
        return f"{n} {one if n == 1 else (many or one + 's')}"

    @staticmethod
    def ids(ids: Sequence[str], limit: int = 10) -> str:
        """``A, B, C and 12 more``: at most ``limit`` ids named."""
        shown = ", ".join(ids[:limit])
        return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")

    @staticmethod
    def points_title(points: Sequence[Point]) -> str:
        """``2025-12-31 +12.0 %, 2026-03-31 no data, …`` for a tooltip."""
        parts = []
        for p in points:
            what = format_headroom(p.headroom) if p.headroom is not None else DigestFormat.status(p.status)
            parts.append(f"{p.as_of.isoformat()} {what}")
        return ", ".join(parts)

    # -- drawing ---------------------------------------------------------------------------------
    @staticmethod
    def svg_bar(headroom: Decimal | None, status: str) -> Rect | None:
        """The filled part of a headroom bar (None: nothing to draw)."""
        if headroom is None:
            return None
        if headroom < 0:
            width = min(-headroom, NEG_SCALE) / NEG_SCALE * BAR_ZERO
            x = BAR_ZERO - width
        else:
            width = min(headroom, POS_SCALE) / POS_SCALE * (BAR_WIDTH - BAR_ZERO)
            x = BAR_ZERO
        width = max(width, Decimal(1))
        return Rect(_px(x), "0", _px(width), _px(BAR_HEIGHT), status)

    @staticmethod
    def svg_spark(points: Sequence[Point]) -> tuple[str, list[Rect], str | None]:
        """(width, bars, y of the zero line or None): one bar per point from zero to its headroom."""
        known = [p.headroom for p in points if p.headroom is not None]
        width = _px(SPARK_BAR * len(points) + SPARK_GAP * max(len(points) - 1, 0))
        if not known:
            bars = [Rect(_px(i * (SPARK_BAR + SPARK_GAP)), _px(SPARK_HEIGHT - 2), _px(SPARK_BAR), "2", "gap")
                    for i in range(len(points))]
            return width, bars, None
        top, bottom = max(max(known), Decimal(0)), min(min(known), Decimal(0))
        span = (top - bottom) or Decimal(1)
        zero_y = SPARK_HEIGHT * top / span
        # A missing point is a thin grey mark on the zero line, not below it (where it would read as negative).
        gap_y = min(max(zero_y - 1, Decimal(0)), SPARK_HEIGHT - 2)
        bars = []
        for i, p in enumerate(points):
            x = _px(i * (SPARK_BAR + SPARK_GAP))
            if p.headroom is None:
                bars.append(Rect(x, _px(gap_y), _px(SPARK_BAR), "2", "gap"))
                continue
            height = max(abs(p.headroom) * SPARK_HEIGHT / span, Decimal(1))
            y = zero_y - height if p.headroom >= 0 else zero_y
            bars.append(Rect(x, _px(y), _px(SPARK_BAR), _px(height), p.status or "gap"))
        return width, bars, _px(zero_y) if bottom < 0 else None

    ltv_width = _px(LTV_WIDTH)
    ltv_height = _px(LTV_HEIGHT)
    ltv_full = _px(LTV_WIDTH / LTV_SCALE)  # where 100 % sits

    @staticmethod
    def number(value: Decimal) -> str:
        return format_number(value, 0)

    @staticmethod
    def ltv(value: Decimal | None) -> str:
        return "—" if value is None else f"{format_number(value * 100, 1)} %"

    @staticmethod
    def ltv_px(value: Decimal | None) -> str:
        """Width of an LTV bar (0 to 200 %, longer values capped)."""
        if value is None:
            return "0"
        return _px(max(min(value, LTV_SCALE), Decimal(0)) / LTV_SCALE * LTV_WIDTH)

    @staticmethod
    def ltv_kind(value: Decimal | None) -> str:
        """breach at or above 100 % (the sale does not cover the loan), warning from 80 %, else ok."""
        if value is None:
            return "no_data"
        return "breach" if value >= 1 else "warning" if value >= Decimal("0.8") else "ok"

    @staticmethod
    def mail_bar(headroom: Decimal | None) -> MailBar:
        if headroom is None:
            return MailBar(MAIL_NEG, 0, 0, MAIL_POS)
        if headroom < 0:
            neg = max(1, _whole(min(-headroom, NEG_SCALE) / NEG_SCALE * MAIL_NEG))
            return MailBar(MAIL_NEG - neg, neg, 0, MAIL_POS)
        pos = _whole(min(headroom, POS_SCALE) / POS_SCALE * MAIL_POS)
        return MailBar(MAIL_NEG, 0, pos, MAIL_POS - pos)


FMT = DigestFormat()
