"""INT8 quantization (issue 5 item 3): fp32 vs static INT8 (uint8/int8, int8/int8) vs dynamic INT8.

For each task (the digits CNN at 8x8, a small ResNet on digits upsampled to 32x32, a CNN on the
Fashion-MNIST split) and each seed (the training seed): train with ``autoopt.training.fit``, export
with ``autoopt.export.export_onnx``, then quantize with ``autoopt.compress.quantize`` and read its
report: test accuracy of each ONNX file (``evaluate_artifact``), size of all files, batch-1 and
batch-64 p50 latency (``measure_latency``, 1 thread). Prints medians over the seeds as a markdown
table (and ``--json`` rows); never gates CI.

Usage::

    nice -n 10 .venv/bin/python benchmarks/quantize_digits.py [--seeds 0 1 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import onnxruntime
import torch

from autoopt.compress.quantize import QuantizeReport, quantize_dynamic, quantize_static
from autoopt.data import load_data
from autoopt.evaluate import stack_inputs
from autoopt.export import export_onnx
from autoopt.models import build_model
from autoopt.training import fit

ROOT = Path(__file__).resolve().parents[1]
TASKS: dict[str, dict[str, Any]] = {
    "digits-cnn": {
        "data": {"name": "digits"},
        "model": ("cnn", {"blocks": 2, "channels": 32}),
        "train": {"epochs": 15, "lr": 3e-3},
    },
    "digits32-resnet": {
        "data": {"name": "digits", "image_size": 32},
        "model": ("resnet", {"stages": 3, "width": 16, "blocks": 1}),
        "train": {"epochs": 10, "lr": 3e-3},
    },
    "fashion-cnn": {
        "data": {
            "name": "fashion-mnist",
            "path": str(ROOT.parent / "shared/data/fashion-mnist"),
            "holdout_last": 2000,
        },
        "model": ("cnn", {"blocks": 3, "channels": 32}),
        "train": {"epochs": 4, "lr": 3e-3},
    },
}
#: (row name, quantizer, config)
VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("static u8/i8 minmax", "static", {"activation_type": "uint8", "weight_type": "int8"}),
    ("static u8/i8 percentile", "static", {"calibration": "percentile"}),
    ("static u8/i8 entropy", "static", {"calibration": "entropy"}),
    ("static i8/i8 minmax", "static", {"activation_type": "int8", "weight_type": "int8"}),
    ("dynamic i8", "dynamic", {}),
]


def run_task(name: str, seed: int, tmp: Path) -> list[dict[str, Any]]:
    spec = TASKS[name]
    data = load_data(spec["data"])
    model_name, params = spec["model"]
    torch.manual_seed(seed)
    model = build_model(model_name, params, data.meta)
    fit(model, data, {**spec["train"], "device": "cpu", "seed": seed})
    x = torch.from_numpy(stack_inputs(data.train, 8))
    fp32 = export_onnx(model, x, tmp / f"{name}-{seed}.onnx").path
    rows = []
    fp32_done = False
    for label, kind, cfg in VARIANTS:
        out = tmp / f"{name}-{seed}-{label.replace(' ', '_').replace('/', '')}.onnx"
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "static":
                cfg = {**cfg, "sensitivity": False}
                rep = quantize_static(fp32, out, data, cfg).report
            else:
                rep = quantize_dynamic(fp32, out, cfg, eval_data=data).report
        seconds = time.perf_counter() - start
        if not fp32_done:
            rows.append(_row(name, seed, "fp32", rep, "fp32", 0.0))
            fp32_done = True
        rows.append(_row(name, seed, label, rep, "int8", seconds))
    return rows


def _row(task: str, seed: int, label: str, rep: QuantizeReport, which: str, seconds: float) -> dict[str, Any]:
    fp = which == "fp32"
    return {
        "task": task,
        "seed": seed,
        "variant": label,
        "accuracy": rep.accuracy_fp32 if fp else rep.accuracy_int8,
        "size_bytes": rep.size_bytes_fp32 if fp else rep.size_bytes_int8,
        "p50_b1_ms": rep.p50_ms(which, 1),
        "p50_b64_ms": rep.p50_ms(which, 64),
        "speedup_b1": 1.0 if fp else rep.speedup(1),
        "speedup_b64": 1.0 if fp else rep.speedup(64),
        "quantized_ops": {} if fp else rep.quantized_ops,
        "quantize_s": round(seconds, 2),
        "collapsed": False if fp else rep.collapsed,
    }


def table(rows: list[dict[str, Any]]) -> str:
    keys = ("accuracy", "size_bytes", "p50_b1_ms", "p50_b64_ms", "speedup_b1", "speedup_b64", "quantize_s")
    lines = [
        "| task | variant | accuracy | size (KB) | b1 p50 ms | b64 p50 ms | speed-up b1 | speed-up b64 "
        "| quantize s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["task"], r["variant"]), []).append(r)
    for (task, variant), rs in groups.items():
        med = {k: statistics.median(float(r[k]) for r in rs) for k in keys}
        lines.append(
            f"| {task} | {variant} | {med['accuracy']:.4f} | {med['size_bytes'] / 1024:.1f} | "
            f"{med['p50_b1_ms']:.3f} | {med['p50_b64_ms']:.3f} | {med['speedup_b1']:.2f}x | "
            f"{med['speedup_b64']:.2f}x | {med['quantize_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--json", type=Path, default=None, help="also write every row here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            for seed in args.seeds:
                rows.extend(run_task(task, seed, Path(tmp)))
                print(f"# {task} seed {seed} done ({time.perf_counter() - start:.0f} s)", flush=True)
    print(
        f"\nmedians over seeds {args.seeds}; {platform.machine()} {platform.processor() or ''}, "
        f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}, 1 thread; test split accuracy\n"
    )
    print(table(rows))
    for r in rows:
        if r["quantized_ops"] and r["seed"] == args.seeds[0]:
            ops, collapsed = r["quantized_ops"], r["collapsed"]
            print(f"# {r['task']} {r['variant']}: quantized ops {ops}, collapsed={collapsed}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
