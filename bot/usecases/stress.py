"""Use case `covbot stress`: re-evaluate every covenant at T under each scenario's shocks.

One Market per scenario (the shocks of a scenario apply together) plus the unshocked base; the
portfolio is read once, chunk by chunk, and each facility is evaluated under every market.
Nothing is stored or sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Sequence

from bot.config import Settings
from bot.domain.evaluation import evaluate_facility
from bot.domain.market import Deflation, Market
from bot.domain.metrics import compute_metrics, lots_counted
from bot.domain.rulebook import Scenario
from bot.domain.stress import (
    EXPOSURE_VARIABLES,
    Exposure,
    ScenarioSummary,
    StressInputError,
    StressRow,
    exposure_of,
    pair_results,
    plan_scenarios,
    row_key,
    shocks_for,
    summarize,
)
from bot.errors import UsageError
from bot.usecases.check import load_ruleset, open_engine


@dataclass
class StressReport:
    as_of: date
    scenarios: list[Scenario]
    rows: list[StressRow]  # sorted by scenario, facility_id, covenant_id
    exposures: dict[str, Exposure]
    deflations: list[Deflation]  # per GPU model held at T, by model
    summaries: list[ScenarioSummary]
    unmatched: list[str] = field(default_factory=list)  # shocks that move nothing in this book

    @property
    def double_leverage(self) -> list[Exposure]:
        return [e for _, e in sorted(self.exposures.items()) if e.double_leverage]


def run_stress(
    settings: Settings,
    *,
    rules_path: str | None,
    as_of: date,
    scenario_names: Sequence[str] = (),
    shock_options: Sequence[str] = (),
    chunk_size: int = 2000,
) -> StressReport:
    from bot.store.db import read_scope
    from bot.store.repository import iter_facility_chunks, load_price_book

    ruleset = load_ruleset(settings, rules_path)
    try:
        scenarios = plan_scenarios(ruleset.scenarios, scenario_names, shock_options)
    except StressInputError as exc:
        raise UsageError("\n".join(exc.problems)) from None
    covenants = list(ruleset.covenants)
    rows: list[StressRow] = []
    exposures: dict[str, Exposure] = {}
    models: set[str] = set()
    held_models: set[str] = set()
    pledged: set[str] = set()
    with read_scope(open_engine(settings)) as session:
        prices = load_price_book(session)
        base_market = Market(prices, ruleset.valuation, ruleset.forecast, as_of)
        markets = [
            (s.name, Market(prices, ruleset.valuation, ruleset.forecast, as_of, shocks_for(s))) for s in scenarios
        ]
        for chunk in iter_facility_chunks(session, chunk_size=chunk_size):
            for data in chunk:
                base = evaluate_facility(data, base_market, covenants)
                exposures[data.facility_id] = exposure_of(data, compute_metrics(data, base_market, EXPOSURE_VARIABLES))
                models.update(lot.gpu_model for lot in lots_counted(data.gpu_lots, as_of))
                held_models.update(lot.gpu_model for lot in data.gpu_lots)
                pledged.update(h.asset for h in data.crypto)
                for name, market in markets:
                    rows += pair_results(name, base, evaluate_facility(data, market, covenants))
    rows.sort(key=row_key)
    summaries = [summarize(s, rows, exposures) for s in scenarios]
    deflations = [base_market.deflation(m) for m in sorted(models)]
    unmatched = unmatched_shocks(scenarios, held_models, pledged)
    return StressReport(as_of, scenarios, rows, exposures, deflations, summaries, unmatched)


def unmatched_shocks(scenarios: Sequence[Scenario], models: set[str], assets: set[str]) -> list[str]:
    """Sentences for shocks whose key names no GPU model or crypto asset of the book (a typo such as
    `gpu:h100` would otherwise give false comfort)."""
    out = []
    for scenario in scenarios:
        for key in scenario.shocks:
            if key.startswith("gpu:") and key[4:] not in models:
                held = ", ".join(sorted(models)) or "none"
                out.append(f"{scenario.name}: shock {key} moves nothing: no facility holds {key[4:]} GPUs "
                           f"(models held: {held}).")
            elif key not in ("rent", "gpu") and not key.startswith("gpu:") and key not in assets:
                held = ", ".join(sorted(assets)) or "none"
                out.append(f"{scenario.name}: shock {key} moves nothing: no facility pledges {key} "
                           f"(assets pledged: {held}).")
    return out
