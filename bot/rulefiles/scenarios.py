"""One stress scenario of a ``scenarios:`` list (DOMAIN.md "Stress")."""

from __future__ import annotations

from decimal import Decimal

from ruamel.yaml.nodes import Node

from bot.domain.rulebook import Scenario
from bot.errors import Location
from bot.domain.stress import is_shock_key
from bot.rulefiles import values
from bot.rulefiles.yamlnodes import Sheet, is_null

SCENARIO_KEYS = ("name", "title", "shocks")
_SHOCK_EXPECTED = "a change of -1 or more, written -65% or -0.65"
_KEYS_EXPECTED = "rent, gpu, gpu:<model> (e.g. gpu:H100) or a crypto symbol in capitals (e.g. BTC)"


def scenario(sheet: Sheet, node: Node, names: dict[str, Location]) -> Scenario | None:
    """The scenario, or None after reporting. ``names`` holds the scenario names seen so far."""
    before = len(sheet.problems)
    e = sheet.mapping(node, "scenarios", SCENARIO_KEYS, required=("name", "shocks"), what="a scenario")
    if e is None:
        return None
    name = None
    if "name" in e:
        name_node = e["name"].value
        name = values.text(sheet, name_node, "name", "a scenario name (e.g. crypto-winter)")
        if name is not None and name in names:
            sheet.error(name_node, f'name: the scenario name "{name}" is already used at {names[name]}; names must be unique')
        elif name is not None:
            names[name] = sheet.at(name_node)
    title = None
    if "title" in e:
        title = values.optional_text(sheet, e["title"].value, "title")
    shocks = shocks_of(sheet, e["shocks"].value) if "shocks" in e else {}
    if len(sheet.problems) > before or name is None:
        return None
    return Scenario(name=name, title=title, shocks=shocks)


def shocks_of(sheet: Sheet, node: Node) -> dict[str, Decimal]:
    found = sheet.mapping(node, "shocks", None)
    if found is None:
        return {}
    if not found:
        sheet.error(node, f"shocks: expected at least one shock keyed by {_KEYS_EXPECTED}, got {'nothing' if is_null(node) else 'an empty mapping'}")
        return {}
    shocks: dict[str, Decimal] = {}
    for key, entry in found.items():
        if not is_shock_key(key):
            sheet.error(entry.key, f'{key}: expected a shock key: {_KEYS_EXPECTED}, got "{key}"')
            continue
        value = values.fraction(sheet, entry.value, f"shocks.{key}", _SHOCK_EXPECTED)
        if value is not None and value < -1:
            sheet.error(entry.value, f"shocks.{key}: expected {_SHOCK_EXPECTED}, got \"{entry.value.value}\"")
        elif value is not None:
            shocks[key] = value
    return shocks

