"""The report opened in a real headless browser (Debian's chromium): every plot renders, no JS error."""

from __future__ import annotations

import re
from pathlib import Path

from autoopt.report import write_report

from ._browser import run_chromium

# Plotly's parallel coordinates draw with WebGL: software rendering in a GPU-less container.
WEBGL = ("--enable-unsafe-swiftshader", "--use-angle=swiftshader")


def test_report_renders_in_headless_chromium(run_dir: Path, chromium: str, tmp_path: Path) -> None:
    page = write_report(run_dir, out=tmp_path / "report.html")
    figures = int(re.search(r'data-figures="(\d+)"', page.read_text()).group(1))
    assert figures >= 6

    res = run_chromium(
        chromium,
        page,
        tmp_path / "profile",
        *WEBGL,
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    # Each drawn figure: plotly marks its div js-plotly-plot and adds its main-svg layers.
    assert len(re.findall(r'class="[^"]*\bjs-plotly-plot\b', dom)) == figures
    assert len(re.findall(r'class="main-svg"', dom)) >= figures
    assert f'data-rendered="{figures}"' in dom  # counted by the page's last script: it ran to the end
    errors = re.search(r'<div id="js-errors">(.*?)</div>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == "", errors.group(1) if errors else dom[:500]
    console = [ln for ln in res.stderr.splitlines() if "CONSOLE" in ln]
    assert not [ln for ln in console if "Uncaught" in ln or "ERROR:CONSOLE" in ln], console

    shot = tmp_path / "report.png"
    res = run_chromium(
        chromium,
        page,
        tmp_path / "profile",
        *WEBGL,
        "--virtual-time-budget=10000",
        "--window-size=1280,4000",
        f"--screenshot={shot}",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
