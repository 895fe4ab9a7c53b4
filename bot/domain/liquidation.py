"""Liquidation value: what a sale of the collateral would realise (DOMAIN.md "the collateral mirage").

A GPU's mark or book value is what one unit fetches; a lender selling Q units of a model into a
secondary market that absorbs ``monthly_depth`` units a month sells, over ``horizon_days``, at most
C = monthly_depth × horizon_days / 30 units at the orderly price and the rest at the forced price:

    orderly share f = 1 when Q ≤ C, else C / Q
    value of model M = V × (orderly × f + forced × (1 − f))          V = Σ lot value of M

A fire sale (``fire_sale_value``) is the same sum with Q replaced by the units every foreclosed
facility sells into the one market. Crypto realises a share of spot. Pure; Decimal only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping

from bot.domain.decimals import ONE, ZERO, divide
from bot.domain.rulebook import LiquidationSettings, SaleTerms

DAYS_PER_MONTH = Decimal(30)


@dataclass(frozen=True)
class ModelHolding:
    """The lots of one GPU model that count at T: units and value (mark or book, shocked)."""

    gpu_model: str
    units: Decimal  # Q
    value: Decimal  # V


@dataclass(frozen=True)
class ModelSale:
    """How the units of one model sell: capacity over the horizon, orderly share, the two values."""

    gpu_model: str
    units: Decimal  # Q sold (one facility's, or every foreclosed facility's in a fire sale)
    value: Decimal  # V of the units whose realised value this is
    terms: SaleTerms
    capacity: Decimal  # C
    orderly_share: Decimal  # f
    orderly_value: Decimal  # V × orderly × f
    forced_value: Decimal  # V × forced × (1 − f)
    realised: Decimal  # V × (orderly × f + forced × (1 − f))

    @property
    def months_to_absorb(self) -> Decimal:
        """How many months the market needs to take every unit at the orderly pace: Q / monthly_depth."""
        return divide(self.units, self.terms.monthly_depth)


def capacity(terms: SaleTerms, horizon_days: int) -> Decimal:
    """C = monthly_depth × horizon_days / 30: the units sold at the orderly price within the horizon."""
    return divide(terms.monthly_depth * horizon_days, DAYS_PER_MONTH)


def orderly_share(units: Decimal, cap: Decimal) -> Decimal:
    """f = 1 when Q ≤ C, else C / Q."""
    return ONE if units <= cap else divide(cap, units)


def realised(value: Decimal, terms: SaleTerms, share: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(orderly part, forced part, V × (orderly × f + forced × (1 − f))) of value V at orderly share f."""
    total = value * (terms.orderly * share + terms.forced * (ONE - share))
    return value * terms.orderly * share, value * terms.forced * (ONE - share), total


def holdings_by_model(lot_values: Iterable[tuple[str, Decimal, Decimal]]) -> tuple[ModelHolding, ...]:
    """(model, quantity, value) per lot → Q and V per model, sorted by model."""
    units: dict[str, Decimal] = {}
    values: dict[str, Decimal] = {}
    for model, quantity, value in lot_values:
        units[model] = units.get(model, ZERO) + quantity
        values[model] = values.get(model, ZERO) + value
    return tuple(ModelHolding(m, units[m], values[m]) for m in sorted(units))


def sell(holding: ModelHolding, settings: LiquidationSettings, share: Decimal | None = None,
         units_sold: Decimal | None = None) -> ModelSale:
    """The sale of one facility's holding of a model. Standalone: f from its own Q. In a fire sale,
    ``units_sold`` is every seller's Q and ``share`` the shared f it gives."""
    terms = settings.terms(holding.gpu_model)
    cap = capacity(terms, settings.horizon_days)
    units = holding.units if units_sold is None else units_sold
    f = orderly_share(units, cap) if share is None else share
    orderly, forced, total = realised(holding.value, terms, f)
    return ModelSale(holding.gpu_model, units, holding.value, terms, cap, f, orderly, forced, total)


def gpu_liquidation_value(holdings: Iterable[ModelHolding], settings: LiquidationSettings) -> Decimal:
    return sum((sell(h, settings).realised for h in holdings), ZERO)


@dataclass(frozen=True)
class CryptoSale:
    asset: str
    quantity: Decimal
    spot: Decimal  # the fresh spot used (shocked)
    share: Decimal  # of spot a sale realises
    value: Decimal  # quantity × spot
    realised: Decimal  # quantity × spot × share


def sell_crypto(asset: str, quantity: Decimal, spot: Decimal, settings: LiquidationSettings) -> CryptoSale:
    share = settings.crypto_share(asset)
    value = quantity * spot
    return CryptoSale(asset, quantity, spot, share, value, value * share)


# -- a fire sale: foreclosed facilities selling into one market ------------------------------------
@dataclass(frozen=True)
class MarketSale:
    """One model in a fire sale: every foreclosed facility's units together against the capacity."""

    gpu_model: str
    units: Decimal  # Q_total
    value: Decimal  # Σ V of the sellers
    terms: SaleTerms
    capacity: Decimal
    orderly_share: Decimal  # shared f
    realised: Decimal  # Σ V × (orderly × f + forced × (1 − f))

    @property
    def months_to_absorb(self) -> Decimal:
        return divide(self.units, self.terms.monthly_depth)


def shared_market(sellers: Iterable[Iterable[ModelHolding]], settings: LiquidationSettings) -> dict[str, MarketSale]:
    """Per model, Q_total and V_total over every seller, and the shared orderly share."""
    units: dict[str, Decimal] = {}
    values: dict[str, Decimal] = {}
    for holdings in sellers:
        for h in holdings:
            units[h.gpu_model] = units.get(h.gpu_model, ZERO) + h.units
            values[h.gpu_model] = values.get(h.gpu_model, ZERO) + h.value
    market: dict[str, MarketSale] = {}
    for model in sorted(units):
        terms = settings.terms(model)
        cap = capacity(terms, settings.horizon_days)
        f = orderly_share(units[model], cap)
        market[model] = MarketSale(model, units[model], values[model], terms, cap, f,
                                   realised(values[model], terms, f)[2])
    return market


def fire_sale_gpu_value(holdings: Iterable[ModelHolding], market: Mapping[str, MarketSale]) -> Decimal:
    """Σ over a facility's models of V × (orderly × f + forced × (1 − f)) at the shared f."""
    total = ZERO
    for h in holdings:
        sale = market[h.gpu_model]
        total += realised(h.value, sale.terms, sale.orderly_share)[2]
    return total
