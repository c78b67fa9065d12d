"""``autoopt report``: write a run directory's HTML report and print its headline table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autoopt.cli._output import console
from autoopt.cli._output import guard as _guard

__all__ = ["report_cmd", "register"]


def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (tune, compress, distill, export).")],
    out: Annotated[Path | None, typer.Option(help="HTML file to write; default RUN_DIR/report.html.")] = None,
) -> None:
    """Write a self-contained HTML report of a run and print its headline numbers."""

    def run() -> None:
        from autoopt.report import headline, read_run, write_report

        data = read_run(run_dir)  # read once for the page and the table
        path = write_report(data, out=out)
        console.print(headline(data))
        console.print(f"report: {path}")

    _guard(run)


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``autoopt`` app.

    Example:
        >>> import typer
        >>> app = typer.Typer()
        >>> register(app)
    """
    app.command("report")(report_cmd)
