"""The ``valuation:`` and ``forecast:`` blocks (DOMAIN.md "Rule files", "Forward-looking risk")."""

from __future__ import annotations

from decimal import Decimal

from ruamel.yaml.nodes import Node

from bot.domain.rulebook import DEFAULT_LIFE, ForecastSettings, LiquidationSettings, ModelLife, Valuation
from bot.rulefiles import values
from bot.rulefiles.liquidation import liquidation
from bot.rulefiles.yamlnodes import Sheet, is_null, shown

VALUATION_KEYS = ("default", "models", "mark_max_age_days", "crypto_max_age_days", "liquidation")
LIFE_KEYS = ("useful_life_years", "residual")
FORECAST_KEYS = ("default_rate", "rates", "price_max_age_days")

_LIFE_EXPECTED = "a number of years greater than 0 (e.g. 3 or 4.5)"
_RESIDUAL_EXPECTED = "a fraction of the cost from 0 to 1 (e.g. 0.10)"
_RATE_EXPECTED = "a yearly rate greater than -1, written -0.30 or -30%"


def valuation(sheet: Sheet, node: Node) -> Valuation | None:
    """Valuation settings; a model entry inherits what it does not give from the default."""
    before = len(sheet.problems)
    entries = {} if is_null(node) else sheet.mapping(node, "valuation", VALUATION_KEYS)
    if entries is None:
        return None
    default = DEFAULT_LIFE
    if "default" in entries:
        default = _life(sheet, entries["default"].value, "valuation.default", DEFAULT_LIFE) or DEFAULT_LIFE
    models: dict[str, ModelLife] = {}
    if "models" in entries:
        found = sheet.mapping(entries["models"].value, "valuation.models", None)
        for model, entry in (found or {}).items():
            life = _life(sheet, entry.value, f"valuation.models.{model}", default)
            if life is not None:
                models[model] = life
    ages: dict[str, int] = {}
    for key, fallback in (("mark_max_age_days", 30), ("crypto_max_age_days", 2)):
        found_age = values.integer(sheet, entries[key].value, f"valuation.{key}", 0) if key in entries else fallback
        if found_age is not None:
            ages[key] = found_age
    sale = LiquidationSettings()
    if "liquidation" in entries:
        sale = liquidation(sheet, entries["liquidation"].value) or sale
    if len(sheet.problems) > before:
        return None
    return Valuation(default=default, models=models, liquidation=sale, **ages)


def _life(sheet: Sheet, node: Node, label: str, inherit: ModelLife) -> ModelLife | None:
    entries = {} if is_null(node) else sheet.mapping(node, label, LIFE_KEYS)
    if entries is None:
        return None
    years: Decimal | None = inherit.useful_life_years
    residual: Decimal | None = inherit.residual
    if "useful_life_years" in entries:
        value_node = entries["useful_life_years"].value
        years = values.decimal(sheet, value_node, f"{label}.useful_life_years", _LIFE_EXPECTED)
        if years is not None and years <= 0:
            sheet.error(value_node, f"{label}.useful_life_years: expected {_LIFE_EXPECTED}, got {shown(value_node)}")
            years = None
    if "residual" in entries:
        value_node = entries["residual"].value
        residual = values.decimal(sheet, value_node, f"{label}.residual", _RESIDUAL_EXPECTED)
        if residual is not None and not (0 <= residual <= 1):
            sheet.error(value_node, f"{label}.residual: expected {_RESIDUAL_EXPECTED}, got {shown(value_node)}")
            residual = None
    return ModelLife(years, residual) if years is not None and residual is not None else None


def forecast(sheet: Sheet, node: Node) -> ForecastSettings | None:
    before = len(sheet.problems)
    entries = {} if is_null(node) else sheet.mapping(node, "forecast", FORECAST_KEYS)
    if entries is None:
        return None
    default_rate: Decimal | None = Decimal("-0.25")
    if "default_rate" in entries:
        default_rate = rate(sheet, entries["default_rate"].value, "forecast.default_rate")
    rates: dict[str, Decimal] = {}
    if "rates" in entries:
        for model, entry in (sheet.mapping(entries["rates"].value, "forecast.rates", None) or {}).items():
            found = rate(sheet, entry.value, f"forecast.rates.{model}")
            if found is not None:
                rates[model] = found
    max_age: int | None = 30
    if "price_max_age_days" in entries:
        max_age = values.integer(sheet, entries["price_max_age_days"].value, "forecast.price_max_age_days", 0)
    if len(sheet.problems) > before or default_rate is None or max_age is None:
        return None
    return ForecastSettings(default_rate=default_rate, rates=rates, price_max_age_days=max_age)


def rate(sheet: Sheet, node: Node, label: str) -> Decimal | None:
    """A yearly rate of change, greater than -1 (a price cannot fall by 100 % or more)."""
    found = values.fraction(sheet, node, label, _RATE_EXPECTED)
    if found is not None and found <= -1:
        sheet.error(node, f"{label}: expected {_RATE_EXPECTED}, got {shown(node)}")
        return None
    return found
