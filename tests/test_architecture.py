"""The code's structure, as DESIGN.md draws it: every top-level part imports only the layers below it, nothing
imports in a circle, and the engine's parts never reach back up to the facade."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hedgestack"

#: what each top-level part may import (besides itself); every top-level module or package must be listed
ALLOWED: dict[str, set[str]] = {
    "progress": set(),
    "domain": set(),
    "store": {"domain", "progress"},
    "venue": {"domain", "progress"},
    "engine": {"domain", "store", "venue", "progress"},
    "analytics": {"store", "domain"},
    "api": {"engine", "domain", "progress"},
    "client": {"engine", "domain", "api"},
    "ui": {"engine", "domain"},
    "quickstart": {"engine", "domain"},
    "bench": {"engine", "store", "domain", "venue", "progress"},
    "soak": {"engine", "store", "domain", "venue", "progress", "bench"},
    "serve": {"api", "engine", "ui", "venue", "domain", "client", "progress"},
    "cli": {"*"},
    "__init__": {"*"},
    "__main__": {"*"},
}


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> Iterator[str]:
    """Every hedgestack module ``path`` imports, at any depth (function-local imports included)."""
    tree = ast.parse(path.read_text())
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module
            for alias in node.names:  # `from hedgestack.engine import answers` imports a module
                yield f"{module}.{alias.name}"


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_top_level_part_has_a_place() -> None:
    parts = {_part(p) for p in _sources()}
    assert parts <= set(ALLOWED), f"new top-level parts need a layer here: {sorted(parts - set(ALLOWED))}"


def test_layers_import_downward_only() -> None:
    problems = []
    for path in _sources():
        part = _part(path)
        allowed = ALLOWED[part]
        for name in _imports(path):
            bits = name.split(".")
            if bits[0] != "hedgestack" or len(bits) < 2:
                continue
            target = bits[1]
            if target not in ALLOWED or target == part or "*" in allowed:
                continue
            if target not in allowed:
                problems.append(f"{path.relative_to(ROOT)} ({part}) imports {name}")
    assert problems == []


def _graph(prefix: str) -> dict[str, set[str]]:
    modules = {_module(p): p for p in _sources() if _module(p).startswith(prefix)}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for name in _imports(path):
            if name in modules and name != module:
                graph[module].add(name)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("prefix", ["hedgestack"])
def test_no_import_circles(prefix: str) -> None:
    graph = _graph(prefix)
    # a package's __init__ re-exporting its own modules is not a circle of parts
    for module in graph:
        graph[module] = {m for m in graph[module] if not module.startswith(m + ".")}
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])


def test_no_engine_part_imports_the_facade() -> None:
    graph = _graph("hedgestack.engine")
    users = sorted(m for m, deps in graph.items() if "hedgestack.engine.terminal" in deps)
    assert users == []


def test_the_detector_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
