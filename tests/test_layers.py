"""The layers of ARCHITECTURE.md hold: imports point down only, the sideways imports inside a layer are the
listed ones, and the packages' imports form no cycle."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import autoopt

SRC = Path(autoopt.__file__).parent

LAYERS = {
    4: {"cli", "__main__"},
    3: {"pipeline", "report", "serve"},
    2: {"search", "nas", "training", "distill", "compress", "evaluate", "export"},
    1: {
        "spec", "space", "strategies", "schedulers", "data", "models", "tasks", "metrics", "io",
        "exceptions", "_registry", "_validation", "testing",
    },
}  # fmt: skip
RANK = {pkg: rank for rank, pkgs in LAYERS.items() for pkg in pkgs}

# Imports between packages of the same layer above the ground floor (the ground floor only has to be acyclic).
SIDEWAYS = {
    "__main__": {"cli"},
    "pipeline": {"report"},
    "nas": {"search", "training", "evaluate"},
    "search": {"training"},
    "distill": {"training", "search"},
    "compress": {"training", "evaluate", "distill", "export"},
    "export": {"evaluate"},
}


def package_imports() -> dict[str, dict[str, str]]:
    """``{package: {imported package: first file that imports it}}`` over every import in ``src/autoopt``."""
    edges: dict[str, dict[str, str]] = defaultdict(dict)
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts == ("__init__.py",):
            continue  # the package facade re-exports the public API
        pkg = rel.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "autoopt" and len(parts) > 1 and parts[1] != pkg:
                    edges[pkg].setdefault(parts[1], str(rel))
    return edges


def test_every_package_has_a_layer() -> None:
    packages = {
        p.name.removesuffix(".py") for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert packages - {"__init__", "py"} <= set(RANK), sorted(packages - set(RANK) - {"__init__"})


def layer_problems(edges: dict[str, dict[str, str]]) -> list[str]:
    wrong = []
    for pkg, targets in edges.items():
        for target, where in targets.items():
            up = RANK[target] > RANK[pkg]
            sideways = RANK[target] == RANK[pkg] > 1 and target not in SIDEWAYS.get(pkg, set())
            if up or sideways:
                wrong.append(f"{where}: {pkg} (layer {RANK[pkg]}) imports {target} (layer {RANK[target]})")
    return wrong


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, node])):
                return cycle
        state[node] = 2
        return None

    for pkg in sorted(edges):
        if pkg not in state and (cycle := visit(pkg, [])):
            return cycle
    return None


def test_imports_point_down_or_sideways_as_listed() -> None:
    wrong = layer_problems(package_imports())
    assert not wrong, "\n".join(wrong)


def test_package_imports_form_no_cycle() -> None:
    cycle = find_cycle({pkg: set(targets) for pkg, targets in package_imports().items()})
    assert cycle is None, " -> ".join(cycle or [])


def test_the_checks_catch_wrong_imports() -> None:
    assert layer_problems({"training": {"pipeline": "training/x.py"}}) == [
        "training/x.py: training (layer 2) imports pipeline (layer 3)"
    ]
    assert layer_problems({"export": {"compress": "export/y.py"}}) == [
        "export/y.py: export (layer 2) imports compress (layer 2)"
    ]
    assert layer_problems({"compress": {"export": "c.py"}, "data": {"tasks": "d.py"}}) == []
    assert find_cycle({"data": {"tasks"}, "tasks": {"metrics"}, "metrics": {"data"}}) == [
        "data", "tasks", "metrics", "data"
    ]  # fmt: skip
    assert find_cycle({"data": {"tasks"}, "tasks": {"metrics"}}) is None
