"""The package imports in one direction: a module imports only modules of its own layer or of
layers below it (docs/design.md, "What may import what"), and no modules import each other in
a circle. Every import counts: at the top, inside a function, and under ``TYPE_CHECKING``.

A layer "plugs into" a lower one by registration instead (the file format's registries of model
classes and components, the batch-source protocol), so a new circle fails here, naming it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "scratchnn"


def _module_name(path: Path) -> tuple[str, list[str]]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), parts
    return ".".join(parts), parts[:-1]


def import_graph() -> dict[str, set[str]]:
    """``{module: modules it imports}`` over the package (``scratchnn.layers.dense``, ...)."""
    files = {_module_name(path)[0]: path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = _module_name(path)[1]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(package[: len(package) - node.level + 1])
                    source = f"{base}.{node.module}" if node.module else base
                else:
                    source = node.module or ""
                if not source.startswith("scratchnn"):
                    continue
                for alias in node.names:  # `from . import losses` imports the module losses
                    found.add(
                        f"{source}.{alias.name}" if f"{source}.{alias.name}" in files else source
                    )
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith("scratchnn")}
        resolved = set()
        for target in found:
            while target not in files and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != name and target in files:
                resolved.add(target)
        graph[name] = resolved
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def declared_layers() -> dict[str, int]:
    """``{top-level module or package: its layer}`` from docs/design.md's numbered list."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text.split("## What may import what", 1)[1].split("\n## ", 1)[0]
    ranks = {}
    for line in section.splitlines():
        match = re.match(r"(\d+)\. (.*)", line.strip())
        if match:
            for name in re.findall(r"`([\w.]+)`", match.group(2)):
                ranks[name] = int(match.group(1))
    return ranks


def _unit(module: str) -> str:
    """The top-level module or subpackage a module belongs to: ``layers`` for
    ``scratchnn.layers.dense``; ``scratchnn`` for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "scratchnn"


def test_no_modules_import_each_other_in_a_circle():
    found = circles(import_graph())
    graph = import_graph()
    described = [
        "; ".join(f"{m} -> {', '.join(sorted(graph[m] & set(c)))}" for m in c) for c in found
    ]
    assert not found, "Import circles:\n" + "\n".join(described)


def test_every_import_goes_to_the_same_layer_or_below():
    ranks = declared_layers()
    graph = import_graph()
    units = {_unit(module) for module in graph}
    assert units <= set(ranks), f"docs/design.md places no layer for {sorted(units - set(ranks))}"
    upward = sorted(
        f"{module} (layer {ranks[_unit(module)]}) imports {target} (layer {ranks[_unit(target)]})"
        for module, targets in graph.items()
        for target in targets
        if ranks[_unit(target)] > ranks[_unit(module)]
    )
    assert not upward, "Imports against the layering:\n" + "\n".join(upward)


def test_the_checker_finds_a_circle_and_an_upward_import():
    """The checks above can fail: a made-up graph with a circle and an upward edge."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("core", ["model", "training", "io", "batches", "preparation"])
def test_the_core_never_imports_the_front_ends_or_adapters(core):
    graph = import_graph()
    reached, todo = set(), [f"scratchnn.{core}"]
    while todo:
        for target in graph[todo.pop()] - reached:
            reached.add(target)
            todo.append(target)
    banned = {"tables", "streaming", "cli", "sklearn", "onnx", "plot", "playground", "distributed"}
    assert not {_unit(module) for module in reached} & banned, sorted(reached)
