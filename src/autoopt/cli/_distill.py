"""``autoopt distill SPEC.yaml``: parse, call the distill pipeline, print the comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from autoopt.cli._output import EpochBars, RichProgress, check_out, console, fmt, guard, print_summary
from autoopt.training import listen_epochs

__all__ = ["distill_cmd", "register"]


def _table(rows: list[dict[str, object]], title: str) -> Table:
    columns = ("model", "params", "test_accuracy", "test_errors")
    table = Table(title=title)
    for name in columns:
        table.add_column(name, justify="left" if name == "model" else "right")
    for row in rows:
        table.add_row(*(fmt(row[k]) if row.get(k) is not None else "-" for k in columns))
    return table


def distill_cmd(
    spec: Annotated[
        Path, typer.Argument(help="Spec YAML with a distill: section (teacher, student, alpha, T).")
    ],
    out: Annotated[Path | None, typer.Option(help="Run directory; default runs/<spec name>.")] = None,
    trials: Annotated[int | None, typer.Option(help="Trials of a search over distill.*/training.*.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds after which no new trial starts.")] = None,
    jobs: Annotated[int | None, typer.Option(help="Parallel trials, one process each.")] = None,
    strategy: Annotated[str | None, typer.Option(help="Search strategy (see 'autoopt list').")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Early stopping: none, median, asha, hyperband.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the run (overrides the spec's).")] = None,
    storage: Annotated[
        str | None, typer.Option(help="Storage URL of the search; default RUN_DIR/distill/study.db.")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Train a small student from a teacher's soft targets (knowledge distillation)."""
    from autoopt.pipeline._distill import check_distill_spec, distill_spec

    overrides: dict[str, Any] = dict(
        trials=trials, timeout=timeout, jobs=jobs, strategy=strategy, scheduler=scheduler, seed=seed
    )

    def run() -> None:
        check_out(out)
        checked, _ = check_distill_spec(spec, **overrides)  # every spec error before anything runs
        progress = None if (quiet or as_json) else RichProgress(f"distill {checked.name}")
        bars = None if progress is None else EpochBars(progress, stage="distill")
        with listen_epochs(bars):
            res = distill_spec(checked, out=out, progress=progress, storage=storage)
        interrupted = res.search is not None and res.search.interrupted
        if as_json:
            summary = {
                "run_dir": str(res.run_dir),
                "stage_dir": str(res.stage_dir),
                "params": res.params,
                "metrics": res.metrics,
                "counts": res.search.counts() if res.search is not None else None,
                "interrupted": interrupted,
            }
            print(json.dumps(summary, default=str, indent=2))
        else:
            if res.search is not None:
                print_summary(res.search)
            if res.metrics:
                m = res.metrics
                title = f"distillation (alpha={fmt(m['alpha'])}, T={fmt(m['temperature'])})"
                console.print(_table(res.rows(), title))
                console.print(f"student: {res.stage_dir}/model.safetensors")
            console.print(f"run directory: {res.run_dir}")
        if interrupted:
            raise typer.Exit(130)

    guard(run)


def register(app: typer.Typer) -> None:
    """Add ``distill`` to the ``autoopt`` app.

    Example:
        >>> import typer
        >>> app = typer.Typer()
        >>> register(app)
    """
    app.command("distill")(distill_cmd)
