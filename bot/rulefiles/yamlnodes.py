"""Reading one rule file into a YAML node tree, and the bookkeeping every check shares.

The loader works on ruamel's *composed* nodes, not on constructed Python objects, so every
scalar keeps its exact text (``0.10`` never becomes a float) and its exact position.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from bot.errors import Location, Problem
from bot.domain.suggest import did_you_mean

NULL_TAG = "tag:yaml.org,2002:null"


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and str(node.tag) == NULL_TAG


def is_text(node: Node) -> bool:
    """A scalar that is not null (quoted or plain)."""
    return isinstance(node, ScalarNode) and not is_null(node)


def shown(node: Node) -> str:
    """How a value is quoted in a message: ``"=> 1.25"``, ``nothing``, ``a list``, ``a mapping``."""
    if is_null(node):
        return "nothing"
    if isinstance(node, ScalarNode):
        return json.dumps(node.value, ensure_ascii=False)
    if isinstance(node, SequenceNode):
        return "a list"
    return "a mapping"


def quoted(node: ScalarNode) -> bool:
    return getattr(node, "style", None) in ("'", '"')


@dataclass
class Entry:
    """One key of a mapping: the key's node and the value's node."""

    key: ScalarNode
    value: Node


@dataclass
class Sheet:
    """One rule file being checked: its label (as shown in locations) and the problems found."""

    file: str
    problems: list[Problem] = field(default_factory=list)

    def at(self, node: Node) -> Location:
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)

    def error(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.at(node), message))

    def error_at(self, line: int, column: int, message: str) -> None:
        self.problems.append(Problem(Location(self.file, line, column), message))

    def mapping(
        self,
        node: Node,
        label: str,
        allowed: Sequence[str] | None,
        required: Iterable[str] = (),
        what: str | None = None,
    ) -> dict[str, Entry] | None:
        """The keys of a mapping node, checked strictly.

        ``allowed=None`` means free-form names (GPU models, facility ids...). Unknown keys are
        reported at the key, repeated keys at the later one; missing required keys at the mapping.
        Returns None (after reporting) when the node is not a mapping.
        """
        what = what or label
        if not isinstance(node, MappingNode):
            if allowed:
                keys = ", ".join(allowed)
                self.error(node, f"{label}: expected a mapping with the keys {keys}, got {shown(node)}")
            else:
                self.error(node, f"{label}: expected a mapping of names to values, got {shown(node)}")
            return None
        entries: dict[str, Entry] = {}
        for key, value in node.value:
            if not is_text(key) or key.value == "":
                self.error(key, f"{label}: expected a name as key, got {shown(key)}")
                continue
            name = key.value
            if name in entries:
                first = entries[name].key.start_mark.line + 1
                self.error(key, f"{name}: this key is repeated; it was first given on line {first}")
                continue
            if allowed is not None and name not in allowed:
                hint = " (YAML merge keys are not supported)" if name == "<<" else ""
                expected = did_you_mean(name, allowed) or f"expected one of {', '.join(allowed)}"
                self.error(key, f"{name}: unknown key in {what}{hint}; {expected}")
                entries[name] = Entry(key, value)  # remembered for the repeat check only
                continue
            entries[name] = Entry(key, value)
        if allowed is not None:
            entries = {k: e for k, e in entries.items() if k in allowed}
            for name in required:
                if name not in entries:
                    self.error(node, f"{what} is missing the required key {name}")
        return entries

    def sequence(self, node: Node, label: str, of: str) -> list[Node] | None:
        """The items of a list node (null counts as an empty list)."""
        if is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            self.error(node, f"{label}: expected a list of {of}, got {shown(node)}")
            return None
        return list(node.value)


def read_yaml(sheet: Sheet, text: str) -> Node | None:
    """Compose one YAML document; a syntax error becomes a problem at the mark ruamel reports."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return YAML().compose(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        sheet.error_at(line, column, _syntax_message(exc))
    except ReaderError as exc:
        line, column = position_of(text, exc.position)
        sheet.error_at(line, column, f"this is not valid YAML: character {exc.character!r} is not allowed")
    except RecursionError:
        sheet.error_at(1, 1, "this is not valid YAML: it is nested too deeply")
    except Exception as exc:  # noqa: BLE001 - any other parser failure is still the file's fault
        sheet.error_at(1, 1, f"this is not valid YAML: {exc}")
    return None


def _syntax_message(exc: MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    message = "this is not valid YAML: " + ", ".join(parts)
    if exc.context and "block scalar" in exc.context:
        message += ' (a threshold such as ">= 1.25" must be written in quotes)'
    return message


def position_of(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index into text."""
    index = max(0, min(index, len(text)))
    before = text[:index]
    line = before.count("\n") + 1
    column = index - (before.rfind("\n") + 1) + 1
    return line, column
