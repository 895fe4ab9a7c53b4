"""Why each metric of a facility has its value at T: structured data for `covbot explain`.

Built from the same functions as the metrics themselves, so the explanation cannot drift from
the numbers: which periods counted and why others did not, how each GPU lot and crypto asset was
valued, where each model's rental deflation came from, and the resulting values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from bot.domain.decimals import CONTEXT
from bot.domain.liquidation import CryptoSale, ModelSale, sell, sell_crypto
from bot.domain.market import Deflation, Mark, Market
from bot.domain.metrics import (
    QUARTERS,
    BookValue,
    compute_metrics,
    counted_periods,
    crypto_shortfall,
    holdings_at,
    lots_counted,
    model_holdings,
    period_left_out,
    ttm_periods,
    value_lot,
    WINDOW,
)
from bot.domain.model import FacilityData, FinancialPeriod, Price
from bot.domain.variables import Value


@dataclass(frozen=True)
class PeriodNote:
    period: FinancialPeriod
    in_ttm: bool  # one of the 4 latest in the window
    reason: str | None  # why it is left out of the trailing figures (None when in_ttm)


@dataclass(frozen=True)
class LotNote:
    lot_id: str
    gpu_model: str
    quantity: Decimal
    acquired_on: date
    counted: bool  # False when acquired after T
    mark: Price | None  # the mark used, or
    mark_note: str | None  # why none was (too old, missing), and
    book: BookValue | None  # the book value computed instead
    multiplier: Decimal  # GPU stress shock applied to the unit value
    unit_value: Decimal | None
    value: Decimal | None


@dataclass(frozen=True)
class CryptoNote:
    asset: str
    holding_as_of: date | None
    quantity: Decimal | None
    pledged: bool
    price: Price | None  # the spot used (before the shock); None when none is fresh
    multiplier: Decimal
    value: Decimal | None
    note: str | None  # why not pledged, or why no price


@dataclass(frozen=True)
class DeflationNote:
    gpu_model: str
    quantity: Decimal  # of the lots that count at T
    deflation: Deflation


@dataclass(frozen=True)
class FacilityExplanation:
    facility_id: str
    as_of: date
    periods: tuple[PeriodNote, ...]  # latest period_end first
    lots: tuple[LotNote, ...]
    crypto: tuple[CryptoNote, ...]
    deflation: tuple[DeflationNote, ...]
    metrics: dict[str, Value]
    sales: tuple[ModelSale, ...] = ()  # per GPU model: how it would sell on its own (liquidation value)
    crypto_sales: tuple[CryptoSale, ...] = ()  # per pledged asset with a fresh price: the share realised


def _periods(data: FacilityData, as_of: date) -> tuple[PeriodNote, ...]:
    counted = counted_periods(data.financials, as_of)
    in_ttm = {p.period_end for p in ttm_periods(counted, as_of)}
    window_start = as_of - WINDOW
    notes = []
    for period in sorted(data.financials, key=lambda p: p.period_end, reverse=True):
        reason = period_left_out(period, as_of)
        if reason is None and period.period_end not in in_ttm:
            if period.period_end <= window_start:
                reason = f"outside the 12-month window (ends on or before {window_start})"
            else:
                reason = f"older than the {QUARTERS} latest periods in the window"
        notes.append(PeriodNote(period, reason is None, reason))
    return tuple(notes)


def _lots(data: FacilityData, market: Market) -> tuple[LotNote, ...]:
    notes = []
    for lot in sorted(data.gpu_lots, key=lambda lot: lot.lot_id):
        multiplier = market.gpu_multiplier(lot.gpu_model)
        if lot.acquired_on > market.as_of:  # the rule of lots_counted
            notes.append(LotNote(lot.lot_id, lot.gpu_model, lot.quantity, lot.acquired_on, False, None,
                                 f"acquired on {lot.acquired_on}, after {market.as_of}", None, multiplier, None, None))
            continue
        valued = value_lot(lot, market)
        notes.append(LotNote(
            lot.lot_id, lot.gpu_model, lot.quantity, lot.acquired_on, True,
            valued.mark.price if valued.mark else None,
            valued.no_mark.reason if valued.no_mark else None,
            valued.book, multiplier, valued.unit_value, valued.value,
        ))
    return tuple(notes)


def _crypto(data: FacilityData, market: Market) -> tuple[CryptoNote, ...]:
    latest = holdings_at(data.crypto, market.as_of)
    notes = []
    for asset in sorted({row.asset for row in data.crypto}):
        multiplier = market.shocks.crypto_multiplier(asset)
        row = latest.get(asset)
        if row is None:
            notes.append(CryptoNote(asset, None, None, False, None, multiplier, None,
                                    f"not pledged at {market.as_of}: its first holding row is later"))
            continue
        if row.quantity == 0:
            notes.append(CryptoNote(asset, row.as_of, row.quantity, False, None, multiplier, None,
                                    f"not pledged at {market.as_of}: quantity 0 since {row.as_of}"))
            continue
        spot = market.crypto_spot(asset)
        if isinstance(spot, Mark):
            notes.append(CryptoNote(asset, row.as_of, row.quantity, True, spot.price, multiplier,
                                    row.quantity * spot.value, None))
        else:
            notes.append(CryptoNote(asset, row.as_of, row.quantity, True, None, multiplier, None,
                                    crypto_shortfall(asset, spot)))
    return tuple(notes)


def _deflation(data: FacilityData, market: Market) -> tuple[DeflationNote, ...]:
    quantities: dict[str, Decimal] = {}
    for lot in lots_counted(data.gpu_lots, market.as_of):
        quantities[lot.gpu_model] = quantities.get(lot.gpu_model, Decimal(0)) + lot.quantity
    return tuple(DeflationNote(m, q, market.deflation(m)) for m, q in sorted(quantities.items()))


def _sales(data: FacilityData, market: Market) -> tuple[ModelSale, ...]:
    settings = market.valuation.liquidation
    return tuple(sell(h, settings) for h in model_holdings(data.gpu_lots, market))


def _crypto_sales(data: FacilityData, market: Market) -> tuple[CryptoSale, ...]:
    sales = []
    for asset, row in sorted(holdings_at(data.crypto, market.as_of).items()):
        spot = market.crypto_spot(asset) if row.quantity != 0 else None
        if isinstance(spot, Mark):
            sales.append(sell_crypto(asset, row.quantity, spot.value, market.valuation.liquidation))
    return tuple(sales)


def explain_facility(data: FacilityData, market: Market) -> FacilityExplanation:
    with localcontext(CONTEXT):
        return FacilityExplanation(
            facility_id=data.facility_id,
            as_of=market.as_of,
            periods=_periods(data, market.as_of),
            lots=_lots(data, market),
            crypto=_crypto(data, market),
            deflation=_deflation(data, market),
            metrics=compute_metrics(data, market),
            sales=_sales(data, market),
            crypto_sales=_crypto_sales(data, market),
        )
