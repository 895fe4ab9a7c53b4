"""Why each metric of a facility has its value at T: structured data for `covbot explain`.

Built from the same functions as the metrics themselves, so the explanation cannot drift from
the numbers: which periods counted and why others did not, how each GPU lot and crypto asset was
valued, where each model's rental deflation came from, and the resulting values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Sequence

from bot.domain.decimals import CONTEXT
from bot.domain.liquidation import CryptoSale, ModelSale, sell, sell_crypto
from bot.domain.market import Deflation, Mark, Market
from bot.domain.metrics import (
    QUARTERS,
    BookValue,
    TestPeriod,
    compute_metrics,
    crypto_shortfall,
    find_test_period,
    holdings_at,
    lots_counted,
    model_holdings,
    period_left_out,
    value_lot,
)
from bot.domain.model import FacilityData, FinancialPeriod, Price
from bot.domain.rulebook import Covenant
from bot.domain.thresholds import last_compliant_day
from bot.domain.variables import NoData, Value

REPORTING_METRIC = "days_since_period_end"


@dataclass(frozen=True)
class PeriodNote:
    period: FinancialPeriod
    in_test_period: bool  # one of the 4 quarters of a complete test period
    reason: str | None  # why it is left out of the trailing figures (None when in_test_period)


@dataclass(frozen=True)
class TestPeriodNote:
    """Which quarters the `*_ttm` variables stand on at T, and when the next report is due."""

    as_of: date
    latest: date | None  # L: the latest counted period_end
    start: date | None  # the periods end after this day (L − 366 days)
    period_ends: tuple[date, ...]  # latest first (fewer than 4 when incomplete)
    missing: NoData | None  # why there is no test period (None when complete)
    next_report_due: date | None  # L + the reporting covenant's limit (None without one)
    reporting_covenant: str | None  # the covenant on days_since_period_end that sets it
    reporting_limit_days: int | None  # its limit: the most days since period end it allows at T

    __test__ = False  # not a pytest test class, despite the name

    @property
    def complete(self) -> bool:
        return self.missing is None


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
    test_period: TestPeriodNote
    periods: tuple[PeriodNote, ...]  # latest period_end first
    lots: tuple[LotNote, ...]
    crypto: tuple[CryptoNote, ...]
    deflation: tuple[DeflationNote, ...]
    metrics: dict[str, Value]
    sales: tuple[ModelSale, ...] = ()  # per GPU model: how it would sell on its own (liquidation value)
    crypto_sales: tuple[CryptoSale, ...] = ()  # per pledged asset with a fresh price: the share realised


def _left_out(period: FinancialPeriod, found: TestPeriod, chosen: set[date]) -> str | None:
    """Why a period is not one of the test period's quarters (None when it is)."""
    reason = period_left_out(period, found.as_of)
    if reason is not None:
        return reason
    if found.stale:
        return f"no test period: nothing reported in the 12 months to {found.as_of}"
    if found.start is not None and period.period_end <= found.start:
        return (f"ends on or before {found.start}, more than 12 months before the latest reported "
                f"quarter ({found.latest})")
    if period.period_end not in chosen:
        return f"a 5th period in the 12 months to {found.latest}: only the {QUARTERS} latest count"
    if found.missing is not None:
        return found.missing.reason
    return None


def _periods(data: FacilityData, found: TestPeriod) -> tuple[PeriodNote, ...]:
    chosen = {p.period_end for p in found.periods}
    notes = []
    for period in sorted(data.financials, key=lambda p: p.period_end, reverse=True):
        reason = _left_out(period, found, chosen)
        notes.append(PeriodNote(period, reason is None, reason))
    return tuple(notes)


def reporting_limit_days(covenant: Covenant, facility_id: str, as_of: date) -> int | None:
    """The most days since period end the covenant allows at T, for a covenant whose metric is
    days_since_period_end with an upper bound (``<= 135`` → 135, ``< 135`` → 134); else None."""
    if covenant.metric != REPORTING_METRIC:
        return None
    threshold = covenant.threshold_at(facility_id, as_of)
    return last_compliant_day(threshold.op, threshold.value)


def _test_period_note(data: FacilityData, found: TestPeriod, covenants: Sequence[Covenant]) -> TestPeriodNote:
    due: tuple[date, str, int] | None = None
    f = data.facility
    if found.latest is not None:
        for covenant in sorted(covenants, key=lambda c: c.id):
            if not covenant.applies_to(f.facility_id, f.facility_type):
                continue
            limit = reporting_limit_days(covenant, f.facility_id, found.as_of)
            if limit is not None and (due is None or found.latest + timedelta(days=limit) < due[0]):
                due = (found.latest + timedelta(days=limit), covenant.id, limit)
    return TestPeriodNote(
        as_of=found.as_of,
        latest=found.latest,
        start=found.start,
        period_ends=tuple(p.period_end for p in found.periods) if not found.stale else (),
        missing=found.missing,
        next_report_due=due[0] if due else None,
        reporting_covenant=due[1] if due else None,
        reporting_limit_days=due[2] if due else None,
    )


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


def explain_facility(data: FacilityData, market: Market, covenants: Sequence[Covenant] = ()) -> FacilityExplanation:
    """Everything behind the facility's metrics at T; ``covenants`` (the rule set's) tell when the
    next report is due (a covenant on days_since_period_end that applies to the facility)."""
    found = find_test_period(data.financials, market.as_of)
    with localcontext(CONTEXT):
        return FacilityExplanation(
            facility_id=data.facility_id,
            as_of=market.as_of,
            test_period=_test_period_note(data, found, covenants),
            periods=_periods(data, found),
            lots=_lots(data, market),
            crypto=_crypto(data, market),
            deflation=_deflation(data, market),
            metrics=compute_metrics(data, market),
            sales=_sales(data, market),
            crypto_sales=_crypto_sales(data, market),
        )
