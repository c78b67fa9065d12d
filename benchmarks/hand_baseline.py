"""Issue 16: does autoopt beat the first CNN a user would type? One run, side by side, on the
Fashion-MNIST split (the first 8,000 images of ``../shared/data/fashion-mnist``'s test set for
train/val, 85/15, the last 2,000 as the test split):

- ``hand``: a plain PyTorch CNN (2 conv + pool + dense, Adam 1e-3, batch 64), trained on all 8,000
  train/val images (a user has no use for a validation split);
- ``default``: autoopt's ``cnn`` with its default params and training config, no search, trained on
  train+val like the hand CNN;
- ``tune12`` / ``tune30``: ``autoopt tune`` with ``search.space: default`` (strategy ``auto``,
  scheduler ``asha``), the same per-trial epochs as the hand CNN, the best configuration retrained on
  train+val (``search.retrain_best: true, retrain_on: train+val``). The 30-trial search is the
  12-trial one resumed to 30 trials, so its wall time is the 12-trial time plus the continuation
  (the samplers do not depend on the trial budget, so this is the same search as a fresh 30-trial
  one).

Every arm uses one intra-op thread; medians over the seeds. Wall time is what the goal names; on a shared
machine the process CPU time (``cpu_s``, one thread) is the steadier measure of the same work.

    nice -n 5 .venv/bin/python benchmarks/hand_baseline.py [--seeds 0,1,2] [--epochs 3]

Prints one JSON line per run, appends them to benchmarks/.cache/hand_baseline.jsonl and prints a
Markdown table of medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml
from torch import nn

from autoopt.data import load_data
from autoopt.models import build_model
from autoopt.pipeline import tune_spec
from autoopt.training import evaluate_model, fit

ROOT = Path(__file__).resolve().parents[1]
FASHION = ROOT.parent / "shared" / "data" / "fashion-mnist"
DATA = {
    "name": "fashion-mnist",
    "path": str(FASHION),
    "holdout_last": 2000,
    "split": {"train": 0.85, "val": 0.15, "test": 0.0},
}
CACHE = ROOT / "benchmarks" / ".cache" / "hand_baseline.jsonl"


def _tensors(ds: torch.utils.data.Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*[ds[i] for i in range(len(ds))], strict=True)
    return torch.stack(xs), torch.as_tensor(ys)


def hand_cnn(data, seed: int, epochs: int) -> dict:  # noqa: ANN001
    """The 26-line CNN a user would type (the PyTorch MNIST example's layout), on train+val."""
    xtr, ytr = _tensors(data.train)
    xv, yv = _tensors(data.val)
    x, y = torch.cat([xtr, xv]), torch.cat([ytr, yv])
    xte, yte = _tensors(data.test)
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    t0, c0 = time.time(), time.process_time()
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        acc = (net(xte).argmax(1) == yte).float().mean().item()
    return {"test_accuracy": acc, "wall_s": time.time() - t0, "cpu_s": time.process_time() - c0}


def autoopt_default(data, seed: int, epochs: int) -> dict:  # noqa: ANN001
    """autoopt's cnn with its defaults and the default training config, no search, on train+val."""
    joined = type(data)(
        torch.utils.data.ConcatDataset([data.train, data.val]), data.val, data.test, data.meta
    )
    t0, c0 = time.time(), time.process_time()
    torch.manual_seed(seed)
    model = build_model("cnn", {}, data.meta)
    fit(model, joined, {"epochs": epochs, "seed": seed, "device": "cpu"})
    acc = evaluate_model(model, data.test, batch_size=256, device="cpu", task="classification")["accuracy"]
    return {"test_accuracy": acc, "wall_s": time.time() - t0, "cpu_s": time.process_time() - c0}


def autoopt_tune(seed: int, epochs: int, trials: list[int], tmp: Path) -> list[dict]:
    """``autoopt tune`` with the default space, then resumed to each larger budget in ``trials``."""
    spec = {
        "name": f"hand_baseline_{seed}",
        "seed": seed,
        "threads": 1,
        "data": DATA,
        "model": {"name": "cnn"},
        "training": {"epochs": epochs, "device": "cpu"},
        "search": {
            "strategy": "auto",
            "scheduler": "asha",
            "space": "default",
            "retrain_best": True,
            "retrain_on": "train+val",
        },
    }
    path = tmp / f"spec_{seed}.yaml"
    path.write_text(yaml.safe_dump(spec))
    out, wall, cpu = [], 0.0, 0.0
    for n in trials:
        t0, c0 = time.time(), time.process_time()
        res = tune_spec(path, out=tmp / f"run_{seed}", trials=n)
        wall += time.time() - t0
        cpu += time.process_time() - c0
        best = res.search.best_trial
        out.append(
            {
                "trials": n,
                "test_accuracy": res.metrics["test_accuracy"],
                "best_val_accuracy": res.metrics.get("val_accuracy"),
                "wall_s": wall,
                "cpu_s": cpu,
                "best_params": dict(best.params) if best is not None else {},
                "pruned": sum(1 for t in res.search.trials if t.state == "PRUNED"),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--trials", default="12,30")
    args = ap.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    trials = [int(t) for t in args.trials.split(",")]
    data = load_data(DATA)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []

    def record(row: dict) -> None:
        row = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
        rows.append(row)
        print(json.dumps(row), flush=True)
        with CACHE.open("a") as f:
            f.write(json.dumps(row) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            record({"arm": "hand", "seed": seed, "epochs": args.epochs, **hand_cnn(data, seed, args.epochs)})
            record(
                {
                    "arm": "default",
                    "seed": seed,
                    "epochs": args.epochs,
                    **autoopt_default(data, seed, args.epochs),
                }
            )
            for r in autoopt_tune(seed, args.epochs, trials, Path(tmp)):
                record({"arm": f"tune{r['trials']}", "seed": seed, "epochs": args.epochs, **r})
    hand_wall = statistics.median(r["wall_s"] for r in rows if r["arm"] == "hand")
    print("\n| arm | test accuracy (median) | per seed | wall s (median) | x hand wall |")
    print("|---|---|---|---|---|")
    for arm in ["hand", "default"] + [f"tune{t}" for t in trials]:
        sel = [r for r in rows if r["arm"] == arm]
        acc = statistics.median(r["test_accuracy"] for r in sel)
        wall = statistics.median(r["wall_s"] for r in sel)
        per = ", ".join(f"{100 * r['test_accuracy']:.2f}" for r in sel)
        print(f"| {arm} | {100 * acc:.2f}% | {per} | {wall:.0f} | {wall / hand_wall:.1f}x |")


if __name__ == "__main__":
    main()
