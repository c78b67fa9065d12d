"""`autoopt run` end to end on the Fashion-MNIST split: what each stage made and what the guard shipped.

The question (issue 14): on held-out real data, does the main job ever ship a model worse than the
searched one (beyond `max_accuracy_drop`) or slower? Each seed runs the full pipeline (search ->
distill -> prune -> fine-tune -> INT8 -> ship) on the first 8,000 images of `../shared/data`'s
Fashion-MNIST test set (85/15 train/val) with the last 2,000 as the test split, then prints every
candidate (test accuracy, params, size, batch-1/64 p50 latency, flags) and the shipped file.

    python benchmarks/pipeline_fashion.py --seeds 0,1,2 [--trials 12] [--epochs 3] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import yaml

from autoopt.pipeline import run_spec

ROOT = Path(__file__).resolve().parents[1]
FASHION = ROOT.parent / "shared" / "data" / "fashion-mnist"


def spec(seed: int, trials: int, epochs: int) -> dict:
    s = yaml.safe_load((ROOT / "examples" / "digits_full.yaml").read_text())
    s.update(name=f"fashion_full_{seed}", seed=seed, threads=os.cpu_count() or 1)
    s["data"] = {
        "name": "fashion-mnist",
        "path": str(FASHION),
        "holdout_last": 2000,
        "split": {"train": 0.85, "val": 0.15, "test": 0.0},
    }
    s["training"]["epochs"] = epochs
    s["search"]["trials"] = trials
    s["distill"]["training"]["epochs"] = 2 * epochs
    for step in s["compress"]["steps"]:
        if "finetune" in step:
            step["finetune"]["epochs"] = max(1, epochs // 2)
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    lines = [
        f"- Command: `python benchmarks/pipeline_fashion.py --seeds {args.seeds} --trials {args.trials} "
        f"--epochs {args.epochs}`; {time.strftime('%Y-%m-%d')}; {os.cpu_count()} vCPU {platform.machine()}, "
        "ONNX Runtime 1 thread, latency = median of 3 interleaved rounds of the p50.",
        "",
        "| seed | candidate | test acc | params | size KiB | b1 ms | b64 ms | status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for seed in [int(s) for s in args.seeds.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "spec.yaml"
            path.write_text(yaml.safe_dump(spec(seed, args.trials, args.epochs)))
            t0 = time.time()
            run_spec(path, out=Path(tmp) / "run")
            wall = time.time() - t0
            m = json.loads((Path(tmp) / "run" / "manifest.json").read_text())
        for c in m["candidates"]:
            status = "**shipped**" if c["id"] == m["shipped"] else ("; ".join(c["flags"]) or "allowed")
            lat = c["latency_ms"]
            lines.append(
                f"| {seed} | {c['label']} ({c['precision']}) | {c['score']:.4f} | {c['params']:,} | "
                f"{c['size_bytes'] / 1024:.1f} | {lat.get('1', float('nan')):.4f} | "
                f"{lat.get('64', float('nan')):.3f} | {status} |"
            )
        comp = m["comparison"]
        lines.append(
            f"| {seed} | shipped vs searched | {-comp['accuracy_drop']:+.2f} pts "
            f"| {comp['params_ratio']}x fewer | {comp['size_ratio']}x smaller "
            f"| {comp['speedup'].get('1', 0):.2f}x | "
            f"{comp['speedup'].get('64', 0):.2f}x | wall {wall:.0f} s |"
        )
        print("\n".join(lines[-len(m["candidates"]) - 1 :]), flush=True)
    if args.markdown:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
