"""benchmarks/text_docstrings_data.py on a fake installed package: docstrings parsed (not imported),
names masked, texts shared by two libraries dropped, de-duplicated, capped per library."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "text_docstrings_data", ROOT / "benchmarks" / "text_docstrings_data.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_package(root: Path, name: str, docs: list[str]) -> None:
    pkg = root / name
    (pkg / "tests").mkdir(parents=True)
    body = [
        f'"""Module doc of {name}: a long enough module docstring here."""',
        "raise SystemExit('imported!')",
    ]
    for i, d in enumerate(docs):
        body.append(f"def f{i}():\n    {d!r}\n")
    (pkg / "__init__.py").write_text("\n".join(body))
    (pkg / "tests" / "test_x.py").write_text(
        "def t():\n    'A test docstring that must be skipped entirely.'\n"
    )


def test_builds_a_clean_balanced_csv(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = "This docstring is copied verbatim into both libraries, so it is dropped."
    make_package(
        tmp_path, "alpha", ["Compute the alpha transform of an array, see alpha.core.", shared, "short"]
    )
    make_package(
        tmp_path, "beta", ["Fit the beta estimator to the training data and return self.", shared] * 2
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    rows, stats = script.build_rows(["alpha", "beta", "missing_lib"], per_library=10, seed=0)
    texts = {t: lib for t, lib in rows}
    assert "alpha" not in sys.modules  # parsed, never imported
    assert set(stats) == {"alpha", "beta"}
    assert "Compute the LIB transform of an array, see LIB.core." in texts
    assert not any("copied verbatim" in t for t in texts)  # in both libraries: dropped
    assert not any("test docstring" in t for t in texts)  # tests/ skipped
    assert not any(t == "short" for t in texts)  # under min_chars
    # The repeated docstring is kept once; the module docs are the same text once masked: dropped.
    assert list(texts.values()).count("beta") == 1
    assert stats["beta"]["shared_dropped"] == 2
    capped, _ = script.build_rows(["alpha", "beta"], per_library=1, seed=0)
    assert sorted(lib for _, lib in capped) == ["alpha", "beta"]
    out = script.write_csv(rows, tmp_path / "d.csv")
    with out.open() as f:
        read = list(csv.reader(f))
    assert read[0] == ["text", "library"] and len(read) == len(rows) + 1


def test_mask_names_is_whole_word(script: ModuleType) -> None:
    assert (
        script.mask_names("np.sum and numpy, not numpyish", {"np", "numpy"})
        == "LIB.sum and LIB, not numpyish"
    )
