"""The shape of bot/ (docs/architecture.md): imports between its first-level units go one way, few
imports hide inside functions, and one module builds engines.

A first-level unit is a package right under bot/ (``bot.usecases``) or a module there
(``bot.bootstrap``). Every import counts, at module level or inside a function: an import moved
into a function to dodge a cycle is still an arrow.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
CLI_LAYER = {"cli", "commands"}  # the command line may import lazily, to start fast
MAX_IMPORTS_IN_FUNCTIONS = 25  # below the command line
# No cycle is allowed (issue 12 removed the last one, alerts ⇄ notify).
ALLOWED_CYCLES: list[set[str]] = []


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "bot" else None


def _modules() -> list[tuple[str, ast.Module]]:
    out = []
    for path in sorted(BOT.rglob("*.py")):
        parts = path.relative_to(BOT.parent).with_suffix("").parts
        out.append((".".join(p for p in parts if p != "__init__"), ast.parse(path.read_text(encoding="utf-8"))))
    return out


def _imported_units(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {u for a in node.names if (u := _unit(a.name))}
    if node.level or not node.module:
        return set()
    if node.module == "bot":
        return {a.name for a in node.names}
    return {u for u in [_unit(node.module)] if u}


def _walk(tree: ast.AST):
    """(import node, inside a function?) for every import of a module."""
    stack = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            stack.append((child, nested))


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, tree in _modules():
        source = _unit(module)
        for node, _ in _walk(tree):
            for target in _imported_units(node):
                if source and target != source:
                    edges[source].add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_first_level_units_of_bot_import_one_way():
    edges = _graph()
    cycles = [c for c in _cycles(edges) if c not in ALLOWED_CYCLES]
    described = ["; ".join(f"{a} → {', '.join(sorted(edges[a] & c))}" for a in sorted(c)) for c in cycles]
    assert not cycles, "import cycles between bot's first-level units: " + " | ".join(described)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_few_imports_hide_inside_functions_below_the_command_line():
    hidden = [f"{module}:{node.lineno}: {ast.unparse(node)}"
              for module, tree in _modules() if _unit(module) not in CLI_LAYER
              for node, in_function in _walk(tree) if in_function]
    assert len(hidden) <= MAX_IMPORTS_IN_FUNCTIONS, "\n".join(sorted(hidden))


def test_one_module_creates_engines_and_three_at_most_open_the_database():
    def calling(*names: str) -> set[str]:
        out = set()
        for module, tree in _modules():
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    f = node.func
                    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
                    if name in names:
                        out.add(module)
        return out

    assert calling("create_engine") == {"bot.store.db"}
    # the store (which defines them), the composition root, and Alembic's env for its own command line
    assert calling("create_engine", "make_engine", "open_database") <= {
        "bot.store.db", "bot.bootstrap", "bot.migrations.env"}
