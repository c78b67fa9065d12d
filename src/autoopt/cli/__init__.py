"""The ``autoopt`` command: parse arguments, call the library, print (typer + rich)."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import optuna
import typer

from autoopt import __version__
from autoopt.cli._output import (
    EpochBars,
    RichProgress,
    check_out,
    console,
    error,
    metrics_table,
    print_run_summary,
    print_summary,
)
from autoopt.cli._output import guard as _guard
from autoopt.cli._target import load_callable
from autoopt.exceptions import FatalSearchError, InvalidSpecError, NoCompleteTrialError
from autoopt.io import path_problem, redact_url, storage_url_for, write_json
from autoopt.search import TuneResult, check_jobs, tune
from autoopt.space import Space
from autoopt.training import listen_epochs

app = typer.Typer(
    name="autoopt",
    help="Automated deep-learning model optimization: search, train, compress, export, from one spec.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RUN_FILE = "run.json"


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@contextlib.contextmanager
def _trial_hint(run_dir: Path | None) -> Iterator[None]:
    """A search stopped by failing trials: say where the first failure's traceback is."""
    try:
        yield
    except FatalSearchError as e:
        number = getattr(e, "trial", None)
        if number is None or run_dir is None:
            raise
        hint = f" (its traceback: autoopt show {run_dir} --trial {number})"
        raise type(e)(f"{e}{hint}") from None


