"""Stress shocks applied to the inputs of metrics (DOMAIN.md "Stress").

Multipliers are 1 + s. ``crypto[symbol]`` multiplies every spot price of that symbol;
``rent`` multiplies the revenue of every counted period; ``gpu`` multiplies every GPU unit
value (mark or book) and ``gpu_models[model]`` compounds on top for that model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ONE = Decimal(1)


@dataclass(frozen=True)
class Shocks:
    crypto: dict[str, Decimal] = field(default_factory=dict)
    rent: Decimal = ONE
    gpu: Decimal = ONE
    gpu_models: dict[str, Decimal] = field(default_factory=dict)

    def crypto_multiplier(self, symbol: str) -> Decimal:
        return self.crypto.get(symbol, ONE)

    def gpu_multiplier(self, gpu_model: str) -> Decimal:
        return self.gpu * self.gpu_models.get(gpu_model, ONE)

    @property
    def is_empty(self) -> bool:
        return not self.crypto and self.rent == ONE and self.gpu == ONE and not self.gpu_models


NO_SHOCKS = Shocks()
