"""`covbot fire-sale` rows as a sheet (``--format csv`` and ``--format xlsx``)."""

from __future__ import annotations

from typing import Iterable, Iterator

from bot.render.tabular import Column, Sheet

FIRE_SALE_COLUMNS = (
    Column("scenario", width=24),
    Column("facility_id"),
    Column("borrower", width=28),
    Column("outstanding", "money"),
    Column("collateral_value", "money"),
    Column("liquidation_value", "money"),
    Column("fire_sale_value", "money"),
    Column("recovery", "money"),
    Column("loss", "money"),
    Column("book_ltv", "percent"),
    Column("liquidation_ltv", "percent"),
    Column("reason", width=48),
)


def fire_sale_sheet(rows: Iterable, title: str = "fire-sale") -> Sheet:
    """One row per scenario × foreclosed facility, sorted by scenario then facility_id: the JSON
    fields in the JSON order, with the borrower and the book and liquidation LTVs beside them."""
    return Sheet(title, FIRE_SALE_COLUMNS, _rows(rows))


def _rows(rows: Iterable) -> Iterator[tuple]:
    for r in sorted(rows, key=lambda r: (r.scenario, r.facility_id)):
        yield (r.scenario, r.facility_id, r.borrower, r.outstanding, r.collateral_value, r.liquidation_value,
               r.fire_sale_value, r.recovery, r.loss, r.book_ltv, r.liquidation_ltv, r.reason)