def _version(value: bool) -> None:
    if value:
        print(f"autoopt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@app.command("tune")
def tune_cmd(
    target: Annotated[
        str, typer.Argument(help="'file.py:function' / 'package.module:function' objective, or a spec YAML.")
    ],
    space: Annotated[Path | None, typer.Option(help="Search space YAML (for a Python objective).")] = None,
    strategy: Annotated[str | None, typer.Option(help="Search strategy (see 'autoopt list').")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Early stopping: none, median, asha, hyperband.")
    ] = None,
    trials: Annotated[int | None, typer.Option(help="Total trials of the study (resumes up to it).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds after which no new trial starts.")] = None,
    jobs: Annotated[int | None, typer.Option(help="Parallel trials, one process each.")] = None,
    deterministic: Annotated[bool, typer.Option(help="With --jobs: same seed, same trials.")] = False,
    seed: Annotated[int | None, typer.Option(help="Seed of the search.")] = None,
    direction: Annotated[str, typer.Option(help="minimize or maximize (one objective).")] = "minimize",
    directions: Annotated[
        str | None, typer.Option(help="Comma-separated directions (several objectives).")
    ] = None,
    metrics: Annotated[
        str | None, typer.Option(help="Comma-separated objective names (keys of a returned dict).")
    ] = None,
    constraint: Annotated[
        list[str] | None, typer.Option(help="e.g. 'params <= 200000' (repeatable).")
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help="Storage URL or file; default RUN_DIR/study.db.")
    ] = None,
    study: Annotated[str | None, typer.Option(help="Study name; default the function's name.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory; default runs/<study>.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Search hyperparameters of a Python objective, or tune a model from a spec YAML."""
    if target.endswith((".yaml", ".yml")):
        _guard(
            lambda: _tune_spec(
                Path(target),
                out,
                storage,
                quiet,
                as_json,
                trials=trials,
                timeout=timeout,
                jobs=jobs,
                seed=seed,
                strategy=strategy,
                scheduler=scheduler,
            )
        )
        return

    def run() -> None:
        check_jobs(jobs if jobs is not None else 1, storage)  # before the objective is imported
        check_out(out)
        if space is not None and path_problem(space) is not None:
            raise InvalidSpecError(f"--space: {path_problem(space)}")
        objective = load_callable(target, key="target")
        sp = Space.from_yaml(space) if space is not None else None
        name = study or getattr(objective, "__name__", "autoopt")
        run_dir = out or Path("runs") / name  # type: ignore[operator]
        check_out(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        store = storage or str(run_dir / "study.db")
        write_json(
            run_dir / RUN_FILE,
            {
                "autoopt": __version__,
                "kind": "tune",
                "target": target,
                "study": name,
                "storage": redact_url(storage_url_for(store)),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            },
        )
        progress = None if (quiet or as_json) else RichProgress(f"tune {name}")
        bars = None if progress is None else EpochBars(progress)  # an objective calling autoopt's fit
        with _trial_hint(run_dir), listen_epochs(bars):
            try:
                result = tune(
                    objective,
                    space=sp,
                    strategy=strategy or "auto",
                    scheduler=scheduler,
                    trials=trials if trials is not None else (None if timeout else 20),
                    timeout=timeout,
                    jobs=jobs if jobs is not None else 1,
                    deterministic=deterministic,
                    seed=seed,
                    direction=direction,
                    directions=_csv(directions),
                    metrics=_csv(metrics),
                    constraints=constraint or None,
                    storage=store,
                    study_name=name,
                    progress=progress,
                )
            except NoCompleteTrialError as e:
                if isinstance(e.result, TuneResult):  # every trial with its reason, for the record
                    write_json(run_dir / "result.json", e.result.to_dict())
                raise
        write_json(run_dir / "result.json", result.to_dict())
        print_summary(result, as_json=as_json)
        if not as_json:
            console.print(f"run directory: {run_dir}")
        if result.interrupted:
            raise typer.Exit(130)

    _guard(run)


def _tune_spec(
    path: Path, out: Path | None, storage: str | None, quiet: bool, as_json: bool, **overrides: object
) -> None:
    from autoopt.pipeline import load_config, tune_spec  # the deep-learning task: data, model, training

    check_out(out)
    spec = load_config(path, **overrides)  # type: ignore[arg-type]  # every spec error is listed first
    check_out(out or Path("runs") / spec.name)
    check_jobs(spec.search.jobs, storage or spec.search.storage)
    progress = None if (quiet or as_json) else RichProgress(f"tune {spec.name}")
    bars = None if progress is None else EpochBars(progress, stage="retrain best")
    with _trial_hint(out or Path("runs") / spec.name), listen_epochs(bars):
        res = tune_spec(spec, out=out, storage=storage, progress=progress)
    summary = {
        "run_dir": str(res.run_dir),
        "best_params": res.best_params,
        "metrics": res.metrics,
        "counts": res.search.counts(),
        "interrupted": res.search.interrupted,
    }
    if as_json:
        print(json.dumps(summary, default=str, indent=2))
    else:
        print_summary(res.search)
        if res.metrics:
            console.print(metrics_table(res.metrics, title=f"best model (trial {res.metrics.get('trial')})"))
            console.print(f"best model: {res.best_dir}/model.safetensors")
        console.print(f"run directory: {res.run_dir}")
    if res.search.interrupted:
        raise typer.Exit(130)


@app.command("run")
def run_cmd(
    spec: Annotated[
        Path, typer.Argument(help="The spec YAML: data, model, training, search, distill, compress.")
    ],
    out: Annotated[Path | None, typer.Option(help="Run directory; default runs/<name>.")] = None,
    from_stage: Annotated[
        str | None, typer.Option("--from", help="Force this stage and every later one.")
    ] = None,
    more_trials: Annotated[int | None, typer.Option(help="Extend the search by N trials.")] = None,
    trials: Annotated[int | None, typer.Option(help="Total trials of the search.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds after which no new trial starts.")] = None,
    jobs: Annotated[int | None, typer.Option(help="Parallel trials, one process each.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed.")] = None,
    storage: Annotated[str | None, typer.Option(help="Storage URL for the search.")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local worker processes of the search (same as --jobs).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Logs only, no live view.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary at the end.")] = False,
    force: Annotated[
        bool, typer.Option(help="The --out folder holds another spec's run: delete it and start fresh.")
    ] = False,
) -> None:
    """The main job: search -> (distill) -> (compress) -> export -> report, resumable.

    Every model the run makes is measured on the same test split and latency harness; the one shipped
    in final/ is never worse than the searched model by more than ship.max_accuracy_drop, nor slower.
    """

    def run() -> None:
        from autoopt.pipeline import load_config, run_spec

        if workers is not None and jobs is not None and workers != jobs:
            raise InvalidSpecError(f"--workers {workers} and --jobs {jobs}: give one of them")
        n_jobs = workers if workers is not None else jobs
        check_out(out)
        loaded = load_config(spec, trials=trials, timeout=timeout, jobs=n_jobs, seed=seed)  # errors first
        check_jobs(loaded.search.jobs, storage or loaded.search.storage)
        progress = None if (quiet or as_json) else RichProgress("search")
        bars = None if progress is None else EpochBars(progress)  # epochs of every stage's training

        def on_stage(stage: str, status: str) -> None:
            if bars is not None:
                bars.stage = stage
            if not as_json:
                err = console.print if not quiet else print
                err(f"[{status}] {stage}" if quiet else f"[bold]{stage}[/bold]: {status}")

        with _trial_hint(out or Path("runs") / loaded.name), listen_epochs(bars):
            res = run_spec(
                loaded,
                out=out,
                from_stage=from_stage,
                more_trials=more_trials,
                storage=storage,
                progress=progress,
                on_stage=on_stage,
                force=force,
            )
        summary = {
            "run_dir": str(res.run_dir),
            "stages": res.stages,
            "summary": res.summary,
            "comparison": res.comparison,
            "flags": res.flags,
            "metrics": res.metrics,
            "final": str(res.final_dir) if res.final_dir else None,
            "report": str(res.report) if res.report else None,
            "interrupted": res.interrupted,
        }
        if as_json:
            print(json.dumps(summary, indent=2, default=str))
        else:
            print_run_summary(res)
        if res.interrupted:
            raise typer.Exit(130)

    _guard(run)


@app.command("worker")
def worker_cmd(
    storage: Annotated[str, typer.Option(help="Storage URL of the study, e.g. postgresql://user@host/db.")],
    study: Annotated[str, typer.Option(help="Name of the study to join (the spec's name).")],
    out: Annotated[
        Path | None, typer.Option(help="Folder for trial checkpoints; default runs/<study>.")
    ] = None,
    jobs: Annotated[int, typer.Option(help="Local worker processes.")] = 1,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Join a running search from any machine: runs trials until the study's total is reached."""

    def run() -> None:
        from autoopt.pipeline import join_study

        progress = None if quiet else RichProgress(f"worker {study}")
        check_out(out)
        with listen_epochs(None if progress is None else EpochBars(progress)):
            res = join_study(storage, study, out=out, jobs=jobs, progress=progress)
        counts = res.counts()
        console.print(f"study {study}: " + ", ".join(f"{n} {k.lower()}" for k, n in counts.items()))
        if res.interrupted:
            raise typer.Exit(130)

    _guard(run)


@app.command("compress")
def compress_cmd(
    spec: Annotated[Path, typer.Argument(help="Spec YAML with a compress: section (the plan's steps).")],
    out: Annotated[Path | None, typer.Option(help="Run directory; default runs/<name>.")] = None,
    source: Annotated[Path | None, typer.Option(help="Tune run whose best model is compressed.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run a compression plan (prune, sparsity, finetune, quantize) and measure every step."""

    def run() -> None:
        from rich.table import Table

        from autoopt.compress._plan import TABLE_HEADER, format_rows
        from autoopt.pipeline import compress_spec

        check_out(out)
        bars = None if as_json else EpochBars(stage="compress fine-tuning")
        with listen_epochs(bars):
            res = compress_spec(spec, out=out, model_run=source)
        rows = res.plan.rows
        if as_json:
            print(
                json.dumps({"rows": [r.to_dict() for r in rows], "final": str(res.plan.final_path)}, indent=2)
            )
        else:
            table = Table(title=f"compression of {res.source} (ONNX Runtime, test split)")
            for h in TABLE_HEADER:
                table.add_column(h)
            reference = [res.plan.reference] if res.plan.reference is not None else []
            for r in format_rows([*rows, *reference]):
                table.add_row(*r)
            console.print(table)
            console.print(f"latency settings: {res.plan.settings.get('line', '')}")
            console.print(f"final model: {res.plan.final_path}")
        if rows[-1].flagged:
            error(
                f"the final model lost {rows[-1].accuracy_drop_pp:.2f} points of accuracy (more than allowed)"
            )
            raise typer.Exit(3)

    _guard(run)


@app.command("show")
def show_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (holds run.json and study.db).")],
    study: Annotated[str | None, typer.Option(help="Study name, when the storage holds several.")] = None,
    storage: Annotated[str | None, typer.Option(help="Storage URL, if not RUN_DIR/study.db.")] = None,
    top: Annotated[int, typer.Option(help="Rows to show.")] = 10,
    trial: Annotated[
        int | None, typer.Option(help="Show this trial: parameters, reason and traceback of a failure.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the best trials of a run (or one trial, with --trial N)."""

    def run() -> None:
        from autoopt.io import open_storage

        problem = path_problem(run_dir, "folder")
        if problem is not None:
            raise InvalidSpecError(f"run directory: {problem}")
        meta = {}
        if (run_dir / RUN_FILE).exists():
            meta = json.loads((run_dir / RUN_FILE).read_text())
        store = storage or str(run_dir / "study.db")
        if storage is None and not (run_dir / "study.db").exists():
            raise InvalidSpecError(
                f"{run_dir}: no study.db here; pass --storage URL if the study lives elsewhere"
            )
        st = open_storage(store)
        names = [s.study_name for s in optuna.get_all_study_summaries(st, include_best_trial=False)]
        name = study or meta.get("study") or (names[0] if len(names) == 1 else None)
        if name not in names:
            raise InvalidSpecError(
                f"--study: choose one of the studies in {store}: {', '.join(names) or '(none)'}"
            )
        s = optuna.load_study(study_name=name, storage=st)
        if trial is not None:
            _show_trial(s, trial, as_json)
            return
        cfg = s.user_attrs.get("autoopt:config", {})
        n_obj = len(s.directions)
        names_ = cfg.get("metrics") or (["value"] if n_obj == 1 else [f"value_{i}" for i in range(n_obj)])
        print_summary(TuneResult(study=s, metrics=names_), k=top, as_json=as_json)

    _guard(run)


def _show_trial(study: optuna.Study, number: int, as_json: bool) -> None:
    from autoopt.search._objective import REASON_ATTR, TRACEBACK_ATTR

    trials = study.get_trials(deepcopy=False)
    if not 0 <= number < len(trials):
        raise InvalidSpecError(
            f"--trial: study {study.study_name!r} has trials 0..{len(trials) - 1}, got {number}"
        )
    t = trials[number]
    info = {
        "number": t.number,
        "state": t.state.name,
        "values": t.values,
        "params": t.params,
        "reason": t.user_attrs.get(REASON_ATTR),
        "traceback": t.user_attrs.get(TRACEBACK_ATTR),
    }
    if as_json:
        print(json.dumps(info, default=str, indent=2))
        return
    for key in ("number", "state", "values", "params", "reason"):
        if info[key] is not None:
            print(f"{key}: {info[key]}")
    if info["traceback"]:
        print(info["traceback"].rstrip())


@app.command("list")
def list_cmd(
    kind: Annotated[str, typer.Argument(help="strategies, schedulers, models or datasets.")] = "strategies",
) -> None:
    """List registered names."""
    from autoopt.schedulers import list_schedulers
    from autoopt.strategies import list_strategies

    listers = {"strategies": list_strategies, "schedulers": list_schedulers}
    try:
        from autoopt.models import list_models

        listers["models"] = list_models
    except ImportError:
        pass
    try:
        from autoopt.data import list_datasets

        listers["datasets"] = list_datasets
    except ImportError:
        pass
    if kind not in listers:
        error(f"unknown kind {kind!r}; expected one of: {', '.join(listers)}")
        raise typer.Exit(2)
    for n in listers[kind]():
        print(n)


def _register_stage_commands() -> None:
    from autoopt.cli import _dashboard, _distill, _evaluate, _report, _search, _serve

    _dashboard.register(app)
    _distill.register(app)
    _evaluate.register(app)
    _report.register(app)
    _search.register(app)
    _serve.register(app)


_register_stage_commands()


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())  # type: ignore[func-returns-value]
