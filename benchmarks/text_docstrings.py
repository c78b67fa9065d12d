"""Issue 18 benchmark: text classification on library docstrings (examples/text_docstrings.yaml), 3 seeds.

Per seed (``seed`` and ``data.seed`` both set, so the subsample, split, tokenizer and trials change):
1. ``autoopt run examples/text_docstrings.yaml``: search (transformer) -> distill (1-layer student, with the
   student trained alone as the comparison) -> dynamic INT8 -> export -> report; wall time recorded.
2. the same data, search budget and epochs with ``bag_of_embeddings`` (the baseline family), ``tune`` only;
   ``--bag-only 15`` runs only this search, with 15 epochs (the bag trains ~40x faster per epoch).

Reads: the searched transformer's test accuracy (``best/metrics.json``), the bag-of-embeddings search's,
the distilled student's and the student-alone's (``distill/metrics.json``), and fp32 vs INT8 of the
compressed model (``compress/metrics.json``: test accuracy, ONNX file size, batch-1 p50 latency with
ONNX Runtime, 1 thread). Prints one JSON line per seed and the medians; writes
``benchmarks/.cache/text_docstrings.jsonl``.

    python benchmarks/text_docstrings_data.py            # the data, once
    nice -n 5 python benchmarks/text_docstrings.py [--seeds 0 1 2] [--bag-only EPOCHS]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from autoopt.pipeline import run_spec, tune_spec

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
BAG_SPACE = {
    "model.dim": [32, 64, 128],
    "model.hidden": [0, 64],
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "training.lr": {"type": "float", "low": 1.0e-3, "high": 3.0e-2, "log": True},
    "training.weight_decay": {"type": "float", "low": 1.0e-4, "high": 1.0e-1, "log": True},
}


def spec_for(seed: int) -> dict[str, Any]:
    spec = yaml.safe_load((ROOT / "examples" / "text_docstrings.yaml").read_text())
    spec["seed"] = seed
    spec["data"]["seed"] = seed
    spec["data"]["path"] = str(CACHE / "docstrings.csv")
    spec["name"] = f"text_docstrings_s{seed}"
    return spec


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def bag_search(spec: dict[str, Any], seed: int, out: Path, epochs: int | None) -> dict[str, Any]:
    """The bag-of-embeddings search on the same data and search budget (``epochs``: the spec's or more)."""
    bag = dict(spec, name=f"text_bag_s{seed}_e{epochs or 'spec'}", model={"name": "bag_of_embeddings"})
    bag.pop("distill")
    bag.pop("compress")
    bag["search"] = dict(spec["search"], space=BAG_SPACE)
    if epochs is not None:
        bag["training"] = dict(spec["training"], epochs=epochs)
    path = out / f"{bag['name']}.yaml"
    path.write_text(yaml.safe_dump(bag))
    t1 = time.perf_counter()
    res = tune_spec(path, out=out / bag["name"])
    return {
        "seed": seed,
        "bag_epochs": bag["training"]["epochs"],
        "bag_search_test_acc": res.metrics["test_accuracy"],
        "bag_params": res.metrics["params"],
        "bag_wall_s": round(time.perf_counter() - t1, 1),
    }


def one_seed(seed: int, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    spec = spec_for(seed)
    (out / "spec.yaml").write_text(yaml.safe_dump(spec))
    t0 = time.perf_counter()
    run_spec(out / "spec.yaml", out=out / "run", force=True)
    wall = time.perf_counter() - t0
    best = read(out / "run" / "best" / "metrics.json")
    dist = read(out / "run" / "distill" / "metrics.json")
    rows = {r["step"]: r for r in read(out / "run" / "compress" / "metrics.json")["rows"]}
    fp32, int8 = rows["baseline (fp32)"], rows["1. quantize"]

    return {
        "run_wall_s": round(wall, 1),
        "transformer_search_test_acc": best["test_accuracy"],
        "transformer_params": best["params"],
        **bag_search(spec, seed, out, None),
        "distilled_test_acc": dist["test_accuracy"],
        "student_alone_test_acc": dist["baseline_test_accuracy"],
        "teacher_test_acc": dist["teacher_test_accuracy"],
        "fp32_test_acc": fp32["accuracy"],
        "int8_test_acc": int8["accuracy"],
        "fp32_bytes": fp32["size_bytes"],
        "int8_bytes": int8["size_bytes"],
        "fp32_b1_ms": fp32["latency_ms"]["1"]["p50"],
        "int8_b1_ms": int8["latency_ms"]["1"]["p50"],
        "int8_note": int8["note"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=CACHE / "text_runs")
    parser.add_argument(
        "--bag-only", type=int, metavar="EPOCHS", help="only the bag-of-embeddings search, with EPOCHS epochs"
    )
    args = parser.parse_args()
    if not (CACHE / "docstrings.csv").is_file():
        raise SystemExit(
            "run benchmarks/text_docstrings_data.py first (writes benchmarks/.cache/docstrings.csv)"
        )
    results = []
    with (CACHE / "text_docstrings.jsonl").open("a") as log:
        for seed in args.seeds:
            out = args.out / f"seed{seed}"
            if args.bag_only is not None:
                out.mkdir(parents=True, exist_ok=True)
                row = bag_search(spec_for(seed), seed, out, args.bag_only)
            else:
                row = one_seed(seed, out)
            results.append(row)
            print(json.dumps(row), flush=True)
            log.write(json.dumps(row) + "\n")
    medians = {
        k: statistics.median(r[k] for r in results)
        for k in results[0]
        if k not in ("seed", "int8_note") and isinstance(results[0][k], (int, float))
    }
    print("median", json.dumps(medians))


if __name__ == "__main__":
    main()
