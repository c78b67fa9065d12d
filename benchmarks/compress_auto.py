"""Issue 8 benchmark: searched per-layer pruning policies vs uniform ratios at 50% MACs, and mixed precision.

The small ResNet on digits (the `digits-resnet` of compress_plan.py: 3 stages, width 16, one block
each; native 8x8 images by default, `--image-size 32` for compress_plan's upsampled input) is
trained, then pruned to at most 50% of its MACs by: `uniform` (one ratio for every layer, the least
that meets the budget), `random`, `tpe` and `ddpg` (the best of `--episodes` proxy-scored policies
each; proxy = accuracy on up to 512 validation samples after pruning
and BatchNorm recalibration). Each pruned model is measured on the test split before and after
`--finetune` epochs of fine-tuning. Then the fine-tuned DDPG model is quantized to INT8 with ONNX
Runtime (static, min-max) as all-INT8 and with the per-layer precisions searched (DDPG and TPE) under
weight-size budgets; accuracy and file size of the ONNX models themselves. Medians over seeds.

    nice -n 10 .venv/bin/python benchmarks/compress_auto.py [--dataset digits|fashion] [--seeds 0,1,2]
        [--episodes 100] [--finetune 5] [--precision-episodes 30] [--image-size 8]

Writes benchmarks/.cache/compress_auto.jsonl (one line per seed) and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import optuna
import torch

from autoopt.compress.auto import auto_precision, compare_policies
from autoopt.compress.quantize import QuantizeConfig, quantize_onnx
from autoopt.data import load_data
from autoopt.evaluate import evaluate_artifact
from autoopt.export import export_onnx
from autoopt.models import build_model
from autoopt.training import TrainConfig, fit

ROOT = Path(__file__).resolve().parents[1]
FASHION = ROOT.parent / "shared" / "data" / "fashion-mnist"
#: name -> (data config, training epochs); the Fashion-MNIST split of compress_plan.py: the first
#: 8,000 test-set images for train/val, the last 2,000 as test.
DATASETS = {
    "digits": ({"name": "digits"}, 12),
    "fashion": (
        {
            "name": "fashion-mnist",
            "path": str(FASHION),
            "holdout_last": 2000,
            "split": {"train": 0.85, "val": 0.15, "test": 0.0},
        },
        8,
    ),
}
MODEL = ("resnet", {"stages": 3, "width": 16, "blocks": 1})
METHODS = ("uniform", "random", "tpe", "ddpg")
SIZES = (0.3, 0.4, 0.6)  # weight bytes as a fraction of all-fp32; all-INT8 is about 0.25


def quantized_row(onnx_path: Path, data, exclude: list[str], out: Path) -> dict:  # noqa: ANN001
    cfg = QuantizeConfig(mode="static", calibration="minmax", sensitivity=False, exclude=exclude)
    q = quantize_onnx(onnx_path, out, data, cfg)
    scores = evaluate_artifact(Path(q.path), data, threads=1)
    return {"accuracy": scores["accuracy"], "size_bytes": int(scores["size_bytes"])}


def run(
    dataset: str, seed: int, episodes: int, finetune_epochs: int, precision_episodes: int, image_size: int
) -> dict:
    data_cfg, epochs = DATASETS[dataset]
    resize = {"image_size": image_size} if image_size and dataset == "digits" and image_size != 8 else {}
    data = load_data({**data_cfg, "seed": seed, **resize})
    torch.manual_seed(seed)
    model = build_model(MODEL[0], MODEL[1], data.meta)
    train = {"epochs": epochs, "lr": 3e-3, "device": "cpu", "seed": seed, "schedule": "cosine"}
    t0 = time.time()
    fit(model, data, TrainConfig(**train))
    rows = compare_policies(
        model,
        data,
        budget={"macs": 0.5},
        methods=METHODS,
        episodes=episodes,
        seed=seed,
        finetune={**train, "epochs": finetune_epochs},
    )
    from autoopt.compress.auto import accuracy_on_test

    result = {
        "dataset": dataset,
        "seed": seed,
        "episodes": episodes,
        "image_size": image_size,
        "unpruned_test": accuracy_on_test(model, data),
        "methods": [r.to_dict() for r in rows],
    }
    tuned = next(r.model for r in rows if r.method == "ddpg")
    precision = []
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(tuned.eval(), torch.zeros(1, *data.meta.input_shape), Path(tmp) / "fp32.onnx").path
        s = evaluate_artifact(Path(fp32), data, threads=1)
        precision.append(
            {"policy": "fp32", "size": 1.0, "accuracy": s["accuracy"], "size_bytes": int(s["size_bytes"])}
        )
        precision.append(
            {"policy": "all-int8", **quantized_row(Path(fp32), data, [], Path(tmp) / "int8.onnx")}
        )
        for size in SIZES:
            for agent in ("ddpg", "tpe"):
                t1 = time.time()
                res = auto_precision(
                    tuned,
                    {"agent": agent, "size": size, "precision_episodes": precision_episodes, "seed": seed},
                    data,
                )
                row = quantized_row(Path(fp32), data, res.fp32_layers, Path(tmp) / f"mp_{agent}_{size}.onnx")
                precision.append(
                    {
                        "policy": f"{agent}, size <= {size}",
                        "size": size,
                        "fp32_layers": res.fp32_layers,
                        "weight_fraction": res.size_fraction,
                        "proxy": res.reward,
                        "proxy_int8": res.int8_reward,
                        "search_s": round(time.time() - t1, 1),
                        **row,
                    }
                )
    result["precision"] = precision
    result["wall_s"] = round(time.time() - t0, 1)
    return result


def _med(values) -> float:  # noqa: ANN001
    return statistics.median(values)


def tables(results: list[dict]) -> str:
    n = len(results)
    out = [
        f"Unpruned test accuracy (median of {n} seeds): {_med(r['unpruned_test'] for r in results):.4f}",
        "",
        "| policy (<= 50% MACs) | MACs kept | params kept | test acc. before fine-tuning | after fine-tuning "
        "| proxy (val) | evaluations | evaluation that found it | search wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, method in enumerate(METHODS):
        rows = [r["methods"][i] for r in results]
        out.append(
            f"| {method} | {_med(x['macs_fraction'] for x in rows):.3f} "
            f"| {_med(x['params_fraction'] for x in rows):.3f} "
            f"| {_med(x['test_before'] for x in rows):.4f} | {_med(x['test_after'] for x in rows):.4f} "
            f"| {_med(x['proxy'] for x in rows):.4f} | {rows[0]['evaluations']} "
            f"| {_med(x.get('best_at', 0) for x in rows):.0f} "
            f"| {_med(x['search_seconds'] for x in rows):.1f} |"
        )
    out += [
        "",
        "| precision policy (fine-tuned DDPG model) | ONNX accuracy | ONNX file (KiB) "
        "| weight bytes vs fp32 | fp32 layers (first seed) |",
        "|---|---|---|---|---|",
    ]
    for i, p in enumerate(results[0]["precision"]):
        rows = [r["precision"][i] for r in results]
        frac = (
            "1.000"
            if p["policy"] == "fp32"
            else ("-" if "weight_fraction" not in p else f"{_med(x['weight_fraction'] for x in rows):.3f}")
        )
        out.append(
            f"| {p['policy']} | {_med(x['accuracy'] for x in rows):.4f} "
            f"| {_med(x['size_bytes'] for x in rows) / 1024:.1f} "
            f"| {frac} | {', '.join(p.get('fp32_layers', [])) or '-'} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--finetune", type=int, default=5)
    ap.add_argument("--precision-episodes", type=int, default=30)
    ap.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    ap.add_argument("--image-size", type=int, default=8, help="digits only")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cache = ROOT / "benchmarks" / ".cache" / "compress_auto.jsonl"
    cache.parent.mkdir(parents=True, exist_ok=True)
    done = [json.loads(line) for line in cache.read_text().splitlines()] if cache.exists() else []
    key = (args.dataset, args.episodes, args.image_size)
    done = [r for r in done if (r.get("dataset", "digits"), r["episodes"], r.get("image_size", 8)) == key]
    have = {r["seed"] for r in done}
    if not args.report_only:
        for seed in (int(s) for s in args.seeds.split(",")):
            if seed in have:
                continue
            r = run(
                args.dataset, seed, args.episodes, args.finetune, args.precision_episodes, args.image_size
            )
            done.append(r)
            with cache.open("a") as f:
                f.write(json.dumps(r) + "\n")
            print(f"seed {seed}: {r['wall_s']} s", flush=True)
    print(tables(done))


if __name__ == "__main__":
    main()
