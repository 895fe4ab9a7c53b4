"""The loan data as the domain sees it: plain frozen records, Decimal money, dates.

These mirror the CSV interchange contract (DOMAIN.md). The store and the importer
convert to and from them; metrics read only these.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Facility:
    facility_id: str
    borrower: str
    facility_type: str
    currency: str
    commitment: Decimal
    outstanding: Decimal
    origination_date: date
    maturity_date: date
    owner_email: str | None = None
    slack_channel: str | None = None


@dataclass(frozen=True)
class Balance:
    facility_id: str
    as_of: date
    outstanding: Decimal


@dataclass(frozen=True)
class FinancialPeriod:
    facility_id: str
    period_end: date
    revenue: Decimal
    opex: Decimal
    capex: Decimal
    taxes: Decimal
    interest: Decimal
    principal: Decimal
    cash: Decimal
    reported_on: date | None = None

    @property
    def known_from(self) -> date:
        """The first date on which a lender knew this period's numbers."""
        return self.reported_on or self.period_end

    @property
    def cfads(self) -> Decimal:
        return self.revenue - self.opex - self.capex - self.taxes

    @property
    def debt_service(self) -> Decimal:
        return self.interest + self.principal


@dataclass(frozen=True)
class GpuLot:
    facility_id: str
    lot_id: str
    gpu_model: str
    quantity: Decimal
    acquired_on: date
    unit_cost: Decimal


@dataclass(frozen=True)
class CryptoHolding:
    facility_id: str
    asset: str
    as_of: date
    quantity: Decimal


@dataclass(frozen=True)
class Price:
    symbol: str
    date: date
    price: Decimal


@dataclass(frozen=True)
class FacilityData:
    """Everything stored about one facility (all dates; metrics pick what was known at T)."""

    facility: Facility
    balances: tuple[Balance, ...] = ()
    financials: tuple[FinancialPeriod, ...] = ()
    gpu_lots: tuple[GpuLot, ...] = ()
    crypto: tuple[CryptoHolding, ...] = ()

    @property
    def facility_id(self) -> str:
        return self.facility.facility_id


@dataclass
class PriceBook:
    """Price history per symbol, sorted by date, with point-in-time lookup.

    ``latest(symbol, on_or_before, max_age_days)`` is the latest price dated on or before the
    date and at most ``max_age_days`` older than it, or None.
    """

    series: dict[str, list[Price]] = field(default_factory=dict)

    @classmethod
    def from_prices(cls, prices: "list[Price] | tuple[Price, ...]") -> "PriceBook":
        book: dict[str, list[Price]] = {}
        for p in prices:
            book.setdefault(p.symbol, []).append(p)
        for rows in book.values():
            rows.sort(key=lambda p: p.date)
        return cls(book)

    def latest(self, symbol: str, on_or_before: date, max_age_days: int | None = None) -> Price | None:
        rows = self.series.get(symbol)
        if not rows:
            return None
        i = bisect_right(rows, on_or_before, key=lambda p: p.date)
        if i == 0:
            return None
        p = rows[i - 1]
        if max_age_days is not None and (on_or_before - p.date).days > max_age_days:
            return None
        return p

    def latest_any_age(self, symbol: str, on_or_before: date) -> Price | None:
        return self.latest(symbol, on_or_before, None)
