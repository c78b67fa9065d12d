"""``autoopt search SPEC.yaml``: architecture search, printing the Pareto front and the best architecture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from autoopt.cli._output import EpochBars, RichProgress, check_out, console, metrics_table
from autoopt.cli._output import guard as _guard
from autoopt.exceptions import InvalidSpecError

__all__ = ["register", "front_table"]


def front_table(front: list[dict[str, Any]], objectives: list[str]) -> Table:
    """One row per Pareto point: trial, objective values, params, MACs, latency, checkpoint."""
    table = Table(title="Pareto front" if len(objectives) > 1 else "best architecture")
    extra = [c for c in ("params", "macs", "latency_ms") if c not in objectives]
    for col in ["trial", *objectives, *extra, "checkpoint"]:
        table.add_column(col, justify="left" if col == "checkpoint" else "right")
    for p in front:
        values = [f"{v:.4g}" for v in (p.get("values") or [])]
        shown = {"params": f"{p['params']:,}", "macs": f"{p['macs']:,}"}
        latency = p.get("metrics", {}).get("latency_ms")
        shown["latency_ms"] = f"{latency:g}" if isinstance(latency, (int, float)) else "-"
        table.add_row(
            str(p["trial"]),
            *values,
            *(shown[c] for c in extra),
            p.get("checkpoint") or "(one-shot: not trained)",
        )
    return table


def register(app: typer.Typer) -> None:
    @app.command("search")
    def search_cmd(
        spec: Annotated[Path, typer.Argument(help="A spec YAML with a nas: section.")],
        out: Annotated[Path | None, typer.Option(help="Run directory; default runs/<name>.")] = None,
        trials: Annotated[int | None, typer.Option(help="Total trials of the study.")] = None,
        timeout: Annotated[
            float | None, typer.Option(help="Seconds after which no new trial starts.")
        ] = None,
        jobs: Annotated[int | None, typer.Option(help="Parallel trials, one process each.")] = None,
        strategy: Annotated[str | None, typer.Option(help="Search strategy (see 'autoopt list').")] = None,
        scheduler: Annotated[str | None, typer.Option(help="Early stopping by epoch.")] = None,
        seed: Annotated[int | None, typer.Option(help="Seed of the search.")] = None,
        storage: Annotated[str | None, typer.Option(help="Storage URL; default RUN_DIR/study.db.")] = None,
        quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    ) -> None:
        """Search an architecture space (the spec's nas: section); print the Pareto front and the best."""

        def run() -> None:
            from autoopt.pipeline import load_config, tune_spec
            from autoopt.search import check_jobs
            from autoopt.training import listen_epochs

            overrides: dict[str, Any] = dict(
                trials=trials, timeout=timeout, jobs=jobs, seed=seed, strategy=strategy, scheduler=scheduler
            )
            check_out(out)
            loaded = load_config(spec, **overrides)
            check_jobs(loaded.search.jobs, storage or loaded.search.storage)
            if loaded.nas is None:
                raise InvalidSpecError(
                    f"nas: {spec} has no nas: section; add one (nas: {{space: nas-macro}}) or use "
                    f"'autoopt tune {spec}' to tune a fixed model"
                )
            progress = None if (quiet or as_json) else RichProgress(f"search {loaded.name}")
            bars = None if progress is None else EpochBars(progress, stage="retrain best")
            with listen_epochs(bars):
                res = tune_spec(loaded, out=out, storage=storage, progress=progress)
            objectives = [f"{o.metric}" for o in loaded.search.objectives]
            if as_json:
                print(
                    json.dumps(
                        {
                            "run_dir": str(res.run_dir),
                            "front": res.front,
                            "metrics": res.metrics,
                            "counts": res.search.counts(),
                        },
                        default=str,
                        indent=2,
                    )
                )
            else:
                counts = res.search.counts()
                console.print("trials: " + ", ".join(f"{n} {state.lower()}" for state, n in counts.items()))
                if res.front:
                    console.print(front_table(res.front, objectives))
                if res.metrics and res.best_dir is not None:
                    from autoopt.nas import describe

                    arch = {
                        k.removeprefix("model."): v
                        for k, v in res.best_params.items()
                        if k.startswith("model.")
                    }
                    console.print(f"best architecture (trial {res.metrics.get('trial')}):")
                    console.print(describe(arch, res.meta, space=loaded.model.name))
                    console.print(metrics_table(res.metrics, title="best model"))
                    console.print(f"best model: {res.best_dir}/model.safetensors")
                console.print(f"run directory: {res.run_dir}  (front: {res.run_dir}/nas/front.json)")
            if res.search.interrupted:
                raise typer.Exit(130)

        _guard(run)
