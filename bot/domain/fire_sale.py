"""A portfolio fire sale (DOMAIN.md "Liquidation value" → Fire sale), pure.

Per scenario the foreclosed facilities (outstanding > 0 and a covenant in breach under the scenario,
or every facility with outstanding > 0 for ``--all``) sell into one market: per GPU model the units
of every seller together meet the capacity, and the shared orderly share prices every seller's lots.

    fire_sale_value = Σ over M of V × (orderly × f_shared + forced × (1 − f_shared)) + crypto liquidation value
    recovery        = min(outstanding, fire_sale_value)
    loss            = outstanding − recovery

Rows are plain frozen records (``FIRE_SALE_FIELDS`` in JSON order) so any tabular exporter can use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Sequence

from bot.domain.decimals import CONTEXT, ZERO, divide, to_text
from bot.domain.liquidation import MarketSale, ModelHolding, fire_sale_gpu_value, shared_market
from bot.domain.rulebook import LiquidationSettings, Scenario
from bot.domain.variables import NoData, Value

BASE = "base"
BASE_SCENARIO = Scenario(BASE, "The book as it stands (no shocks)", {})
FIRE_SALE_FIELDS = ("scenario", "facility_id", "outstanding", "collateral_value", "liquidation_value",
                    "fire_sale_value", "recovery", "loss", "reason")
# what a seller's row needs besides its lots, computed under the scenario's shocks
SELLER_VARIABLES = ("outstanding", "collateral_value", "liquidation_value", "crypto_liquidation_value")


@dataclass(frozen=True)
class Seller:
    """A foreclosed facility under one scenario: its own values and its lots per model."""

    facility_id: str
    borrower: str
    outstanding: Decimal  # at T, not shocked
    collateral_value: Value  # its own, under the scenario's shocks
    liquidation_value: Value  # its own standalone liquidation value, under the shocks
    crypto_liquidation_value: Value
    holdings: tuple[ModelHolding, ...]


def seller(facility_id: str, borrower: str, values: dict[str, Value], holdings: tuple[ModelHolding, ...]) -> Seller:
    """``values`` holds SELLER_VARIABLES of the facility under the scenario."""
    outstanding = values["outstanding"]
    assert isinstance(outstanding, Decimal)
    return Seller(facility_id, borrower, outstanding, values["collateral_value"], values["liquidation_value"],
                  values["crypto_liquidation_value"], holdings)


@dataclass(frozen=True)
class FireSaleRow:
    scenario: str
    facility_id: str
    borrower: str
    outstanding: Decimal
    collateral_value: Decimal | None  # None (with a reason) when a pledged asset has no fresh price
    liquidation_value: Decimal | None
    fire_sale_value: Decimal | None
    recovery: Decimal | None
    loss: Decimal | None
    reason: str | None

    @property
    def book_ltv(self) -> Decimal | None:
        """outstanding / collateral_value under the scenario (None when unknown or 0)."""
        return _ltv(self.outstanding, self.collateral_value)

    @property
    def liquidation_ltv(self) -> Decimal | None:
        """outstanding / its own liquidation value under the scenario (None when unknown or 0)."""
        return _ltv(self.outstanding, self.liquidation_value)

    def as_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "facility_id": self.facility_id,
            "outstanding": to_text(self.outstanding),
            "collateral_value": to_text(self.collateral_value),
            "liquidation_value": to_text(self.liquidation_value),
            "fire_sale_value": to_text(self.fire_sale_value),
            "recovery": to_text(self.recovery),
            "loss": to_text(self.loss),
            "reason": self.reason,
        }


def _ltv(outstanding: Decimal, value: Decimal | None) -> Decimal | None:
    if value is None or value == 0:
        return None
    with localcontext(CONTEXT):
        return divide(outstanding, value)


@dataclass(frozen=True)
class ScenarioSale:
    """One scenario's fire sale: the rows (by facility_id), the market per model and the totals."""

    scenario: Scenario
    rows: tuple[FireSaleRow, ...]
    market: tuple[MarketSale, ...]  # per GPU model sold, by model
    exposure: Decimal  # Σ outstanding of every foreclosed facility
    collateral_value: Decimal  # Σ over the rows that could be valued
    liquidation_value: Decimal
    fire_sale_value: Decimal
    recovery: Decimal
    loss: Decimal
    unvalued: tuple[str, ...]  # facilities whose values are null (a pledged asset has no fresh price)
    unvalued_exposure: Decimal

    @property
    def loss_rate(self) -> Decimal | None:
        """Σ loss / Σ outstanding over the facilities that could be valued (None when there are none)."""
        valued = self.exposure - self.unvalued_exposure
        if valued == 0:
            return None
        with localcontext(CONTEXT):
            return divide(self.loss, valued)


def _known(value: Value) -> Decimal | None:
    return None if isinstance(value, NoData) else value


def fire_sale(scenario: Scenario, sellers: Sequence[Seller], settings: LiquidationSettings) -> ScenarioSale:
    """Every seller sells into one market; rows sorted by facility_id."""
    with localcontext(CONTEXT):
        market = shared_market((s.holdings for s in sellers), settings)
        rows = []
        for s in sorted(sellers, key=lambda s: s.facility_id):
            crypto = s.crypto_liquidation_value
            if isinstance(crypto, NoData):
                rows.append(FireSaleRow(scenario.name, s.facility_id, s.borrower, s.outstanding,
                                        None, None, None, None, None, crypto.reason))
                continue
            value = fire_sale_gpu_value(s.holdings, market) + crypto
            recovery = min(s.outstanding, value)
            rows.append(FireSaleRow(scenario.name, s.facility_id, s.borrower, s.outstanding,
                                    _known(s.collateral_value), _known(s.liquidation_value), value, recovery,
                                    s.outstanding - recovery, None))
        valued = [r for r in rows if r.reason is None]
        unvalued = [r for r in rows if r.reason is not None]

        def total(name: str) -> Decimal:
            return sum((getattr(r, name) for r in valued), ZERO)

        return ScenarioSale(
            scenario, tuple(rows), tuple(market.values()),
            sum((r.outstanding for r in rows), ZERO),
            total("collateral_value"), total("liquidation_value"), total("fire_sale_value"), total("recovery"),
            total("loss"),
            tuple(r.facility_id for r in unvalued), sum((r.outstanding for r in unvalued), ZERO),
        )
