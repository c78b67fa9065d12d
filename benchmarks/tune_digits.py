"""Issue 3 benchmark: a 30-trial `auto` + ASHA search of the digits CNN spec (examples/digits_cnn.yaml),
the same budget with random search and no early stopping, the same spec on the Fashion-MNIST split
(first 8,000 test-set images for train/val, last 2,000 as test), and RSS after trials 5 and 30.

    .venv/bin/python benchmarks/tune_digits.py [--seeds 0] [--trials 30] [--only digits|fashion]

Prints one JSON line per run and writes benchmarks/.cache/tune_digits.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import optuna
import yaml

from autoopt.pipeline import tune_spec

ROOT = Path(__file__).resolve().parents[1]
FASHION = ROOT.parent / "shared" / "data" / "fashion-mnist"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssProbe:
    """A progress display that records the process RSS after each finished trial."""

    def __init__(self) -> None:
        self.rss: dict[int, float] = {}

    def start(self, total, done):  # noqa: ANN001
        pass

    def update(self, study: optuna.Study) -> None:
        n = len([t for t in study.get_trials(deepcopy=False) if t.state.is_finished()])
        self.rss[n] = round(rss_mb(), 1)

    def stop(self) -> None:
        pass


def run(dataset: str, strategy: str, scheduler: str | None, trials: int, seed: int, threads: int) -> dict:
    spec = yaml.safe_load((ROOT / "examples" / "digits_cnn.yaml").read_text())
    spec["threads"] = threads
    spec["seed"] = seed
    spec["name"] = f"{dataset}_{strategy}_{scheduler or 'none'}_{seed}"
    spec["search"].update(strategy=strategy, scheduler=scheduler, trials=trials)
    if dataset == "fashion":
        spec["data"] = {
            "name": "fashion-mnist",
            "path": str(FASHION),
            "holdout_last": 2000,
            "split": {"train": 0.85, "val": 0.15, "test": 0.0},
        }
        spec["training"]["epochs"] = 6
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(yaml.safe_dump(spec))
        probe = RssProbe()
        t0 = time.time()
        res = tune_spec(path, out=Path(tmp) / "run", progress=probe)
        wall = time.time() - t0
    return {
        "dataset": dataset,
        "strategy": strategy,
        "scheduler": scheduler or "none",
        "seed": seed,
        "trials": trials,
        "wall_s": round(wall, 1),
        "test_accuracy": res.metrics.get("test_accuracy"),
        "val_accuracy": res.metrics.get("val_accuracy"),
        "counts": res.search.counts(),
        "rss_mb_after_5": probe.rss.get(5),
        "rss_mb_after_last": probe.rss.get(trials),
        "threads": threads,
        "cpu": os.cpu_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", choices=["digits", "fashion"], default=None)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cache = ROOT / "benchmarks" / ".cache" / "tune_digits.jsonl"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cases = [("digits", "auto", "asha"), ("digits", "random", None), ("fashion", "auto", "asha")]
    for seed in [int(s) for s in args.seeds.split(",")]:
        for dataset, strategy, scheduler in cases:
            if args.only and dataset != args.only:
                continue
            row = run(dataset, strategy, scheduler, args.trials, seed, args.threads)
            print(json.dumps(row), flush=True)
            with cache.open("a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
