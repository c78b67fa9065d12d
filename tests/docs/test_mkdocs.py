"""The documentation site builds without warnings (``mkdocs build --strict``)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _nav_pages() -> list[str]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages: list[str] = []

    def walk(item: object) -> None:
        if isinstance(item, str):
            pages.append(item)
        elif isinstance(item, dict):
            for v in item.values():
                walk(v)
        elif isinstance(item, list):
            for v in item:
                walk(v)

    walk(config["nav"])
    return pages


def test_nav_lists_every_docs_page() -> None:
    listed = set(_nav_pages())
    on_disk = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert on_disk <= listed, f"pages missing from mkdocs.yml nav: {sorted(on_disk - listed)}"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed")
@pytest.mark.skipif(
    importlib.util.find_spec("material") is None, reason="mkdocs-material (the theme) is not installed"
)
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    missing = [p for p in _nav_pages() if not (ROOT / "docs" / p).is_file()]
    if missing:
        pytest.skip(f"pages in the nav not written yet: {', '.join(missing)}")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "spec-reference" / "index.html").is_file()
