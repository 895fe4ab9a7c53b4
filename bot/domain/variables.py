"""The variables a rule may use, and the value-or-reason they evaluate to.

A variable is either a Decimal or ``NoData(reason)``. The names and their meanings are the
public vocabulary of rule files (README "Variables").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class NoData:
    """A value that cannot be computed, with a sentence saying why."""

    reason: str


Value = Decimal | NoData

# name -> one-line meaning (documented in README; the loader refuses any other name)
VARIABLES: dict[str, str] = {
    "dscr_ttm": "Σ CFADS / Σ debt service over the test period: the 4 latest reported quarters in (L−366d, L]",
    "cfads_ttm": "Σ (revenue − opex − capex − taxes) over the same 4 quarters",
    "debt_service_ttm": "Σ (interest + principal) over the same 4 quarters",
    "revenue_ttm": "Σ revenue over the same 4 quarters",
    "ebitda_ttm": "Σ (revenue − opex) over the same 4 quarters",
    "cash": "cash of the latest counted period",
    "outstanding": "principal outstanding at T (latest balance on or before T, else the facility's)",
    "commitment": "the facility's commitment",
    "gpu_value": "Σ lot quantity × unit value (fresh mark, else straight-line book value)",
    "gpu_count": "Σ quantity of the GPU lots acquired on or before T",
    "crypto_value": "Σ pledged quantity × fresh spot price",
    "collateral_value": "gpu_value + crypto_value",
    "ltv": "outstanding / collateral_value",
    "crypto_coverage": "crypto_value / outstanding",
    "days_since_period_end": "days from the latest counted period_end to T",
    "rental_deflation": "quantity-weighted yearly change of the facility's GPU rental prices",
    "dscr_fwd_6m": "DSCR 6 months ahead with revenue deflated at rental_deflation",
    "dscr_fwd_12m": "DSCR 12 months ahead with revenue deflated at rental_deflation",
    "gpu_liquidation_value": "Σ per GPU model of value × (orderly × f + forced × (1 − f)), f = min(1, capacity / units)",
    "crypto_liquidation_value": "Σ pledged quantity × fresh spot × the asset's share a sale realises",
    "liquidation_value": "gpu_liquidation_value + crypto_liquidation_value",
    "liquidation_ltv": "outstanding / liquidation_value",
    "collateral_mirage": "1 − liquidation_value / collateral_value: the stated collateral a sale would not realise",
}
