"""Facility types named in ``applies_to`` that no stored facility has, with "did you mean …?".

Facility types are free text (DOMAIN.md "Words"), so a type no facility has yet is not an error
in the rule file itself: a rule may be written before the facilities it targets are imported.
Against a stored book, though, ``gpu-abl`` where every facility says ``gpu_abl`` is almost
always a typo that silently makes the covenant apply to nothing, so ``rules validate`` and
``rules plan`` report it as a warning at the type's own file:line:column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.domain.suggest import did_you_mean
from bot.errors import Location, Problem
from bot.rulefiles.loader import rule_files
from bot.rulefiles.yamlnodes import Sheet, is_text, read_yaml


def facility_type_references(path: str | Path) -> list[tuple[str, Location]]:
    """Every ``applies_to.facility_type`` value in the rule files, with where it is written."""
    found: list[tuple[str, Location]] = []
    for file in rule_files(path)[0]:
        sheet = Sheet(str(file))
        try:
            root = read_yaml(sheet, file.read_bytes().decode("utf-8-sig"))
        except (OSError, UnicodeDecodeError):
            continue  # the loader reports those
        for covenant in _items(_value(root, "covenants")):
            for node in _names(_value(_value(covenant, "applies_to"), "facility_type")):
                found.append((node.value, sheet.at(node)))
    return found


def unknown_facility_types(path: str | Path, stored: Iterable[str]) -> list[Problem]:
    """A warning per facility type of the rules that no stored facility has."""
    stored = sorted(set(stored))
    warnings: list[Problem] = []
    for name, location in facility_type_references(path):
        if name in stored:
            continue
        hint = did_you_mean(name, stored)
        tail = hint or f"the stored types are {', '.join(stored)}"
        warnings.append(Problem(location, f'facility_type: no stored facility has the type "{name}"; {tail}'))
    return warnings


def _value(node: Node | None, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return v
    return None


def _items(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def _names(node: Node | None) -> list[ScalarNode]:
    items = [node] if isinstance(node, ScalarNode) else _items(node)
    return [n for n in items if isinstance(n, ScalarNode) and is_text(n)]
