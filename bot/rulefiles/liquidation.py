"""The ``valuation: liquidation:`` block (DOMAIN.md "Liquidation value: the collateral mirage").

```yaml
valuation:
  liquidation:
    horizon_days: 180
    default: {orderly: 0.60, forced: 0.25, monthly_depth: 1000}
    models:
      H100: {orderly: 0.70, forced: 0.35, monthly_depth: 4000}
    crypto: {default: 0.95, BTC: 0.97}
```
A key left out of ``default:`` takes the built-in default, a key left out of a model entry takes
``default:``'s; the bounds (0 ≤ forced ≤ orderly ≤ 1, monthly_depth > 0, crypto shares in (0, 1])
hold for the settings after inheriting, and a broken bound is reported at the key the entry gives.
"""

from __future__ import annotations

from decimal import Decimal

from ruamel.yaml.nodes import Node

from bot.domain.rulebook import DEFAULT_CRYPTO_SHARE, DEFAULT_SALE_TERMS, LiquidationSettings, SaleTerms
from bot.rulefiles import values
from bot.rulefiles.yamlnodes import Entry, Sheet, is_null, shown

LIQUIDATION_KEYS = ("horizon_days", "default", "models", "crypto")
TERMS_KEYS = ("orderly", "forced", "monthly_depth")
LABEL = "valuation.liquidation"

_SHARE_EXPECTED = "a share of the unit value from 0 to 1 (e.g. 0.60 or 60%)"
_DEPTH_EXPECTED = "a number of units a month greater than 0 (e.g. 1000)"
_CRYPTO_EXPECTED = "a share of spot greater than 0 and at most 1 (e.g. 0.95 or 95%)"


def liquidation(sheet: Sheet, node: Node) -> LiquidationSettings | None:
    """The settings, or None after reporting every problem."""
    before = len(sheet.problems)
    entries = {} if is_null(node) else sheet.mapping(node, LABEL, LIQUIDATION_KEYS)
    if entries is None:
        return None
    horizon: int | None = 180
    if "horizon_days" in entries:
        horizon = values.integer(sheet, entries["horizon_days"].value, f"{LABEL}.horizon_days", 1)
    default: SaleTerms | None = DEFAULT_SALE_TERMS
    if "default" in entries:
        default = _terms(sheet, entries["default"], f"{LABEL}.default", DEFAULT_SALE_TERMS, "the built-in default")
    models: dict[str, SaleTerms] = {}
    if "models" in entries:
        found = sheet.mapping(entries["models"].value, f"{LABEL}.models", None)
        for model, entry in (found or {}).items():
            # with a broken default:, a model's own values are still checked, its order is not
            terms = _terms(sheet, entry, f"{LABEL}.models.{model}", default or DEFAULT_SALE_TERMS, "default:",
                           check_order=default is not None)
            if terms is not None:
                models[model] = terms
    crypto_default, crypto = DEFAULT_CRYPTO_SHARE, {}
    if "crypto" in entries:
        found = sheet.mapping(entries["crypto"].value, f"{LABEL}.crypto", None)
        for asset, entry in (found or {}).items():
            share = _crypto_share(sheet, entry.value, f"{LABEL}.crypto.{asset}")
            if share is None:
                continue
            if asset == "default":
                crypto_default = share
            else:
                crypto[asset] = share
    if len(sheet.problems) > before or horizon is None or default is None:
        return None
    return LiquidationSettings(horizon, default, models, crypto_default, crypto)


def _terms(
    sheet: Sheet, entry: Entry, label: str, inherit: SaleTerms, inherited_from: str, check_order: bool = True
) -> SaleTerms | None:
    node = entry.value
    given = {} if is_null(node) else sheet.mapping(node, label, TERMS_KEYS)
    if given is None:
        return None
    found: dict[str, Decimal | None] = {}
    for key in TERMS_KEYS:
        if key not in given:
            found[key] = getattr(inherit, key)
            continue
        value_node = given[key].value
        if key == "monthly_depth":
            value = values.decimal(sheet, value_node, f"{label}.{key}", _DEPTH_EXPECTED)
            if value is not None and value <= 0:
                sheet.error(value_node, f"{label}.{key}: expected {_DEPTH_EXPECTED}, got {shown(value_node)}")
                value = None
        else:
            value = values.fraction(sheet, value_node, f"{label}.{key}", _SHARE_EXPECTED)
            if value is not None and not (0 <= value <= 1):
                sheet.error(value_node, f"{label}.{key}: expected {_SHARE_EXPECTED}, got {shown(value_node)}")
                value = None
        found[key] = value
    orderly, forced, depth = found["orderly"], found["forced"], found["monthly_depth"]
    if orderly is None or forced is None or depth is None:
        return None
    if forced > orderly and check_order:
        where = given.get("forced") or given.get("orderly") or entry
        where_node = where.value if where is not entry else entry.key
        sources = []
        for key, value in (("forced", forced), ("orderly", orderly)):
            sources.append(f"{key} {value}" + ("" if key in given else f" (from {inherited_from})"))
        sheet.error(
            where_node,
            f"{label}: forced must not be above orderly (a forced sale never realises more than an orderly one); "
            f"got {' above '.join(sources)}; expected 0 <= forced <= orderly <= 1",
        )
        return None
    return SaleTerms(orderly, forced, depth)


def _crypto_share(sheet: Sheet, node: Node, label: str) -> Decimal | None:
    share = values.fraction(sheet, node, label, _CRYPTO_EXPECTED)
    if share is not None and not (0 < share <= 1):
        sheet.error(node, f"{label}: expected {_CRYPTO_EXPECTED}, got {shown(node)}")
        return None
    return share
