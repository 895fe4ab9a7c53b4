"""Prices and valuations at one test date, looked up once and shared by every facility.

A ``Market`` is built per (price book, valuation settings, forecast settings, T, shocks). It answers,
with caching: the GPU unit mark of a model, the crypto spot of a symbol, the rental deflation of a
model, and the 61 growth factors (1 + r)^(m/12), m = 0..60, of a deflation rate. Shocks are applied
here, so every caller sees stressed prices without knowing about stress.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import overload

from bot.domain.decimals import CONTEXT, ONE, divide
from bot.domain.model import Price, PriceBook
from bot.domain.rulebook import ForecastSettings, ModelLife, Valuation
from bot.domain.shocks import NO_SHOCKS, Shocks

HORIZON_MONTHS = 60
YEAR_AGO = timedelta(days=365)


@dataclass(frozen=True)
class Mark:
    """A fresh price that is used: the row, the stress multiplier and the resulting value."""

    price: Price
    multiplier: Decimal
    value: Decimal


@dataclass(frozen=True)
class NoFreshPrice:
    """Why no price is used for a symbol at T: none at all, or the latest is too old."""

    symbol: str
    latest: Price | None
    age_days: int | None
    max_age_days: int
    reason: str


@dataclass(frozen=True)
class Deflation:
    """The yearly rental price change of one GPU model at T, and where it comes from."""

    gpu_model: str
    rate: Decimal
    source: str  # "observed" | "assumed"
    current: Price | None  # P(T), when found
    previous: Price | None  # P(T − 365 days), when found
    note: str


def add_months(start: date, months: int) -> date:
    """The date ``months`` calendar months after ``start``, the day clamped to the month's end."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


