"""Export parity and latency (issue 4): the digits CNN, fp32 torch vs its ONNX export, on real test inputs.

Trains the digits CNN briefly (``autoopt.training.fit``), exports it with ``autoopt.export.export_model``
(ONNX + ``.pt2`` + card), then reports, for each row of ``(name, model or artifact path)``:

- parity against the torch model on every test sample: max abs error, max relative error, top-1
  agreement (``autoopt.export.check_parity`` with ``raise_on_failure=False``);
- test accuracy (``autoopt.evaluate.predict``);
- batch-1 and batch-64 latency from the one harness (``autoopt.evaluate.measure_latency``, 1 thread).

Rows are any list of ``(name, target)``: pruned or int8 artifacts (an ``.onnx`` from
``onnxruntime.quantization``, a compressed module) are added by appending to ``rows`` in :func:`run`
or by calling :func:`compare` directly. ``--int8`` adds a dynamically quantized ONNX row now.

Usage::

    .venv/bin/python benchmarks/export_parity.py [--epochs 5] [--repeats 200] [--int8] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autoopt.data import DataBundle, load_data
from autoopt.evaluate import measure_latency, predict, stack_inputs
from autoopt.export import check_parity, export_model
from autoopt.models import build_model
from autoopt.training import TrainConfig, fit

CNN = {"blocks": 2, "channels": 16}


def compare(
    reference: torch.nn.Module,
    rows: Sequence[tuple[str, Any]],
    data: DataBundle,
    *,
    batch_sizes: Sequence[int] = (1, 64),
    repeats: int = 200,
    threads: int = 1,
) -> list[dict[str, Any]]:
    """One result per ``(name, target)``: parity vs ``reference`` on the test split, accuracy, latency.

    Args:
        reference: the fp32 torch model the rows are compared with.
        rows: ``(name, target)``; a target is an ``nn.Module`` or a ``.onnx``/``.pt2`` path.
        data: the data; its test split gives the inputs.
        batch_sizes: latency batch sizes.
        repeats: timed calls per batch size.
        threads: intra-op threads for timing.
    """
    x = stack_inputs(data.test)
    y = np.array([int(data.test[i][1]) for i in range(len(data.test))])
    out = []
    for name, target in rows:
        parity = check_parity(reference, target, x, limit=None, raise_on_failure=False)
        acc = float((predict(target, x).argmax(1) == y).mean())
        lat = measure_latency(
            target, data.meta.input_shape, batch_sizes=batch_sizes, repeats=repeats, threads=threads
        )
        out.append(
            {
                "name": name,
                "backend": lat.backend,
                "max_abs_error": parity.max_abs_error,
                "max_rel_error": parity.max_rel_error,
                "top1_agreement": parity.top1_agreement,
                "test_accuracy": acc,
                "latency": {
                    str(r.batch_size): {"p50_ms": r.p50_ms, "p95_ms": r.p95_ms, "throughput": r.throughput}
                    for r in lat.rows
                },
            }
        )
    return out


def run(
    epochs: int = 5,
    repeats: int = 200,
    int8: bool = False,
    out_dir: Path | None = None,
    compressed: bool = False,
) -> dict[str, Any]:
    """Train, export and compare; returns ``{"rows": [...], "card": {...}, ...}``."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    data = load_data("digits")
    model = build_model("cnn", CNN, data.meta)
    t0 = time.perf_counter()
    fit(model, data, TrainConfig(epochs=epochs, batch_size=64, lr=3e-3, device="cpu", seed=0))
    train_s = time.perf_counter() - t0
    folder = out_dir or Path(tempfile.mkdtemp(prefix="export_parity_"))
    t0 = time.perf_counter()
    card = export_model(model.eval(), data, folder, name="cnn", config=CNN, latency_repeats=repeats)
    export_s = time.perf_counter() - t0
    rows: list[tuple[str, Any]] = [
        ("torch fp32", model),
        ("pt2 fp32", folder / "model.pt2"),
        ("onnx fp32", folder / "model.onnx"),
    ]
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            str(folder / "model.onnx"), str(folder / "model.int8.onnx"), weight_type=QuantType.QInt8
        )
        rows.append(("onnx int8 (dynamic)", folder / "model.int8.onnx"))
    results = compare(model, rows, data, repeats=repeats)
    if compressed:
        # Parity of a compressed model's export is checked against that compressed torch model.
        from autoopt.compress import prune, quantize_onnx
        from autoopt.export import export_onnx

        small, _ = prune(
            model,
            {"ratio": 0.5, "finetune_epochs": 3},
            data=data,
            train_config={"epochs": 3, "lr": 3e-3, "device": "cpu", "seed": 0},
        )
        small.eval()
        pruned_path = export_onnx(small, torch.zeros(1, *data.meta.input_shape), folder / "pruned.onnx").path
        q = quantize_onnx(
            pruned_path, folder / "pruned.int8.onnx", data, {"mode": "static", "sensitivity": False}
        )
        more = compare(
            small,
            [("onnx pruned", pruned_path), ("onnx pruned + int8 static", q.path)],
            data,
            repeats=repeats,
        )
        for r in more:
            r["reference"] = "pruned torch"
        results += more
    return {
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        "model": {"name": "cnn", "config": CNN, **{k: card.model[k] for k in ("params", "macs")}},
        "test_samples": len(data.test),
        "opset": card.opset,
        "size_bytes": card.size_bytes,
        "train_s": round(train_s, 1),
        "export_s": round(export_s, 1),
        "rows": results,
    }


def _print(res: dict[str, Any]) -> None:
    print(f"digits CNN {res['model']} | {res['test_samples']} test samples | opset {res['opset']}")
    print(
        f"sizes {res['size_bytes']} | train {res['train_s']} s, export (+parity, latency) {res['export_s']} s"
    )
    head = f"{'row':<22}{'max abs err':>12}{'max rel err':>12}{'top-1 agr':>10}{'acc':>8}"
    head += f"{'b1 p50 ms':>11}{'b64 p50 ms':>12}{'b64 samples/s':>15}"
    print(head)
    for r in res["rows"]:
        lat = r["latency"]
        print(
            f"{r['name']:<22}{r['max_abs_error']:>12.2e}{r['max_rel_error']:>12.2e}{r['top1_agreement']:>10.4f}"
            f"{r['test_accuracy']:>8.4f}{lat['1']['p50_ms']:>11.4f}{lat['64']['p50_ms']:>12.4f}"
            f"{lat['64']['throughput']:>15.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--int8", action="store_true", help="add a dynamically quantized ONNX row")
    parser.add_argument("--compressed", action="store_true", help="add pruned and pruned+int8 ONNX rows")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    res = run(args.epochs, args.repeats, args.int8, compressed=args.compressed)
    print(json.dumps(res, indent=2)) if args.json else _print(res)


if __name__ == "__main__":
    main()
