"""The variables of one facility at a test date T (DOMAIN.md "Metrics at a test date T").

Point in time: only what a lender knew at T counts. Every variable is a Decimal or
``NoData(reason)``; nothing here reads a clock or a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any, Callable, Collection, Generic, TypeVar, overload

from bot.domain.decimals import CONTEXT, ONE, ZERO, divide
from bot.domain.forecast import FORWARD_VARIABLES, ForwardInputs, forward_dscr_at, forward_inputs, rental_deflation
from bot.domain.liquidation import ModelHolding, gpu_liquidation_value, holdings_by_model
from bot.domain.market import Mark, Market, NoFreshPrice
from bot.domain.model import CryptoHolding, FacilityData, FinancialPeriod, GpuLot
from bot.domain.variables import VARIABLES, NoData, Value

T = TypeVar("T")

QUARTERS = 4
YEAR = timedelta(days=366)  # the test period's 12 months, and how long it stands without a new report
DAYS_PER_YEAR = Decimal("365.25")
NO_FINANCIALS = NoData("no financials reported")


# -- financial periods and the test period ----------------------------------------------------------
def period_left_out(period: FinancialPeriod, as_of: date) -> str | None:
    """Why a period is not counted at T at all (None when it is known at T)."""
    if period.known_from > as_of:
        return f"reported on {period.known_from}, after {as_of}: not known yet"
    if period.period_end > as_of:
        return f"the period ends on {period.period_end}, after {as_of}: a budget, not an actual"
    return None


def counted_periods(financials: Collection[FinancialPeriod], as_of: date) -> list[FinancialPeriod]:
    """The periods known at T and ended on or before T, latest period_end first."""
    known = [p for p in financials if period_left_out(p, as_of) is None]
    known.sort(key=lambda p: p.period_end, reverse=True)
    return known


@dataclass(frozen=True)
class TestPeriod:
    """The quarters a covenant is tested on at T, as credit agreements define it: the (up to) 4
    latest counted periods with period_end in (L − 366 days, L], L the latest counted period_end.

    ``missing`` is None when the test period is complete (4 periods, L after T − 366 days)."""

    as_of: date
    latest: date | None  # L (None: nothing counted at T)
    periods: tuple[FinancialPeriod, ...]  # latest first; those in (start, latest], at most 4
    missing: NoData | None

    __test__ = False  # not a pytest test class, despite the name

    @property
    def start(self) -> date | None:
        """Periods must end after this day (L − 366 days)."""
        return None if self.latest is None else self.latest - YEAR

    @property
    def complete(self) -> bool:
        return self.missing is None

    @property
    def stale(self) -> bool:
        """Nothing reported in the 12 months to T: no test period at all."""
        return self.latest is None or self.latest <= self.as_of - YEAR


def find_test_period(financials: Collection[FinancialPeriod], as_of: date,
                     counted: list[FinancialPeriod] | None = None) -> TestPeriod:
    """The test period at T (DOMAIN.md "Metrics at a test date T"); ``counted``: counted_periods,
    when the caller has them already."""
    if counted is None:
        counted = counted_periods(financials, as_of)
    if not counted:
        return TestPeriod(as_of, None, (), NoData(f"no quarter reported in the 12 months to {as_of}"))
    latest = counted[0].period_end
    start = latest - YEAR
    periods = tuple(p for p in counted if p.period_end > start)[:QUARTERS]
    if latest <= as_of - YEAR:
        return TestPeriod(as_of, latest, periods, NoData(
            f"no quarter reported in the 12 months to {as_of} (the latest reported quarter ended on {latest})"))
    if len(periods) < QUARTERS:
        return TestPeriod(as_of, latest, periods, NoData(
            f"only {len(periods)} of {QUARTERS} quarters reported in the 12 months to {latest}"
            " (the latest reported quarter)"))
    return TestPeriod(as_of, latest, periods, None)


@dataclass(frozen=True)
class Trailing:
    revenue: Decimal
    cfads: Decimal
    ebitda: Decimal
    debt_service: Decimal


# -- collateral -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BookValue:
    age_days: int
    age_years: Decimal
    useful_life_years: Decimal
    residual: Decimal
    factor: Decimal  # max(residual, 1 − age_years / useful_life_years)


@dataclass(frozen=True)
class LotValue:
    lot: GpuLot
    unit_value: Decimal  # shocked
    value: Decimal  # quantity × unit_value
    mark: Mark | None  # the mark used, or
    no_mark: NoFreshPrice | None  # why none was, and
    book: BookValue | None  # the book value used instead


def value_lot(lot: GpuLot, market: Market) -> LotValue:
    """Unit value = fresh mark, else straight-line book value; × the GPU shocks either way."""
    found = market.gpu_mark(lot.gpu_model)
    if isinstance(found, Mark):
        return LotValue(lot, found.value, lot.quantity * found.value, found, None, None)
    life = market.life(lot.gpu_model)
    age_days = (market.as_of - lot.acquired_on).days
    if life.useful_life_years > 0:
        # 1 − (days / 365.25) / life in one division, so no intermediate rounding
        straight = ONE - divide(Decimal(age_days), DAYS_PER_YEAR * life.useful_life_years)
    else:
        straight = ZERO
    factor = max(life.residual, straight)
    book = BookValue(age_days, divide(Decimal(age_days), DAYS_PER_YEAR), life.useful_life_years, life.residual, factor)
    unit = lot.unit_cost * factor * market.gpu_multiplier(lot.gpu_model)
    return LotValue(lot, unit, lot.quantity * unit, None, found, book)


def lots_counted(lots: Collection[GpuLot], as_of: date) -> list[GpuLot]:
    return [lot for lot in lots if lot.acquired_on <= as_of]


def model_holdings(lots: Collection[GpuLot], market: Market) -> tuple[ModelHolding, ...]:
    """Q and V per GPU model of the lots that count at T (values as ``gpu_value`` takes them)."""
    return holdings_by_model(
        (lot.gpu_model, lot.quantity, value_lot(lot, market).value) for lot in lots_counted(lots, market.as_of)
    )


def holdings_at(crypto: Collection[CryptoHolding], as_of: date) -> dict[str, CryptoHolding]:
    """Per asset, the latest row on or before T (assets whose first row is after T are absent)."""
    latest: dict[str, CryptoHolding] = {}
    for row in crypto:
        if row.as_of <= as_of:
            seen = latest.get(row.asset)
            if seen is None or row.as_of > seen.as_of:
                latest[row.asset] = row
    return latest


def _ratio(numerator: Value, denominator: Value, when_zero: str) -> Value:
    """numerator / denominator; a part without data passes its reason on (numerator first; the
    only part that can lack data in practice is the collateral or crypto side), 0 → ``when_zero``."""
    if isinstance(numerator, NoData):
        return numerator
    if isinstance(denominator, NoData):
        return denominator
    if denominator == 0:
        return NoData(when_zero)
    return divide(numerator, denominator)


def crypto_shortfall(asset: str, missing: NoFreshPrice) -> str:
    return f"{asset} is pledged but has no fresh price: {missing.reason}"


# -- the variables --------------------------------------------------------------------------------
class _once(Generic[T]):
    """Like functools.cached_property, without its lock (3.11): computed once per facility."""

    def __init__(self, compute: Callable[[Any], T]):
        self.compute = compute
        self.name = compute.__name__

    @overload
    def __get__(self, facility: None, owner: type | None = None) -> _once[T]: ...

    @overload
    def __get__(self, facility: object, owner: type | None = None) -> T: ...

    def __get__(self, facility: object | None, owner: type | None = None) -> T | _once[T]:
        if facility is None:
            return self
        value: T = self.compute(facility)
        facility.__dict__[self.name] = value
        return value


class _Facility:
    """Each variable is a cached property named as the variable; dependencies resolve lazily."""

    def __init__(self, data: FacilityData, market: Market):
        self.data = data
        self.market = market
        self.as_of = market.as_of

    # financials
    @_once
    def _counted(self) -> list[FinancialPeriod]:
        return counted_periods(self.data.financials, self.as_of)

    @_once
    def _trailing(self) -> Trailing | NoData:
        found = find_test_period(self.data.financials, self.as_of, self._counted)
        if found.missing is not None:
            return found.missing
        rent = self.market.shocks.rent  # the rent shock multiplies the revenue of every counted period
        revenue = opex = other_costs = debt_service = ZERO
        for p in found.periods:
            revenue += p.revenue * rent
            opex += p.opex
            other_costs += p.capex + p.taxes
            debt_service += p.interest + p.principal
        return Trailing(revenue, revenue - opex - other_costs, revenue - opex, debt_service)

    def _ttm(self, field: str) -> Value:
        trailing = self._trailing
        return trailing if isinstance(trailing, NoData) else getattr(trailing, field)

    @_once
    def revenue_ttm(self) -> Value:
        return self._ttm("revenue")

    @_once
    def cfads_ttm(self) -> Value:
        return self._ttm("cfads")

    @_once
    def ebitda_ttm(self) -> Value:
        return self._ttm("ebitda")

    @_once
    def debt_service_ttm(self) -> Value:
        return self._ttm("debt_service")

    @_once
    def dscr_ttm(self) -> Value:
        trailing = self._trailing
        if isinstance(trailing, NoData):
            return trailing
        if trailing.debt_service == 0:
            return NoData("no debt service in the last 4 quarters")
        return divide(trailing.cfads, trailing.debt_service)

    @_once
    def cash(self) -> Value:
        return self._counted[0].cash if self._counted else NO_FINANCIALS

    @_once
    def days_since_period_end(self) -> Value:
        return Decimal((self.as_of - self._counted[0].period_end).days) if self._counted else NO_FINANCIALS

    # loan
    @_once
    def outstanding(self) -> Value:
        latest = None
        for row in self.data.balances:
            if row.as_of <= self.as_of and (latest is None or row.as_of > latest.as_of):
                latest = row
        return latest.outstanding if latest is not None else self.data.facility.outstanding

    @_once
    def commitment(self) -> Value:
        return self.data.facility.commitment

    # collateral
    @_once
    def _lots(self) -> list[GpuLot]:
        return lots_counted(self.data.gpu_lots, self.as_of)

    @_once
    def gpu_count(self) -> Value:
        return sum((lot.quantity for lot in self._lots), ZERO)

    @_once
    def _lot_values(self) -> list[LotValue]:
        return [value_lot(lot, self.market) for lot in self._lots]

    @_once
    def gpu_value(self) -> Value:
        return sum((lv.value for lv in self._lot_values), ZERO)

    @_once
    def _pledged(self) -> list[tuple[str, Decimal, Decimal]] | NoData:
        """(asset, quantity, fresh spot) of every asset pledged at T, or why one has no fresh price."""
        pledged = []
        shortfalls = []
        for asset, row in sorted(holdings_at(self.data.crypto, self.as_of).items()):
            if row.quantity == 0:
                continue
            spot = self.market.crypto_spot(asset)
            if isinstance(spot, NoFreshPrice):
                shortfalls.append(crypto_shortfall(asset, spot))
            else:
                pledged.append((asset, row.quantity, spot.value))
        return NoData("; ".join(shortfalls)) if shortfalls else pledged

    @_once
    def crypto_value(self) -> Value:
        pledged = self._pledged
        if isinstance(pledged, NoData):
            return pledged
        return sum((quantity * spot for _, quantity, spot in pledged), ZERO)

    @_once
    def collateral_value(self) -> Value:
        gpu, crypto = self.gpu_value, self.crypto_value
        if isinstance(gpu, NoData):
            return gpu
        if isinstance(crypto, NoData):
            return crypto
        return gpu + crypto

    @_once
    def ltv(self) -> Value:
        return _ratio(self.outstanding, self.collateral_value, "no collateral")

    @_once
    def crypto_coverage(self) -> Value:
        return _ratio(self.crypto_value, self.outstanding, "nothing outstanding")

    # liquidation value: the collateral mirage
    @_once
    def gpu_liquidation_value(self) -> Value:
        holdings = holdings_by_model((lv.lot.gpu_model, lv.lot.quantity, lv.value) for lv in self._lot_values)
        return gpu_liquidation_value(holdings, self.market.valuation.liquidation)

    @_once
    def crypto_liquidation_value(self) -> Value:
        pledged = self._pledged
        if isinstance(pledged, NoData):
            return pledged
        sale = self.market.valuation.liquidation
        return sum((quantity * spot * sale.crypto_share(asset) for asset, quantity, spot in pledged), ZERO)

    @_once
    def liquidation_value(self) -> Value:
        gpu, crypto = self.gpu_liquidation_value, self.crypto_liquidation_value
        if isinstance(crypto, NoData):
            return crypto
        if isinstance(gpu, NoData):
            return gpu
        return gpu + crypto

    @_once
    def liquidation_ltv(self) -> Value:
        return _ratio(self.outstanding, self.liquidation_value, "no collateral")

    @_once
    def collateral_mirage(self) -> Value:
        """1 − liquidation_value / collateral_value: the share of stated collateral a sale would not realise."""
        share = _ratio(self.liquidation_value, self.collateral_value, "no collateral")
        return share if isinstance(share, NoData) else ONE - share

    # forward-looking
    @_once
    def rental_deflation(self) -> Value:
        return rental_deflation(self._lots, self.market)

    @_once
    def forward_inputs(self) -> ForwardInputs | NoData:
        return forward_inputs({name: getattr(self, name) for name in sorted(FORWARD_VARIABLES)})

    def _forward(self, months: int) -> Value:
        inputs = self.forward_inputs
        return inputs if isinstance(inputs, NoData) else forward_dscr_at(inputs, months, self.market)

    @_once
    def dscr_fwd_6m(self) -> Value:
        return self._forward(6)

    @_once
    def dscr_fwd_12m(self) -> Value:
        return self._forward(12)


def _check_names(names: Collection[str]) -> None:
    unknown = sorted(set(names) - VARIABLES.keys())
    if unknown:
        raise ValueError(f"unknown variable(s) {', '.join(unknown)}; known: {', '.join(VARIABLES)}")


def compute_metrics(
    data: FacilityData, market: Market, needed: Collection[str] | None = None
) -> dict[str, Value]:
    """Every variable of VARIABLES at market.as_of, or only the ``needed`` ones (computed lazily)."""
    names = VARIABLES.keys() if needed is None else needed
    _check_names(names)
    with localcontext(CONTEXT):
        facility = _Facility(data, market)
        return {name: getattr(facility, name) for name in names}

