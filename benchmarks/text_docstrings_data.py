"""Issue 18 data: a real text-classification set built offline from installed libraries' docstrings.

Task: given a docstring, which library is it from (numpy, torch, sklearn, pandas, scipy, optuna, ...)?

    .venv/bin/python benchmarks/text_docstrings_data.py [--out benchmarks/.cache/docstrings.csv]
        [--libraries numpy torch sklearn pandas scipy optuna] [--per-library 1500] [--seed 0]

How it is built (no library is imported, so nothing runs but the parser):
- each library's ``.py`` files are found through ``importlib.util.find_spec`` and parsed with ``ast``;
  the docstrings of modules, classes and functions (``ast.get_docstring``, cleaned) are collected;
  tests (``tests/`` folders, ``test_*.py``) and vendored code (``_vendor``, ``externals``) are skipped;
- whitespace is collapsed; docstrings shorter than ``--min-chars`` (40) are dropped and longer ones
  are cut to ``--max-chars`` (600) characters;
- the names that give the answer away are masked with ``LIB`` (the library's import names and
  common aliases: ``np``, ``pd``, ``torch``, ``sklearn``, ...; ``--keep-names`` turns this off);
- de-duplication: a text that occurs more than once keeps one row; a text found in two libraries
  (copied code) is dropped from both, so its label is never ambiguous;
- at most ``--per-library`` rows per library, a seeded sample (rows sorted first, so the same
  installed versions and seed give the same file).

The split is not in the file: ``autoopt`` splits it with ``data.split`` (seeded, stratified by
library; ``examples/text_docstrings.yaml`` uses 70/15/15 with ``data.seed``). Columns: ``text``,
``library``. The file goes to ``benchmarks/.cache/`` (git-ignored) unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib.util
import random
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / ".cache" / "docstrings.csv"
DEFAULT_LIBRARIES = ("numpy", "torch", "sklearn", "pandas", "scipy", "optuna")
#: names (besides the import name) that say which library a text is from.
ALIASES = {
    "numpy": ("np", "NumPy", "numpy"),
    "torch": ("torch", "PyTorch", "pytorch"),
    "sklearn": ("sklearn", "scikit-learn", "scikit", "Scikit-learn"),
    "pandas": ("pd", "pandas", "Pandas"),
    "scipy": ("scipy", "SciPy"),
    "optuna": ("optuna", "Optuna"),
}
SKIP_PARTS = {"tests", "test", "testing", "_vendor", "vendor", "externals", "_build", "benchmarks"}


def library_root(name: str) -> Path | None:
    """The package folder of an installed library, or ``None`` when it is not installed."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def docstrings_of_file(path: Path) -> Iterator[str]:
    """The docstrings of a module and of its classes and functions (nested too), in source order."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield doc


def mask_names(text: str, names: set[str]) -> str:
    """Replace every whole-word occurrence of ``names`` by ``LIB``."""
    if not names:
        return text
    pattern = (
        r"(?<![\w-])(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")(?![\w-])"
    )
    return re.sub(pattern, "LIB", text)


def library_texts(name: str, *, min_chars: int, max_chars: int, mask: set[str]) -> list[str]:
    """Cleaned, masked docstrings of one library (duplicates kept; the caller de-duplicates)."""
    root = library_root(name)
    if root is None:
        return []
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts
        if SKIP_PARTS.intersection(rel[:-1]) or rel[-1].startswith("test_"):
            continue
        for doc in docstrings_of_file(path):
            text = " ".join(doc.split())
            if len(text) < min_chars:
                continue
            out.append(mask_names(text[:max_chars], mask))
    return out


def build_rows(
    libraries: list[str],
    *,
    per_library: int,
    seed: int,
    min_chars: int = 40,
    max_chars: int = 600,
    keep_names: bool = False,
) -> tuple[list[tuple[str, str]], dict[str, dict[str, int]]]:
    """``(text, library)`` rows, de-duplicated and balanced, and counts per library for the log."""
    mask: set[str] = set()
    if not keep_names:
        for lib in libraries:
            mask.update(ALIASES.get(lib, (lib,)))
            mask.add(lib)
    found: dict[str, list[str]] = {}
    for lib in libraries:
        texts = library_texts(lib, min_chars=min_chars, max_chars=max_chars, mask=mask)
        if texts:
            found[lib] = texts
    owners: dict[str, set[str]] = {}
    for lib, texts in found.items():
        for t in texts:
            owners.setdefault(t, set()).add(lib)
    rows: list[tuple[str, str]] = []
    stats: dict[str, dict[str, int]] = {}
    rng = random.Random(seed)
    for lib, texts in found.items():
        unique = sorted({t for t in texts if len(owners[t]) == 1})
        shared = len({t for t in texts if len(owners[t]) > 1})
        picked = unique if len(unique) <= per_library else rng.sample(unique, per_library)
        rows += [(t, lib) for t in sorted(picked)]
        stats[lib] = {
            "docstrings": len(texts),
            "unique": len(unique),
            "shared_dropped": shared,
            "kept": len(picked),
        }
    return rows, stats


def write_csv(rows: list[tuple[str, str]], out: Path) -> Path:
    """Write ``rows`` as a CSV with the header ``text,library`` (atomically)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "library"])
        writer.writerows(rows)
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--libraries", nargs="+", default=list(DEFAULT_LIBRARIES))
    parser.add_argument("--per-library", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-chars", type=int, default=40)
    parser.add_argument("--max-chars", type=int, default=600)
    parser.add_argument("--keep-names", action="store_true", help="do not mask library names")
    args = parser.parse_args(argv)
    rows, stats = build_rows(
        args.libraries,
        per_library=args.per_library,
        seed=args.seed,
        min_chars=args.min_chars,
        max_chars=args.max_chars,
        keep_names=args.keep_names,
    )
    missing = [lib for lib in args.libraries if lib not in stats]
    if missing:
        print(f"not installed (skipped): {', '.join(missing)}", file=sys.stderr)
    if len(stats) < 2:
        print(f"need docstrings of at least 2 libraries, found {len(stats)}", file=sys.stderr)
        return 1
    write_csv(rows, args.out)
    for lib, s in stats.items():
        print(f"{lib:10s} {s}")
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
