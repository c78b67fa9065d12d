"""Issue 5 benchmark: prune 50% channels -> fine-tune with KD -> static INT8 (ONNX Runtime), per step.

Models: the digits CNN, a small ResNet on digits upsampled to 32x32, and the digits CNN spec on the
Fashion-MNIST split (first 8,000 test-set images for train/val, last 2,000 as test). Each is trained,
then compressed with autoopt.compress.run_plan; every row is the ONNX model itself measured with the
one latency harness (1 thread). Medians over seeds.

    .venv/bin/python benchmarks/compress_plan.py [--seeds 0,1,2] [--only digits-cnn,digits-resnet,fashion-cnn]

Writes benchmarks/.cache/compress_plan.jsonl (one line per model and seed) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from autoopt.compress import run_plan
from autoopt.data import load_data
from autoopt.models import build_model
from autoopt.training import TrainConfig, fit

ROOT = Path(__file__).resolve().parents[1]
FASHION = ROOT.parent / "shared" / "data" / "fashion-mnist"

CASES = {
    "digits-cnn": ({"name": "digits"}, "cnn", {"blocks": 2, "channels": 32}, 15),
    "digits-resnet": (
        {"name": "digits", "image_size": 32},
        "resnet",
        {"stages": 3, "width": 16, "blocks": 1},
        12,
    ),
    "fashion-cnn": (
        {
            "name": "fashion-mnist",
            "path": str(FASHION),
            "holdout_last": 2000,
            "split": {"train": 0.85, "val": 0.15, "test": 0.0},
        },
        "cnn",
        {"blocks": 2, "channels": 32},
        8,
    ),
}
PLAN = {
    "steps": [
        {"prune": {"ratio": 0.5, "criterion": "l2"}},
        {"finetune": {"epochs": 15, "distill": True}},
        {
            "quantize": {
                "mode": "static",
                "calibration": "minmax",
                "activation_type": "uint8",
                "weight_type": "int8",
                "sensitivity": False,
            }
        },
    ],
    "latency_repeats": 100,
    "max_accuracy_drop": 0.5,
}


def run(case: str, seed: int) -> dict:
    data_cfg, model_name, params, epochs = CASES[case]
    data = load_data({**data_cfg, "seed": seed})
    torch.manual_seed(seed)
    model = build_model(model_name, params, data.meta)
    train = {"epochs": epochs, "lr": 3e-3, "device": "cpu", "seed": seed, "schedule": "cosine"}
    t0 = time.time()
    fit(model, data, TrainConfig(**train))
    with tempfile.TemporaryDirectory() as tmp:
        res = run_plan(model, data, PLAN, out_dir=tmp, train_config=train)
    rows = [r.to_dict() for r in res.rows]
    return {"case": case, "seed": seed, "wall_s": round(time.time() - t0, 1), "rows": rows}


HEADER = (
    "| model | step | test acc. | drop (pp) | params | size (KiB) | b1 p50 ms | b64 p50 ms | size ratio "
    "| b1 speed-up | b64 speed-up |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def _median(rows: list[dict], get) -> float:  # noqa: ANN001
    return statistics.median(get(x) for x in rows)


def table(results: list[dict]) -> str:
    out = [HEADER]
    cases = sorted({r["case"] for r in results}, key=list(CASES).index)
    for case in cases:
        runs = [r for r in results if r["case"] == case]
        for i, step in enumerate(runs[0]["rows"]):
            rows = [r["rows"][i] for r in runs]
            base = [r["rows"][0] for r in runs]
            ratio = statistics.median(
                b["size_bytes"] / x["size_bytes"] for b, x in zip(base, rows, strict=True)
            )
            drop = "-" if i == 0 else f"{_median(rows, lambda x: x['accuracy_drop_pp']):+.2f}"
            cells = [
                case,
                step["step"],
                f"{_median(rows, lambda x: x['accuracy']):.4f}",
                drop,
                f"{int(_median(rows, lambda x: x['params'])):,}",
                f"{_median(rows, lambda x: x['size_bytes']) / 1024:.1f}",
                f"{_median(rows, lambda x: x['latency_ms']['1']['p50']):.3f}",
                f"{_median(rows, lambda x: x['latency_ms']['64']['p50']):.2f}",
                f"{ratio:.2f}x",
                f"{_median(rows, lambda x: x['speedup'].get('1', 1.0)):.2f}x",
                f"{_median(rows, lambda x: x['speedup'].get('64', 1.0)):.2f}x",
            ]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--only", default=",".join(CASES))
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cache = ROOT / "benchmarks" / ".cache" / "compress_plan.jsonl"
    cache.parent.mkdir(parents=True, exist_ok=True)
    done = [json.loads(line) for line in cache.read_text().splitlines()] if cache.exists() else []
    have = {(r["case"], r["seed"]) for r in done}
    if not args.report_only:
        for case in args.only.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                if (case, seed) in have:
                    continue
                r = run(case, seed)
                done.append(r)
                with cache.open("a") as f:
                    f.write(json.dumps(r) + "\n")
                print(
                    f"{case} seed {seed}: {r['wall_s']} s, final acc {r['rows'][-1]['accuracy']:.4f}",
                    flush=True,
                )
    print(table(done))


if __name__ == "__main__":
    main()
