"""Printing: result tables, the progress bar and errors (rich)."""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from optuna.study import Study
from optuna.trial import TrialState
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from autoopt.exceptions import AutoOptError, FatalSearchError, InvalidSpecError
from autoopt.io import writable_dir_problem
from autoopt.search import TuneResult

console = Console()
err_console = Console(stderr=True)


def fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def result_table(result: TuneResult, k: int = 10, title: str | None = None) -> Table:
    rows = result.top(k)
    multi = result.multi_objective
    table = Table(title=title or ("Pareto front" if multi else f"Top {min(k, len(rows))} trials"))
    table.add_column("trial", justify="right")
    for name, d in zip(result.metrics, result.directions, strict=False):
        table.add_column(f"{name} ({'max' if d == 'maximize' else 'min'})", justify="right")
    param_names: list[str] = []
    for r in rows:
        for p in r.params:
            if p not in param_names:
                param_names.append(p)
    for p in param_names:
        table.add_column(p)
    table.add_column("s", justify="right")
    for r in rows:
        vals = [fmt(v) for v in (r.values or [])]
        table.add_row(
            str(r.number),
            *vals,
            *[fmt(r.params[p]) if p in r.params else "-" for p in param_names],
            f"{r.duration_s:.1f}" if r.duration_s is not None else "-",
        )
    return table


def metrics_table(metrics: dict[str, Any], title: str) -> Table:
    """Test and validation metrics of a model, one row per key."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        if k.startswith(("test_", "val_")) or k in ("params", "macs"):
            table.add_row(k, fmt(v))
    return table


def print_summary(result: TuneResult, *, k: int = 10, as_json: bool = False, quiet: bool = False) -> None:
    if as_json:
        d = result.to_dict()
        d.pop("trials", None) if quiet else None
        print(json.dumps(d, default=str, indent=2))
        return
    counts = result.counts()
    console.print(result_table(result, k))
    console.print(
        "trials: "
        + ", ".join(f"{v} {k.lower()}" for k, v in sorted(counts.items()))
        + (" (interrupted)" if result.interrupted else "")
    )
    if not result.multi_objective:
        if result.best_trial is None:
            console.print("[yellow]no feasible complete trial yet[/yellow]")
        else:
            console.print(
                f"best: trial {result.best_trial.number}, {result.metrics[0]} = {fmt(result.best_value)}"
            )
            console.print(f"best params: {result.best_params}")


class RichProgress:
    """Trials done / total, best value so far and ETA, as a rich progress bar; while a trial trains,
    its epoch and last validation metric (``epoch 3/10 val_accuracy 0.91``)."""

    def __init__(self, label: str = "search") -> None:
        self._label = label
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"),
            TextColumn("{task.fields[epoch]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=False,
        )
        self._task: Any = None
        self._last = 0.0
        self.active = False
        self._metric = ""

    def start(self, total: int | None, done: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(self._label, total=total, completed=done, best="-", epoch="")
        self.active = True

    # -- the epochs of the trial being trained (an EpochListener, see EpochBars) --
    def epoch_start(self, epochs: int, metric: str) -> None:
        self._metric = metric
        self._progress.update(self._task, epoch=f"trial epoch 0/{epochs}")

    def epoch_done(self, epoch: int, epochs: int, record: Any) -> None:
        value = record.get(f"val_{self._metric}")
        shown = f" val_{self._metric} {fmt(value)}" if isinstance(value, (int, float)) else ""
        self._progress.update(self._task, epoch=f"trial epoch {epoch + 1}/{epochs}{shown}")

    def update(self, study: Study) -> None:
        now = time.time()
        if now - self._last < 0.2:
            return
        self._last = now
        trials = study.get_trials(deepcopy=False)
        done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) for t in trials)
        best = "-"
        if len(study.directions) == 1:
            vals = [
                t.value
                for t in trials
                if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
            ]
            if vals:
                best = fmt(max(vals) if study.direction.name == "MAXIMIZE" else min(vals))
        else:
            best = f"{len([t for t in trials if t.state == TrialState.COMPLETE])} complete"
        self._progress.update(self._task, completed=done, best=best)

    def stop(self) -> None:
        self._last = 0.0
        self.active = False
        if self._task is not None:
            self._progress.update(self._task, epoch="")
        self._progress.stop()


class EpochBars:
    """Epoch bars of every training run outside a search: the distilled student, compression
    fine-tuning, the NAS retraining, a retrained best model. During a search the epochs of the trial
    go to the search bar instead (``search``). ``stage`` names the bar (the CLI sets it as each
    stage starts). Register it with :func:`autoopt.training.listen_epochs`."""

    def __init__(self, search: RichProgress | None = None, stage: str = "train") -> None:
        self.search = search
        self.stage = stage
        self._progress: Progress | None = None
        self._task: Any = None
        self._metric = ""
        self.shown: list[tuple[str, int, int]] = []  # (stage, epochs run, epochs) of each bar shown

    def start(self, epochs: int, metric: str) -> None:
        if self.search is not None and self.search.active:
            self.search.epoch_start(epochs, metric)
            return
        self._metric = metric
        if self._progress is not None:  # a run inside a run: reuse the bar (one live display at a time)
            self._progress.update(self._task, description=self.stage, total=epochs, completed=0, metric="")
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("epoch {task.completed}/{task.total}"),
            TextColumn("{task.fields[metric]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(self.stage, total=epochs, metric="")

    def epoch(self, epoch: int, epochs: int, record: Any) -> None:
        if self._progress is None:
            if self.search is not None and self.search.active:
                self.search.epoch_done(epoch, epochs, record)
            return
        value = record.get(f"val_{self._metric}")
        shown = f"val_{self._metric} {fmt(value)}" if isinstance(value, (int, float)) else ""
        self._progress.update(self._task, completed=epoch + 1, metric=shown)

    def end(self) -> None:
        if self._progress is not None:
            task = self._progress.tasks[0]
            self.shown.append((str(task.description), int(task.completed), int(task.total or 0)))
            self._progress.stop()
            self._progress = None


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def error(msg: str) -> None:
    msg = escape(_ANSI.sub("", msg))  # a library's colour codes or [brackets] are not markup
    err_console.print(f"[bold red]error:[/bold red] {msg}", highlight=False, markup=True, soft_wrap=True)
    sys.stderr.flush()


def check_out(out: Path | None, key: str = "--out") -> None:
    """Refuse an output folder that is a file or cannot be written, before any work starts."""
    if out is None:
        return
    problem = writable_dir_problem(out)
    if problem is not None:
        raise InvalidSpecError(f"{key}: {problem}")


def _os_message(e: OSError) -> str:
    where = e.filename if e.filename is not None else None
    what = e.strerror or type(e).__name__
    return f"{where}: {what.lower()}" if where is not None else f"{type(e).__name__}: {e}"


def guard(fn: Callable[[], None]) -> None:
    """Run a command body; print autoopt's own errors as one clear message (no traceback)."""
    try:
        fn()
    except typer.Exit:
        raise
    except FatalSearchError as e:
        error(str(e))
        raise typer.Exit(1) from None
    except AutoOptError as e:
        error(str(e))
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        error("interrupted")
        raise typer.Exit(130) from None
    except OSError as e:  # a file or folder the OS refused (permissions, a full disk, a file for a folder)
        error(_os_message(e))
        raise typer.Exit(2) from None


