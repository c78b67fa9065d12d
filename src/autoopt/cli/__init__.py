"""The ``autoopt`` command: parse arguments, call the library, print (typer + rich)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import optuna
import typer

from autoopt import __version__
from autoopt.cli._output import RichProgress, console, error, metrics_table, print_summary
from autoopt.cli._output import guard as _guard
from autoopt.cli._target import load_callable
from autoopt.exceptions import InvalidSpecError
from autoopt.io import redact_url, storage_url_for, write_json
from autoopt.search import TuneResult, tune
from autoopt.space import Space

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
        objective = load_callable(target, key="target")
        sp = Space.from_yaml(space) if space is not None else None
        name = study or getattr(objective, "__name__", "autoopt")
        run_dir = out or Path("runs") / name
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
        result = tune(
            objective,
            space=sp,
            strategy=strategy or "auto",
            scheduler=scheduler,
            trials=trials if trials is not None else (None if timeout else 20),
            timeout=timeout,
            jobs=jobs or 1,
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
    from autoopt.pipeline import load_spec, tune_spec  # the deep-learning task: data, model, training

    spec = load_spec(path, **overrides)  # every spec error is listed before anything runs
    progress = None if (quiet or as_json) else RichProgress(f"tune {spec.name}")
    res = tune_spec(path, out=out, storage=storage, progress=progress, **overrides)
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
) -> None:
    """The main job: search -> (distill) -> (compress) -> export -> report, resumable."""

    def run() -> None:
        from autoopt.pipeline import load_spec, run_spec

        if workers is not None and jobs is not None and workers != jobs:
            raise InvalidSpecError(f"--workers {workers} and --jobs {jobs}: give one of them")
        load_spec(spec, trials=trials, timeout=timeout, jobs=workers or jobs, seed=seed)  # errors first
        progress = None if (quiet or as_json) else RichProgress("search")

        def on_stage(stage: str, status: str) -> None:
            if not as_json:
                err = console.print if not quiet else print
                err(f"[{status}] {stage}" if quiet else f"[bold]{stage}[/bold]: {status}")

        res = run_spec(
            spec,
            out=out,
            from_stage=from_stage,
            more_trials=more_trials,
            storage=storage,
            progress=progress,
            on_stage=on_stage,
            trials=trials,
            timeout=timeout,
            jobs=workers or jobs,
            seed=seed,
        )
        summary = {
            "run_dir": str(res.run_dir),
            "stages": res.stages,
            "metrics": res.metrics,
            "final": str(res.final_dir) if res.final_dir else None,
            "report": str(res.report) if res.report else None,
            "interrupted": res.interrupted,
        }
        if as_json:
            print(json.dumps(summary, indent=2, default=str))
        else:
            table = metrics_table({k: v for k, v in res.metrics.items() if not isinstance(v, dict)}, "run")
            console.print(table)
            for stage, status in res.stages.items():
                console.print(f"  {stage:<9} {status}")
            console.print(f"run directory: {res.run_dir}")
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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the best trials of a run."""

    def run() -> None:
        from autoopt.io import open_storage

        if not run_dir.is_dir():
            raise InvalidSpecError(f"run directory {str(run_dir)!r} does not exist")
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
        cfg = s.user_attrs.get("autoopt:config", {})
        n_obj = len(s.directions)
        names_ = cfg.get("metrics") or (["value"] if n_obj == 1 else [f"value_{i}" for i in range(n_obj)])
        print_summary(TuneResult(study=s, metrics=names_), k=top, as_json=as_json)

    _guard(run)


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
    sys.exit(main())
