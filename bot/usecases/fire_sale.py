"""Use case `covbot fire-sale`: what foreclosing at once would recover, per scenario.

Scenarios and shocks are planned exactly as `covbot stress` plans them (with neither option: only
``base``, no shocks); one Market per scenario; the portfolio is read once, chunk by chunk. Each
facility is evaluated with the same engine as `check` and `stress` to find who is foreclosed; the
sellers' lots then meet one market per scenario (``bot.domain.fire_sale``). Nothing is stored or sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Sequence

from sqlalchemy import Engine

from bot.domain.evaluation import evaluate_facility
from bot.domain.fire_sale import BASE_SCENARIO, SELLER_VARIABLES, FireSaleRow, ScenarioSale, Seller, fire_sale, seller
from bot.domain.market import Market
from bot.domain.metrics import compute_metrics, model_holdings
from bot.domain.model import FacilityData
from bot.domain.rulebook import Covenant, RuleSet, Scenario
from bot.domain.stress import StressInputError, plan_scenarios, shocks_for
from bot.errors import UsageError
from bot.usecases.evaluate import CHUNK_SIZE, open_book
from bot.usecases.stress import unmatched_shocks


@dataclass
class FireSaleReport:
    as_of: date
    everyone: bool  # --all: every facility with outstanding > 0 is foreclosed
    facilities: int  # facilities in the book
    sales: list[ScenarioSale]  # by scenario name
    unmatched: list[str]  # shocks that move nothing in this book

    @property
    def rows(self) -> list[FireSaleRow]:
        """Every row, sorted by scenario then facility_id (the JSON order)."""
        return [row for sale in self.sales for row in sale.rows]


def plan(scenarios: Sequence[Scenario], names: Sequence[str], shock_options: Sequence[str]) -> list[Scenario]:
    """Neither option: only ``base`` (no shocks). Either: the scenarios as `stress` plans them, no ``base``."""
    if not names and not shock_options:
        return [BASE_SCENARIO]
    try:
        return plan_scenarios(scenarios, names, shock_options)
    except StressInputError as exc:
        raise UsageError("\n".join(exc.problems)) from None


def foreclosed(data: FacilityData, market: Market, covenants: Sequence[Covenant], everyone: bool) -> Seller | None:
    """The facility as a seller under this market, or None when it is not foreclosed."""
    if not everyone and not any(r.status == "breach" for r in evaluate_facility(data, market, covenants)):
        return None
    values = compute_metrics(data, market, SELLER_VARIABLES)
    outstanding = values["outstanding"]
    if not isinstance(outstanding, Decimal) or outstanding <= 0:
        return None
    return seller(data.facility_id, data.facility.borrower, values, model_holdings(data.gpu_lots, market))


def run_fire_sale(
    engine: Engine,
    ruleset: RuleSet,
    as_of: date,
    *,
    scenario_names: Sequence[str] = (),
    shock_options: Sequence[str] = (),
    everyone: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> FireSaleReport:
    scenarios = plan(ruleset.scenarios, scenario_names, shock_options)
    covenants = list(ruleset.covenants)
    sellers: dict[str, list[Seller]] = {s.name: [] for s in scenarios}
    held_models: set[str] = set()
    pledged: set[str] = set()
    count = 0
    with open_book(engine) as book:
        markets = [(s.name, book.market(ruleset, as_of, shocks_for(s))) for s in scenarios]
        for chunk in book.chunks(chunk_size=chunk_size):
            for data in chunk:
                count += 1
                held_models.update(lot.gpu_model for lot in data.gpu_lots)
                pledged.update(h.asset for h in data.crypto)
                for name, market in markets:
                    found = foreclosed(data, market, covenants, everyone)
                    if found is not None:
                        sellers[name].append(found)
    sale_settings = ruleset.valuation.liquidation
    sales = [fire_sale(s, sellers[s.name], sale_settings) for s in sorted(scenarios, key=lambda s: s.name)]
    return FireSaleReport(as_of, everyone, count, sales, unmatched_shocks(scenarios, held_models, pledged))
