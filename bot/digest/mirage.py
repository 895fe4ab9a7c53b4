"""The digest's "Collateral mirage" section as data (DOMAIN.md "Liquidation value"). Pure.

The facilities whose liquidation LTV is worst, each with its book LTV beside it, and the book-wide
stated collateral against what a sale would realise (per currency: amounts are never added across
currencies). Only facilities with something outstanding and both values known are ranked.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Iterable

from bot.domain.decimals import CONTEXT, ZERO, divide

WORST_SHOWN = 10


@dataclass(frozen=True)
class CollateralView:
    """What the digest knows about one facility's collateral at T (None: no data)."""

    facility_id: str
    borrower: str
    currency: str
    outstanding: Decimal
    collateral_value: Decimal | None
    liquidation_value: Decimal | None

    @property
    def book_ltv(self) -> Decimal | None:
        return _ratio(self.outstanding, self.collateral_value)

    @property
    def liquidation_ltv(self) -> Decimal | None:
        return _ratio(self.outstanding, self.liquidation_value)


@dataclass(frozen=True)
class BookTotals:
    currency: str
    stated: Decimal  # Σ collateral_value
    liquidation: Decimal  # Σ liquidation_value

    @property
    def mirage(self) -> Decimal | None:
        """1 − liquidation / stated: the share of the stated collateral a sale would not realise."""
        share = _ratio(self.liquidation, self.stated)
        return None if share is None else 1 - share


@dataclass(frozen=True)
class Mirage:
    worst: tuple[CollateralView, ...]  # liquidation LTV highest first
    totals: tuple[BookTotals, ...]  # per currency, facilities with both values known
    ranked: int  # facilities ranked (outstanding > 0, both values known, liquidation value > 0)
    unvalued: tuple[str, ...]  # facilities whose collateral has no data (a pledged asset has no fresh price)


def _ratio(a: Decimal, b: Decimal | None) -> Decimal | None:
    if b is None or b == 0:
        return None
    with localcontext(CONTEXT):
        return divide(a, b)


def build_mirage(views: Iterable[CollateralView], shown: int = WORST_SHOWN) -> Mirage:
    views = list(views)
    known = [v for v in views if v.collateral_value is not None and v.liquidation_value is not None]
    ranked = [v for v in known if v.outstanding > 0 and v.liquidation_ltv is not None]
    ranked.sort(key=lambda v: (-v.liquidation_ltv, v.facility_id))  # type: ignore[operator]
    stated: dict[str, Decimal] = {}
    realised: dict[str, Decimal] = {}
    for v in known:
        stated[v.currency] = stated.get(v.currency, ZERO) + v.collateral_value  # type: ignore[operator]
        realised[v.currency] = realised.get(v.currency, ZERO) + v.liquidation_value  # type: ignore[operator]
    totals = tuple(BookTotals(c, stated[c], realised[c]) for c in sorted(stated))
    unvalued = tuple(sorted(v.facility_id for v in views if v.collateral_value is None or v.liquidation_value is None))
    return Mirage(tuple(ranked[:shown]), totals, len(ranked), unvalued)
