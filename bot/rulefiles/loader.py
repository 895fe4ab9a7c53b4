"""Load and validate rule files into a ``RuleSet`` (DOMAIN.md "Rule files").

A rules path is one YAML file or a folder of ``*.yaml``/``*.yml`` files, read in name order.
Checks run in layers, as in cloud-custodian's ``validate``: YAML syntax and repeated keys →
top-level structure → each section's schema → names that must be unique across files. Every
problem of every file is collected before anything is reported, each with file:line:column.

    load_rules(path) -> RuleSet          raises RuleFileError with every problem
    validate_rules(path) -> [Problem]    empty when the rules are valid
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ruamel.yaml.nodes import Node

from bot.domain.rulebook import Covenant, ForecastSettings, RuleSet, Scenario, Valuation
from bot.errors import Location, Problem, RuleFileError
from bot.rulefiles import settings
from bot.rulefiles.covenants import covenant
from bot.rulefiles.scenarios import scenario
from bot.rulefiles.yamlnodes import Sheet, position_of, read_yaml

__all__ = ["load_rules", "validate_rules", "rule_files", "TOP_LEVEL_KEYS"]

TOP_LEVEL_KEYS = ("covenants", "valuation", "forecast", "scenarios")
SUFFIXES = (".yaml", ".yml")


def load_rules(path: str | Path) -> RuleSet:
    """The rule set of a file or folder; raises RuleFileError listing every problem found."""
    rules, problems = _load(path)
    if problems:
        raise RuleFileError(problems)
    return rules


def validate_rules(path: str | Path) -> list[Problem]:
    """Every problem in the rule files (an empty list when they are valid)."""
    return _load(path)[1]


def rule_files(path: str | Path) -> tuple[list[Path], list[Problem]]:
    """The files a rules path stands for, in name order (hidden files skipped)."""
    root = Path(path)
    if root.is_file():
        return [root], []
    if root.is_dir():
        found = sorted(
            (p for p in root.iterdir() if p.suffix in SUFFIXES and p.is_file() and not p.name.startswith(".")),
            key=lambda p: p.name,
        )
        if not found:
            return [], [Problem(Location(str(path), 1, 1), "this folder holds no rule files; expected *.yaml or *.yml files")]
        return found, []
    return [], [Problem(Location(str(path), 1, 1), "no such file or folder; expected a rule file or a folder of *.yaml files")]


class _Collector:
    """What the files hold so far, with where each once-only thing was first seen."""

    def __init__(self) -> None:
        self.covenants: list[Covenant] = []
        self.scenarios: list[Scenario] = []
        self.valuation: Valuation = Valuation()
        self.forecast: ForecastSettings = ForecastSettings()
        self.ids: dict[str, Location] = {}
        self.names: dict[str, Location] = {}
        self.once: dict[str, Location] = {}  # "valuation"/"forecast" -> where first given

    def read(self, sheet: Sheet, root: Node | None) -> None:
        if root is None:  # an empty file, or comments only
            return
        entries = sheet.mapping(root, "the rule file", TOP_LEVEL_KEYS, what="a rule file")
        for key, entry in (entries or {}).items():
            if key in ("valuation", "forecast"):
                self._once_only(sheet, key, entry)
            elif key == "covenants":
                for item in sheet.sequence(entry.value, "covenants", "covenants") or []:
                    found_covenant = covenant(sheet, item, self.ids)
                    if found_covenant is not None:
                        self.covenants.append(found_covenant)
            else:
                for item in sheet.sequence(entry.value, "scenarios", "scenarios") or []:
                    found_scenario = scenario(sheet, item, self.names)
                    if found_scenario is not None:
                        self.scenarios.append(found_scenario)

    def _once_only(self, sheet: Sheet, key: str, entry) -> None:
        if key in self.once:
            first = self.once[key]
            sheet.error(entry.key, f"{key}: already given in {first.file} (line {first.line}); at most one rule file may hold {key}:")
            return
        self.once[key] = sheet.at(entry.key)
        if key == "valuation":
            self.valuation = settings.valuation(sheet, entry.value) or Valuation()
        else:
            self.forecast = settings.forecast(sheet, entry.value) or ForecastSettings()


def _load(path: str | Path) -> tuple[RuleSet, list[Problem]]:
    files, problems = rule_files(path)
    collector = _Collector()
    digest = hashlib.sha256()
    labels: list[str] = []
    for file in files:
        label = str(file)
        labels.append(label)
        sheet = Sheet(label)
        data = _read_bytes(sheet, file)
        if data is not None:
            digest.update(f"{file.name}\0{len(data)}\0".encode())
            digest.update(data)
            text = _decode(sheet, data)
            if text is not None:
                collector.read(sheet, read_yaml(sheet, text))
        problems.extend(sorted(sheet.problems, key=lambda p: (p.location.line, p.location.column)))
    rules = RuleSet(
        covenants=tuple(collector.covenants),
        valuation=collector.valuation,
        forecast=collector.forecast,
        scenarios=tuple(collector.scenarios),
        files=tuple(labels),
        digest=digest.hexdigest(),
    )
    return rules, problems


def _read_bytes(sheet: Sheet, file: Path) -> bytes | None:
    try:
        return file.read_bytes()
    except OSError as exc:
        sheet.error_at(1, 1, f"this file cannot be read ({exc.strerror or exc})")
        return None


def _decode(sheet: Sheet, data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", "replace")
        line, column = position_of(before, len(before))
        sheet.error_at(line, column, f"this file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be read)")
        return None
