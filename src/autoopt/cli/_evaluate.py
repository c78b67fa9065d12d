"""``autoopt evaluate`` and ``autoopt export``: parse, call the evaluate / export stages, print."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from autoopt.cli._output import check_out, console, fmt
from autoopt.cli._output import guard as _guard
from autoopt.data import DataBundle, load_data
from autoopt.evaluate import (
    CARD_FILE,
    SPLITS,
    LatencyReport,
    evaluate_runner,
    load_artifact,
    load_run,
    measure_latency,
)
from autoopt.exceptions import InvalidSpecError
from autoopt.export import ModelCard, export_model
from autoopt.spec import read_spec

__all__ = ["evaluate_cmd", "export_cmd", "register"]


def _ints(value: str, key: str) -> list[int]:
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        out = []
    if not out or any(v < 1 for v in out):
        raise InvalidSpecError(
            f"{key}: expected comma-separated positive integers such as '1,64'; got {value!r}"
        )
    return out


def _spec_data_of(model: Path) -> Any:
    """The ``data`` section recorded next to ``model``: a run's spec.yaml, or a model card's spec."""
    folder = model if model.is_dir() else model.parent
    for run_dir in (folder, folder.parent):
        if (run_dir / "spec.yaml").is_file() and (run_dir / "best").is_dir():
            return read_spec(run_dir / "spec.yaml").data
    if (folder / CARD_FILE).is_file():
        spec = json.loads((folder / CARD_FILE).read_text()).get("spec")
        if isinstance(spec, dict) and spec.get("data"):
            return spec["data"]
    return None


def _load_data(data: str | None, model: Path) -> DataBundle:
    if data is None:
        config = _spec_data_of(model)
        if config is None:
            raise InvalidSpecError(
                f"--data: {model} records no dataset (no run spec.yaml, no spec in {CARD_FILE}); "
                "pass a dataset name (e.g. --data digits) or a spec YAML"
            )
        return load_data(config)
    if data.endswith((".yaml", ".yml")) or Path(data).is_file():
        return load_data(read_spec(data).data)
    return load_data(data)


def _latency_table(report: LatencyReport) -> Table:
    table = Table(
        title=f"latency ({report.backend}, threads={report.threads or 'default'}, {report.repeats} repeats)"
    )
    for col in ("batch", "p50 ms", "p95 ms", "p99 ms", "samples/s", "peak MiB"):
        table.add_column(col, justify="right")
    for r in report.rows:
        table.add_row(
            str(r.batch_size),
            fmt(r.p50_ms),
            fmt(r.p95_ms),
            fmt(r.p99_ms),
            fmt(r.throughput),
            fmt(r.peak_mem_mb),
        )
    return table


def _metrics_table(metrics: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        if isinstance(v, (int, float, str)) and not isinstance(v, bool):
            table.add_row(k, fmt(v))
    return table


def evaluate_cmd(
    model: Annotated[
        Path, typer.Argument(help="A .onnx/.pt2 file, a checkpoint, a model dir (model.json) or a RUN_DIR.")
    ],
    data: Annotated[
        str | None, typer.Option(help="Dataset name (e.g. digits) or a spec YAML; default: the run's.")
    ] = None,
    split: Annotated[str, typer.Option(help="Split to score: test, val or train.")] = "test",
    batch_sizes: Annotated[str, typer.Option(help="Comma-separated batch sizes to time.")] = "1,64",
    threads: Annotated[int, typer.Option(min=1, help="Intra-op threads for scoring and timing.")] = 1,
    batch_size: Annotated[int, typer.Option(min=1, help="Samples per forward pass when scoring.")] = 256,
    repeats: Annotated[int, typer.Option(min=1, help="Timed calls per batch size.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Score a model on a split and measure its latency (any artifact kind, one harness)."""

    def run() -> None:
        sizes = _ints(batch_sizes, "--batch-sizes")
        if split not in SPLITS:
            raise InvalidSpecError(f"--split: expected one of: {', '.join(SPLITS)}; got {split!r}")
        bundle = _load_data(data, model)
        artifact = load_artifact(model, bundle.meta, threads=threads)
        metrics: dict[str, Any] = evaluate_runner(
            artifact.runner, getattr(bundle, split), bundle.meta.task, batch_size=batch_size, threads=threads
        )
        metrics.update(samples=len(getattr(bundle, split)), size_bytes=artifact.size_bytes)
        latency = measure_latency(
            artifact.runner, bundle.meta.input_shape, batch_sizes=sizes, threads=threads, repeats=repeats
        )
        if as_json:
            out = {
                "model": str(model),
                "format": artifact.kind,
                "split": split,
                "metrics": metrics,
                "latency": latency.to_dict(),
            }
            print(json.dumps(out, indent=2, default=str))
            return
        console.print(_metrics_table(metrics, f"{model} ({artifact.kind}) on {bundle.meta.name} {split}"))
        console.print(_latency_table(latency))

    _guard(run)


def _print_card(card: ModelCard, out: Path) -> None:
    table = Table(title=f"exported to {out}")
    for col in ("file", "bytes", "sha256"):
        table.add_column(col, justify="right" if col == "bytes" else "left")
    for key, name in card.files.items():
        table.add_row(name, str(card.size_bytes[key]), card.sha256[key][:12])
    console.print(table)
    onnx = card.parity.get("onnx", {})
    console.print(
        f"opset {card.opset}; parity (ONNX Runtime vs torch, {onnx.get('samples')} samples): max abs error "
        f"{fmt(onnx.get('max_abs_error'))}, top-1 agreement {fmt(onnx.get('top1_agreement'))}"
    )
    rows = card.latency.get("batches", {})
    console.print("latency p50 (ms): " + ", ".join(f"batch {b}: {fmt(r['p50_ms'])}" for b, r in rows.items()))
    console.print(_metrics_table({k: v for k, v in card.metrics.items() if k.startswith("test_")}, "metrics"))


def export_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory of 'autoopt tune' (spec.yaml and best/).")],
    out: Annotated[Path | None, typer.Option(help="Model dir to write; default RUN_DIR/final.")] = None,
    opset: Annotated[int | None, typer.Option(help="ONNX opset; default the exporter's.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the model card as JSON.")] = False,
) -> None:
    """Export a run's best model: model.onnx, model.pt2, model.safetensors and model.json."""

    def run() -> None:
        check_out(out)
        loaded = load_run(run_dir)
        target = out if out is not None else run_dir / "final"
        card = export_model(
            loaded.model,
            loaded.data,  # type: ignore[arg-type]  # load_run loads the spec's data when not given
            target,
            spec=loaded.spec,
            metrics=loaded.metrics,
            name=loaded.model_name,
            config=loaded.model_config,
            opset=opset,
        )
        if as_json:
            print(json.dumps(card.to_dict(), indent=2, default=str))
        else:
            _print_card(card, target)

    _guard(run)


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` and ``export`` to the ``autoopt`` app.

    Example:
        >>> import typer
        >>> app = typer.Typer()
        >>> register(app)
    """
    app.command("evaluate")(evaluate_cmd)
    app.command("export")(export_cmd)
