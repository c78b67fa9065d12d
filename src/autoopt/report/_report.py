"""``write_report``: a run directory's self-contained HTML page."""

from __future__ import annotations

import os
from pathlib import Path

from autoopt.io import atomic_write_text
from autoopt.report._html import page_html
from autoopt.report._run import RunData, read_run
from autoopt.report._sections import build_sections

__all__ = ["write_report", "render_report", "REPORT_FILE"]

REPORT_FILE = "report.html"


def render_report(run: RunData) -> str:
    """The report of a read run directory, as one HTML string (plotly.js inlined)."""
    parts = [p for p in ("spec", "study", "trials", "best", "compress", "distill", "card") if _has(run, p)]
    subtitle = f"{run.run_dir} - parts found: {', '.join(parts) or 'none'}"
    return page_html(f"autoopt report: {run.name}", subtitle, build_sections(run))


def _has(run: RunData, part: str) -> bool:
    return bool(
        {
            "spec": run.spec,
            "study": run.study,
            "trials": run.histories,
            "best": run.best_metrics,
            "compress": run.compress_rows,
            "distill": run.distill,
            "card": run.card,
        }[part]
    )


def write_report(
    run_dir: str | os.PathLike[str] | RunData, *, out: str | os.PathLike[str] | None = None
) -> Path:
    """Write the HTML report of a run directory.

    The page needs no network: plotly.js is embedded once. It shows the optimization history, the
    parameter importances, parallel coordinates, the Pareto front (the study's with several objectives;
    the compressed and exported models' accuracy vs size and latency), learning curves of the top
    trials, the compression and distillation tables, the best model's confusion matrix on the test split
    and the model card. A part the run lacks is replaced by a one-line note.

    Args:
        run_dir: the run directory (``autoopt tune`` / ``compress`` / ``distill`` / ``export``), or
            one already read with :func:`autoopt.report.read_run`.
        out: the HTML file to write (default ``RUN_DIR/report.html``).

    Returns:
        The path of the written page.

    Raises:
        InvalidSpecError: ``run_dir`` is not a run directory.

    Example:
        >>> from autoopt.report import write_report
        >>> write_report("runs/digits")  # doctest: +SKIP
        PosixPath('runs/digits/report.html')
    """
    run = run_dir if isinstance(run_dir, RunData) else read_run(run_dir)
    path = Path(out) if out is not None else run.run_dir / REPORT_FILE
    atomic_write_text(path, render_report(run))
    return path
