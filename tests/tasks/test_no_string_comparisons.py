"""Nothing outside ``autoopt.tasks`` compares the task kind as a string: it asks the kind."""

from __future__ import annotations

import ast
from pathlib import Path

import autoopt
from autoopt.tasks import list_tasks

SRC = Path(autoopt.__file__).parent
KINDS = frozenset(list_tasks())


def _names_in(node: ast.AST) -> list[str]:
    """Kind names written as string constants in ``node`` (or in a tuple/list/set literal)."""
    items = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return [i.value for i in items if isinstance(i, ast.Constant) and i.value in KINDS]


def offences(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for each comparison with, or table keyed by, a task kind's name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                found += [(node.lineno, f"compares with {n!r}") for n in _names_in(side)]
        elif isinstance(node, ast.Dict):
            found += [
                (node.lineno, f"a table keyed by {k.value!r}")
                for k in node.keys
                if isinstance(k, ast.Constant) and k.value in KINDS
            ]
        elif isinstance(node, ast.match_case):
            found += [(node.pattern.lineno, f"matches {n!r}") for n in _pattern_names(node.pattern)]
    return found


def _pattern_names(pattern: ast.pattern) -> list[str]:
    if isinstance(pattern, ast.MatchValue):
        return _names_in(pattern.value)
    if isinstance(pattern, ast.MatchOr):
        return [n for p in pattern.patterns for n in _pattern_names(p)]
    return []


def test_the_scanner_catches_each_form() -> None:
    bad = """
if meta.task == "classification": pass
if "regression" != task: pass
ok = task in ("classification", "unknown")
table = {"regression": 1}
match task:
    case "classification" | "other":
        pass
"""
    assert [line for line, _ in offences(bad)] == [2, 3, 4, 5, 7]
    fine = (
        'meta = DatasetMeta("toy", "classification", (4,))\n'
        "if kind.has_classes: pass\n"
        'card = {"task": "regression"}\n'
    )
    assert offences(fine) == []


def test_no_task_kind_string_comparisons_outside_tasks() -> None:
    files = [p for p in SRC.rglob("*.py") if "tasks" not in p.relative_to(SRC).parts[:1]]
    assert len(files) > 100  # the scan really reads the package
    bad = [
        f"{path.relative_to(SRC.parent)}:{line}: {what}"
        for path in files
        for line, what in offences(path.read_text(encoding="utf-8"))
    ]
    assert not bad, "ask the TaskKind (autoopt.tasks) instead of comparing its name:\n" + "\n".join(bad)