class Market:
    def __init__(
        self,
        prices: PriceBook,
        valuation: Valuation,
        forecast: ForecastSettings,
        as_of: date,
        shocks: Shocks = NO_SHOCKS,
    ):
        self.prices = prices
        self.valuation = valuation
        self.forecast = forecast
        self.as_of = as_of
        self.shocks = shocks
        self.dates_ahead: tuple[date, ...] = tuple(add_months(as_of, m) for m in range(HORIZON_MONTHS + 1))
        self._gpu_marks: dict[str, Mark | NoFreshPrice] = {}
        self._spots: dict[str, Mark | NoFreshPrice] = {}
        self._deflations: dict[str, Deflation] = {}
        self._growth: dict[Decimal, GrowthFactors] = {}

    # -- GPUs ---------------------------------------------------------------------------------
    def life(self, gpu_model: str) -> ModelLife:
        return self.valuation.life(gpu_model)

    def gpu_multiplier(self, gpu_model: str) -> Decimal:
        return self.shocks.gpu_multiplier(gpu_model)

    def gpu_mark(self, gpu_model: str) -> Mark | NoFreshPrice:
        """The latest ``GPU:<model>`` price at most mark_max_age_days old, × the GPU shocks."""
        found = self._gpu_marks.get(gpu_model)
        if found is None:
            found = self._fresh(
                f"GPU:{gpu_model}", self.valuation.mark_max_age_days, self.gpu_multiplier(gpu_model), "mark"
            )
            self._gpu_marks[gpu_model] = found
        return found

    # -- crypto -------------------------------------------------------------------------------
    def crypto_spot(self, symbol: str) -> Mark | NoFreshPrice:
        """The latest spot at most crypto_max_age_days old, × the symbol's shock."""
        found = self._spots.get(symbol)
        if found is None:
            found = self._fresh(
                symbol, self.valuation.crypto_max_age_days, self.shocks.crypto_multiplier(symbol), "price"
            )
            self._spots[symbol] = found
        return found

    def _fresh(self, symbol: str, max_age_days: int, multiplier: Decimal, noun: str) -> Mark | NoFreshPrice:
        latest = self.prices.latest_any_age(symbol, self.as_of)
        if latest is None:
            return NoFreshPrice(symbol, None, None, max_age_days, f"no {symbol} {noun} on or before {self.as_of}")
        age = (self.as_of - latest.date).days
        if age > max_age_days:
            return NoFreshPrice(
                symbol,
                latest,
                age,
                max_age_days,
                f"the latest {symbol} {noun} is from {latest.date}, {_days(age)} before {self.as_of} "
                f"(at most {_days(max_age_days)} allowed)",
            )
        with localcontext(CONTEXT):
            return Mark(latest, multiplier, latest.price * multiplier)

    # -- rental deflation ---------------------------------------------------------------------
    def deflation(self, gpu_model: str) -> Deflation:
        found = self._deflations.get(gpu_model)
        if found is None:
            found = self._deflation(gpu_model)
            self._deflations[gpu_model] = found
        return found

    def _deflation(self, gpu_model: str) -> Deflation:
        symbol = f"RENT:{gpu_model}"
        max_age = self.forecast.price_max_age_days
        year_ago = self.as_of - YEAR_AGO
        current = self.prices.latest(symbol, self.as_of, max_age)
        previous = self.prices.latest(symbol, year_ago, max_age)
        if current is not None and previous is not None and previous.price != 0:
            with localcontext(CONTEXT):
                rate = divide(current.price, previous.price) - ONE
            note = (
                f"observed: {symbol} {current.price} on {current.date} against "
                f"{previous.price} on {previous.date}"
            )
            return Deflation(gpu_model, rate, "observed", current, previous, note)
        if current is None:
            why = f"no {symbol} price within {_days(max_age)} before {self.as_of}"
        elif previous is None:
            why = f"no {symbol} price within {_days(max_age)} before {year_ago} (a year earlier)"
        else:
            why = f"the {symbol} price a year earlier ({previous.date}) is 0"
        if gpu_model in self.forecast.rates:
            rate, whose = self.forecast.rates[gpu_model], f"the assumed rate for {gpu_model}"
        else:
            rate, whose = self.forecast.default_rate, "the default assumed rate"
        return Deflation(gpu_model, rate, "assumed", current, previous, f"assumed: {why}, so {whose} is used")

    # -- forward growth -----------------------------------------------------------------------
    def growth_factors(self, rate: Decimal) -> "GrowthFactors":
        """(1 + rate)^(m/12) for m = 0..60, one sequence per distinct rate (each factor computed once)."""
        found = self._growth.get(rate)
        if found is None:
            found = self._growth[rate] = GrowthFactors(rate)
        return found


class GrowthFactors(Sequence[Decimal]):
    """(1 + rate)^(m/12), m = 0..60, each computed on first use.

    A fractional power costs ~40 µs and nearly every facility has its own weighted rate, while a
    search for the month of breach needs only a few of the 61 factors: computing them lazily
    keeps `check` fast at 100,000 facilities. Values are exactly those of the eager computation.
    """

    __slots__ = ("rate", "_base", "_factors")

    def __init__(self, rate: Decimal):
        self.rate = rate
        self._base = ONE + rate
        self._factors: list[Decimal | None] = [ONE] + [None] * HORIZON_MONTHS

    def __len__(self) -> int:
        return HORIZON_MONTHS + 1

    @overload
    def __getitem__(self, m: int) -> Decimal: ...

    @overload
    def __getitem__(self, m: slice) -> list[Decimal]: ...

    def __getitem__(self, m: int | slice) -> Decimal | list[Decimal]:
        if isinstance(m, slice):
            return [self[i] for i in range(*m.indices(len(self)))]
        found = self._factors[m]
        if found is None:
            m = range(len(self))[m]  # negative indices, IndexError
            if m % 12 == 0:
                found = CONTEXT.power(self._base, m // 12)
            else:
                found = CONTEXT.power(self._base, divide(Decimal(m), Decimal(12)))
            self._factors[m] = found
        return found


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"
