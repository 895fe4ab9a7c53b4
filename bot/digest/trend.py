"""Trend helpers of the digest, pure: quarter ends, trend arrows, text sparklines and bars.

A trend compares headroom (higher is safer for every operator), so an LTV that falls and a DSCR
that rises both point up. A change of status outranks the headroom: ok → warning is down even when
the headroom moved by less than the steady band.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Sequence

from bot.domain.results import SEVERITY_ORDER, Status
from bot.notify.render import sparkline

UP, DOWN, FLAT, NONE = "up", "down", "flat", "none"
ARROWS = {UP: "↑", DOWN: "↓", FLAT: "→", NONE: "·"}
STEADY_BAND = Decimal("0.01")  # a headroom change under 1 percentage point is "steady"
GAP = "·"


@dataclass(frozen=True)
class Point:
    """One covenant at one facility on one date; ``status`` None: it was not evaluated then."""

    as_of: date
    status: Status | None
    headroom: Decimal | None


def previous_quarter_ends(as_of: date, count: int = 4) -> tuple[date, ...]:
    """The ``count`` latest calendar quarter ends strictly before ``as_of``, oldest first."""
    year, quarter = as_of.year, (as_of.month - 1) // 3 + 1
    out: list[date] = []
    while len(out) < count:
        month = 3 * quarter
        end = date(year, month, calendar.monthrange(year, month)[1])
        if end < as_of:
            out.append(end)
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    return tuple(reversed(out))


def direction(before: Point | None, after: Point, band: Decimal = STEADY_BAND) -> str:
    """up (safer), down (riskier), flat, or none when there is nothing to compare with."""
    if before is None or before.status is None or after.status is None:
        return NONE
    was, now = SEVERITY_ORDER[before.status], SEVERITY_ORDER[after.status]
    if was != now:
        return UP if now < was else DOWN
    if before.headroom is None or after.headroom is None:
        return FLAT
    change = after.headroom - before.headroom
    if change > band:
        return UP
    if change < -band:
        return DOWN
    return FLAT


def spark(points: Sequence[Point]) -> str:
    """Headroom as ▁▂▃▄▅▆▇█ bars, a dot where there is none (not evaluated, or no data)."""
    known = [p.headroom for p in points if p.headroom is not None]
    bars = iter(sparkline(known)) if known else iter(())
    return "".join(next(bars) if p.headroom is not None else GAP for p in points)


# A two-sided text bar: 5 cells for −50 %..0, a zero mark, 10 cells for 0..+100 % headroom.
NEG_CELLS, POS_CELLS = 5, 10
NEG_SCALE, POS_SCALE = Decimal("0.5"), Decimal("1")


def cells(headroom: Decimal | None) -> tuple[int, int]:
    """How many negative and positive cells a headroom fills (clamped to the scale)."""
    if headroom is None:
        return 0, 0
    if headroom < 0:
        share = min(-headroom, NEG_SCALE) / NEG_SCALE
        return max(1, int((share * NEG_CELLS).to_integral_value(rounding=ROUND_FLOOR))), 0
    share = min(headroom, POS_SCALE) / POS_SCALE
    return 0, int((share * POS_CELLS).to_integral_value(rounding=ROUND_FLOOR))


def text_bar(headroom: Decimal | None) -> str:
    """``··███|········`` for −30 %, ``·····|██████····`` for +60 %; blank scale when unknown."""
    neg, pos = cells(headroom)
    return GAP * (NEG_CELLS - neg) + "█" * neg + "|" + "█" * pos + GAP * (POS_CELLS - pos)
