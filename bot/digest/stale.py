"""Stale data for the digest: GPU marks and crypto prices facilities need at T but cannot use.

Pure. Uses the same rules as the metrics (``Market.gpu_mark`` / ``Market.crypto_spot``): a GPU
lot that counts at T without a fresh mark falls back to book value; a pledged crypto asset without a
fresh spot makes every metric that needs it no data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from bot.digest.model import StalePrice
from bot.domain.market import Market, NoFreshPrice
from bot.domain.metrics import holdings_at, lots_counted
from bot.domain.model import FacilityData

GPU_EFFECT = "book value used instead of a mark"
CRYPTO_EFFECT = "crypto value is no data"


@dataclass(frozen=True)
class PriceNeeds:
    """The GPU models and crypto assets one facility needs priced at T."""

    facility_id: str
    gpu_models: frozenset[str]
    crypto_assets: frozenset[str]


def price_needs(data: FacilityData, as_of) -> PriceNeeds:
    models = frozenset(lot.gpu_model for lot in lots_counted(data.gpu_lots, as_of) if lot.quantity != 0)
    assets = frozenset(a for a, row in holdings_at(data.crypto, as_of).items() if row.quantity != 0)
    return PriceNeeds(data.facility_id, models, assets)


def stale_prices(needs: Iterable[PriceNeeds], market: Market) -> tuple[StalePrice, ...]:
    """One entry per symbol that is missing or too old at T, naming the facilities that need it."""
    users: dict[tuple[str, str], set[str]] = {}
    for need in needs:
        for model in need.gpu_models:
            users.setdefault(("gpu", model), set()).add(need.facility_id)
        for asset in need.crypto_assets:
            users.setdefault(("crypto", asset), set()).add(need.facility_id)
    out = []
    for (kind, name), facility_ids in sorted(users.items()):
        found = market.gpu_mark(name) if kind == "gpu" else market.crypto_spot(name)
        if not isinstance(found, NoFreshPrice):
            continue
        out.append(StalePrice(
            symbol=found.symbol,
            kind="GPU mark" if kind == "gpu" else "crypto price",
            latest=found.latest.date if found.latest else None,
            age_days=found.age_days,
            max_age_days=found.max_age_days,
            facility_ids=tuple(sorted(facility_ids)),
            effect=GPU_EFFECT if kind == "gpu" else CRYPTO_EFFECT,
        ))
    return tuple(out)