def print_run_summary(res: Any) -> None:
    """``autoopt run``'s closing summary: the searched model and the shipped file side by side, the
    ratios, every flagged candidate, and the stages."""
    rows = res.summary
    if rows:
        metric = next((k for k in rows[0] if k.startswith("test_")), None)
        lat = sorted({k for r in rows for k in r if k.startswith("latency_b")}, key=lambda k: int(k[9:-3]))
        table = Table(title="searched model vs shipped file (final/model.onnx)")
        table.add_column("")
        table.add_column("model")
        table.add_column((metric or "test")[5:], justify="right")
        table.add_column("params", justify="right")
        table.add_column("KiB", justify="right")
        for k in lat:
            table.add_column(f"{k[8:-3]} ms", justify="right")
        for r in rows:
            table.add_row(
                r["role"].split()[0],
                f"{r['model']} ({r['precision']})",
                fmt(r.get(metric)) if metric else "-",
                f"{r['params']:,}",
                f"{r['size_bytes'] / 1024:.1f}",
                *[fmt(r.get(k)) for k in lat],
            )
        c = res.comparison or {}
        speed = ", ".join(
            f"b{b} {v:.2f}x" for b, v in sorted((c.get("speedup") or {}).items(), key=lambda x: int(x[0]))
        )
        drop = c.get("accuracy_drop")
        table.caption = (
            f"shipped vs searched: {fmt(drop) if drop is not None else '-'} "
            f"{'points lost' if metric == 'test_accuracy' else '% more error'}, "
            f"speed-up {speed or '-'}, file {fmt(c.get('size_ratio'))}x smaller"
        )
        console.print(table)
    for line in res.flags:
        console.print(f"[yellow]not shipped[/yellow] {line}", highlight=False)
    for stage, status in res.stages.items():
        console.print(f"  {stage:<9} {status}")
    if rows:
        console.print(
            f"deployable: {res.run_dir}/final/model.onnx ({rows[-1]['model']}, {rows[-1]['precision']})"
        )
    console.print(f"run directory: {res.run_dir}")
