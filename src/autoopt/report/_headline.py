"""The report's headline as a rich table for the terminal (the same rows as the page's summary)."""

from __future__ import annotations

import os

from rich.table import Table

from autoopt.report._run import RunData, read_run
from autoopt.report._tables import headline_rows

__all__ = ["headline"]


def headline(run_dir: str | os.PathLike[str] | RunData) -> Table:
    """The headline numbers of a run: best trial and metrics, compression's final row, model card.

    Args:
        run_dir: a run directory, or one already read with :func:`autoopt.report.read_run`.

    Raises:
        InvalidSpecError: ``run_dir`` is not a run directory.

    Example:
        >>> from rich.console import Console
        >>> Console().print(headline("runs/digits"))  # doctest: +SKIP
    """
    run = run_dir if isinstance(run_dir, RunData) else read_run(run_dir)
    rows = headline_rows(run)
    table = Table(title=rows.title)
    table.add_column("")
    table.add_column("value", justify="right")
    group = None
    for g, row in zip(rows.groups, rows.rows, strict=True):
        if g != group:
            if group is not None:
                table.add_section()
            table.add_row(f"[bold]{g}[/bold]", "")
            group = g
        table.add_row(f"  {row[0]}", row[1])
    return table
