"""A validated rule set: covenants, valuation and forecast settings, stress scenarios.

Produced by ``bot.rulefiles.loader`` from YAML; consumed by evaluation. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.domain.thresholds import Threshold

if TYPE_CHECKING:  # pragma: no cover
    from bot.domain.expressions import Expr
    from bot.errors import Location

SEVERITIES = ("low", "medium", "high", "critical")
NOTIFY_EVENTS = ("warning", "breach", "no_data", "resolved")


@dataclass(frozen=True)
class ModelLife:
    useful_life_years: Decimal
    residual: Decimal


DEFAULT_LIFE = ModelLife(Decimal(3), Decimal("0.10"))


@dataclass(frozen=True)
class SaleTerms:
    """How one GPU model sells in a liquidation (DOMAIN.md "Liquidation value").

    ``orderly`` and ``forced`` are shares of the unit value (0 ≤ forced ≤ orderly ≤ 1);
    ``monthly_depth`` (> 0) is how many units the secondary market absorbs a month at the orderly price.
    """

    orderly: Decimal
    forced: Decimal
    monthly_depth: Decimal


DEFAULT_SALE_TERMS = SaleTerms(Decimal("0.60"), Decimal("0.25"), Decimal(1000))
DEFAULT_CRYPTO_SHARE = Decimal("0.95")


@dataclass(frozen=True)
class LiquidationSettings:
    horizon_days: int = 180  # the orderly sale window
    default: SaleTerms = DEFAULT_SALE_TERMS
    models: dict[str, SaleTerms] = field(default_factory=dict)  # each already inherits from default
    crypto_default: Decimal = DEFAULT_CRYPTO_SHARE
    crypto: dict[str, Decimal] = field(default_factory=dict)  # asset -> share of spot a sale realises

    def terms(self, gpu_model: str) -> SaleTerms:
        return self.models.get(gpu_model, self.default)

    def crypto_share(self, asset: str) -> Decimal:
        return self.crypto.get(asset, self.crypto_default)


@dataclass(frozen=True)
class Valuation:
    default: ModelLife = DEFAULT_LIFE
    models: dict[str, ModelLife] = field(default_factory=dict)
    mark_max_age_days: int = 30
    crypto_max_age_days: int = 2
    liquidation: LiquidationSettings = LiquidationSettings()

    def life(self, gpu_model: str) -> ModelLife:
        return self.models.get(gpu_model, self.default)


@dataclass(frozen=True)
class ForecastSettings:
    default_rate: Decimal = Decimal("-0.25")
    rates: dict[str, Decimal] = field(default_factory=dict)
    price_max_age_days: int = 30


@dataclass(frozen=True)
class Step:
    start: date  # `from` in YAML
    must_be: Threshold


@dataclass(frozen=True)
class AlertOptions:
    """Alert lifecycle options of a covenant (issue 4); defaults per the README."""

    pending_evaluations: int = 1
    keep_firing_evaluations: int = 1
    remind_every: timedelta | None = timedelta(days=7)  # None: never remind
    cure_days: int | None = None
    notify_on: tuple[str, ...] = NOTIFY_EVENTS


@dataclass(frozen=True)
class Notify:
    slack: tuple[str, ...] = ()
    email: tuple[str, ...] = ()


@dataclass(frozen=True)
class Covenant:
    id: str
    must_be: Threshold
    metric: str | None = None  # a named variable ...
    expr: "Expr | None" = None  # ... or an expression over variables
    expr_text: str | None = None
    title: str | None = None
    warn_at: Threshold | None = None
    applies_to_types: tuple[str, ...] | None = None
    applies_to_ids: tuple[str, ...] | None = None
    overrides: dict[str, Threshold] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()  # sorted by date
    severity: str = "medium"
    notify: Notify = Notify()
    alert: AlertOptions = AlertOptions()
    location: "Location | None" = None

    @property
    def metric_label(self) -> str:
        """What the `metric` field of a result shows: the metric name, or the expression text."""
        return self.metric if self.metric is not None else (self.expr_text or "")

    def applies_to(self, facility_id: str, facility_type: str) -> bool:
        if self.applies_to_types is not None and facility_type not in self.applies_to_types:
            return False
        if self.applies_to_ids is not None and facility_id not in self.applies_to_ids:
            return False
        return True

    def threshold_at(self, facility_id: str, as_of: date) -> Threshold:
        """The effective threshold: override, else the last step on or before T, else must_be."""
        if facility_id in self.overrides:
            return self.overrides[facility_id]
        current = self.must_be
        for step in self.steps:
            if step.start <= as_of:
                current = step.must_be
            else:
                break
        return current

    def variables(self) -> frozenset[str]:
        if self.metric is not None:
            return frozenset({self.metric})
        assert self.expr is not None
        return self.expr.variables()


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str | None
    shocks: dict[str, Decimal]  # key -> s (e.g. BTC -> -0.65)


@dataclass(frozen=True)
class RuleSet:
    covenants: tuple[Covenant, ...] = ()
    valuation: Valuation = Valuation()
    forecast: ForecastSettings = ForecastSettings()
    scenarios: tuple[Scenario, ...] = ()
    files: tuple[str, ...] = ()
    digest: str = ""  # sha256 of the files' bytes, for `covbot status`

    def covenant(self, covenant_id: str) -> Covenant | None:
        for c in self.covenants:
            if c.id == covenant_id:
                return c
        return None
