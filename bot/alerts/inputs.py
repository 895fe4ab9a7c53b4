"""The `explain` inputs of a facility in a few short lines, for alert messages.

Built from the same explanation as `covbot explain`, so an alert says which quarters, marks and
prices its numbers stand on.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from bot.domain.decimals import fixed
from bot.domain.explain import FacilityExplanation, explain_facility
from bot.domain.market import Market
from bot.domain.model import FacilityData

MAX_LINES = 5


def _money(value: Decimal) -> str:
    return fixed(value, 0, grouping=True)


def input_lines(ex: FacilityExplanation) -> list[str]:
    lines: list[str] = []
    tested = [n.period for n in ex.periods if n.in_test_period]
    if tested:
        ends = sorted(p.period_end for p in tested)
        reported = max(p.known_from for p in tested)
        lines.append(f"{len(ends)} of 4 quarters counted: {ends[0]} … {ends[-1]} (latest known {reported})")
    unseen = [n for n in ex.periods if n.period.known_from > ex.as_of]  # delivered after T
    if unseen:
        lines.append(f"left out: {unseen[0].period.period_end}: {unseen[0].reason}")
    by_model: dict[str, list] = {}
    for lot in ex.lots:
        if lot.counted:
            by_model.setdefault(lot.gpu_model, []).append(lot)
    for model, lots in sorted(by_model.items()):
        quantity = sum((lot.quantity for lot in lots), Decimal(0))
        mark = next((lot.mark for lot in lots if lot.mark is not None), None)
        how = (f"mark {_money(mark.price)} dated {mark.date}" if mark is not None
               else f"book value ({lots[0].mark_note or 'no fresh mark'})")
        lines.append(f"{model} ×{_money(quantity)}: {how}")
    for c in ex.crypto:
        if not c.pledged:
            continue
        lines.append(f"{c.asset} {c.quantity.normalize():f} at {_money(c.price.price)} on {c.price.date}"
                     if c.price is not None else f"{c.asset}: {c.note}")
    return lines[:MAX_LINES]


def inputs_by_facility(book: Iterable[FacilityData], market: Market) -> dict[str, list[str]]:
    """The short inputs of each facility, by id (for the alerts a message shows in full; run here or
    on a worker process of the daily job)."""
    return {data.facility_id: input_lines(explain_facility(data, market)) for data in book}
