"""Issue 7 benchmark: NAS strategies, one-shot NAS and the best architecture found, on real data.

Method (as NAS-Bench-101/201 do, at CPU scale): every architecture of a small ``nas-macro`` space
(272 architectures: 1-2 stages of one block, width 16/32, stride 1/2, op conv3x3 / dwsep3x3 /
mbconv3x3_e3 / skip) is trained once stand-alone with a fixed recipe, and its validation and test
accuracy, parameters, MACs and training seconds are stored in a table. The strategies (random, TPE,
regularized evolution, RL-REINFORCE, RL-Q-learning) then search the same space through autoopt's own
samplers, each trial looking its architecture up in the table, so many seeds cost nothing more and
every strategy sees exactly the same accuracies. Equal budgets are equal trials and equal summed
training seconds (the wall time the search would have taken).

Then one-shot: a single-path supernet (``autoopt.nas.oneshot``) is trained once on the same data, every
architecture is scored with inherited weights (batch norm recalibrated), and the Kendall tau between
one-shot scores and stand-alone accuracy is computed over all 272 architectures.

Finally the best architecture with no more parameters than the ``cnn`` builder's default model is
retrained next to that default with the same recipe (3 seeds): test accuracy and batch-1 latency.

    nice -n 10 .venv/bin/python benchmarks/nas_table.py --dataset digits [--seeds 10] [--out FILE]
    nice -n 10 .venv/bin/python benchmarks/nas_table.py --dataset fashion [--seeds 5]

The table is cached in ``benchmarks/.cache/nas_table_<dataset>.json`` (resumable).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import torch
from scipy.stats import kendalltau

from autoopt.data import DataConfig, load_data
from autoopt.evaluate import measure_latency
from autoopt.models import build_model, count_macs, count_params
from autoopt.nas import build_architecture, nas_space
from autoopt.nas.oneshot import SuperNet, train_supernet
from autoopt.strategies import StrategyContext, make_sampler
from autoopt.training import TrainConfig, evaluate_model, fit

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
FASHION = ROOT.parent / "shared" / "data" / "fashion-mnist"
LIMITS = {
    "max_stages": 2,
    "max_blocks": 1,
    "widths": [16, 32],
    "stem_widths": [16],
    "ops": ["conv3x3", "dwsep3x3", "mbconv3x3_e3", "skip"],
    "se": False,
}
DATASETS = {
    "digits": (
        {"name": "digits"},
        {"epochs": 8, "batch_size": 64, "optimizer": "adamw", "lr": 3e-3, "device": "cpu"},
        None,
    ),
    # The Fashion-MNIST test set split as its README says: the last 2,000 images are the test split;
    # of the first 8,000, 85% train / 15% val. Table entries train on 2,000 of those training images.
    "fashion": (
        {
            "name": "fashion-mnist",
            "path": str(FASHION),
            "holdout_last": 2000,
            "split": {"train": 0.85, "val": 0.15, "test": 0.0},
        },
        {"epochs": 3, "batch_size": 64, "optimizer": "adamw", "lr": 3e-3, "device": "cpu"},
        2000,
    ),
}
STRATEGIES: dict[str, tuple[str, dict]] = {
    "random": ("random", {}),
    "tpe": ("tpe", {}),
    "regularized-evolution": ("regularized-evolution", {"population_size": 10, "sample_size": 3}),
    "rl (reinforce)": ("rl", {"algorithm": "reinforce"}),
    "rl (q-learning)": ("rl", {"algorithm": "q-learning"}),
}


def all_architectures(meta: Any) -> list[dict[str, Any]]:
    """Every architecture of the space (the space's active decisions, enumerated)."""
    ops, widths, downs = LIMITS["ops"], LIMITS["widths"], [True, False]
    out = []
    for stages in (1, 2):
        for combo in itertools.product(*[list(itertools.product(widths, downs, ops))] * stages):
            arch: dict[str, Any] = {"stem_width": 16, "stages": stages}
            for k, (w, d, op) in enumerate(combo, 1):
                arch.update(
                    {
                        f"s{k}_width": w,
                        f"s{k}_blocks": 1,
                        f"s{k}_downsample": d,
                        f"s{k}_se": False,
                        f"s{k}_b1_op": op,
                    }
                )
            out.append(arch)
    return out


def key(arch: dict[str, Any]) -> str:
    return json.dumps(arch, sort_keys=True)


def subset(data: Any, n: int | None, seed: int = 0) -> Any:
    if n is None or n >= len(data.train):
        return data
    import dataclasses

    from torch.utils.data import Subset

    g = torch.Generator().manual_seed(seed)
    idx = sorted(torch.randperm(len(data.train), generator=g)[:n].tolist())
    return dataclasses.replace(data, train=Subset(data.train, idx))


def build_table(name: str) -> dict[str, dict[str, Any]]:
    data_cfg, training, n_train = DATASETS[name]
    path = CACHE / f"nas_table_{name}.json"
    table: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.is_file() else {}
    data = subset(load_data(DataConfig(**data_cfg)), n_train)
    archs = all_architectures(data.meta)
    todo = [a for a in archs if key(a) not in table]
    print(f"[{name}] table: {len(table)}/{len(archs)} cached, training {len(todo)}", flush=True)
    for i, arch in enumerate(todo):
        torch.manual_seed(0)
        model = build_architecture("nas-macro", arch, data.meta)
        start = time.perf_counter()
        res = fit(model, data, TrainConfig(seed=0, **training))
        seconds = time.perf_counter() - start
        test = evaluate_model(model, data.test, batch_size=256, device="cpu", task=data.meta.task)
        table[key(arch)] = {
            "val_accuracy": res.val_metrics["accuracy"],
            "test_accuracy": test["accuracy"],
            "params": count_params(model),
            "macs": count_macs(model, data.meta.input_shape),
            "train_s": round(seconds, 3),
        }
        if i % 10 == 9 or i == len(todo) - 1:
            CACHE.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(table))
            print(f"[{name}] {len(table)}/{len(archs)}", flush=True)
    return table


def search(table: dict[str, dict[str, Any]], meta: Any, label: str, seed: int, budget: int) -> list[str]:
    """The architectures one strategy visits in ``budget`` trials (table lookups)."""
    name, options = STRATEGIES[label]
    space = nas_space("nas-macro", meta, **LIMITS)
    ctx = StrategyContext(seed=seed, n_trials=budget, directions=["maximize"], options=dict(options))
    study = optuna.create_study(direction="maximize", sampler=make_sampler(name, ctx))
    visited = []
    for _ in range(budget):
        trial = study.ask()
        arch = space.sample(trial)
        arch = {k: v for k, v in arch.items() if k in _active_keys(arch)}
        visited.append(key(arch))
        study.tell(trial, table[key(arch)]["val_accuracy"])
    return visited


def _active_keys(arch: dict[str, Any]) -> set[str]:
    keys = {"stem_width", "stages"}
    for k in range(1, int(arch["stages"]) + 1):
        keys |= {f"s{k}_width", f"s{k}_blocks", f"s{k}_downsample", f"s{k}_se", f"s{k}_b1_op"}
    return keys


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def compare(table: dict[str, dict[str, Any]], meta: Any, seeds: int, budgets: list[int]) -> list[str]:
    best_val = max(r["val_accuracy"] for r in table.values())
    best_test = table[max(table, key=lambda k: table[k]["val_accuracy"])]["test_accuracy"]
    mean_s = statistics.mean(r["train_s"] for r in table.values())
    lines = [
        f"Table optimum: val {best_val:.4f} (its test accuracy {best_test:.4f}); median val over the space "
        f"{med([r['val_accuracy'] for r in table.values()]):.4f}; mean training time per architecture "
        f"{mean_s:.2f} s.",
        "",
        "| strategy | "
        + " | ".join(f"best val @{b} (IQR) | test of pick @{b}" for b in budgets)
        + f" | best val @ {budgets[0]} x mean train s of wall time | found optimum by {budgets[-1]} |",
        "|---|" + "---|---|" * len(budgets) + "---|---|",
    ]
    wall = budgets[0] * mean_s
    for label in STRATEGIES:
        runs = [search(table, meta, label, s, max(budgets)) for s in range(seeds)]
        cells = []
        for b in budgets:
            vals, tests = [], []
            for visited in runs:
                pick = max(visited[:b], key=lambda k: table[k]["val_accuracy"])
                vals.append(table[pick]["val_accuracy"])
                tests.append(table[pick]["test_accuracy"])
            q = statistics.quantiles(vals, n=4) if len(vals) > 1 else [vals[0]] * 3
            cells.append(f"{med(vals):.4f} ({q[0]:.4f}-{q[2]:.4f}) | {med(tests):.4f}")
        walls = []
        for visited in runs:  # equal wall time: the trials whose summed training time fits the budget
            spent, best = 0.0, 0.0
            for k in visited:
                spent += table[k]["train_s"]
                if spent > wall:
                    break
                best = max(best, table[k]["val_accuracy"])
            walls.append(best)
        found = sum(any(table[k]["val_accuracy"] >= best_val for k in v) for v in runs)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {med(walls):.4f} | {found}/{seeds} |")
    return lines


def one_shot(name: str, table: dict[str, dict[str, Any]], epochs: int) -> list[str]:
    data_cfg, training, n_train = DATASETS[name]
    data = subset(load_data(DataConfig(**data_cfg)), n_train)
    torch.manual_seed(0)
    net = SuperNet(data.meta, **LIMITS)
    stats = train_supernet(net, data, epochs=epochs, batch_size=training["batch_size"], lr=0.05, seed=0)
    start = time.perf_counter()
    keys = list(table)
    scores = [
        net.score(json.loads(k), data, calibration_batches=8, batch_size=128)["val_accuracy"] for k in keys
    ]
    score_s = time.perf_counter() - start
    truth = [table[k]["val_accuracy"] for k in keys]
    tau = kendalltau(scores, truth).statistic
    top = keys[max(range(len(keys)), key=lambda i: scores[i])]
    rank = sorted(truth, reverse=True).index(table[top]["val_accuracy"]) + 1
    total_s = sum(table[k]["train_s"] for k in keys)
    return [
        f"One-shot on {name}: supernet {epochs} epochs in {stats.seconds:.1f} s ({stats.steps} steps, final "
        f"loss {stats.final_loss:.3f}); scoring all {len(keys)} architectures (BN recalibrated, 8 batches "
        f"each) {score_s:.1f} s. Training all {len(keys)} stand-alone took {total_s:.0f} s.",
        f"Kendall tau (one-shot score vs stand-alone val accuracy, all {len(keys)}): **{tau:.3f}**. "
        f"The supernet's top-1 architecture has stand-alone val {table[top]['val_accuracy']:.4f} "
        f"(rank {rank} of {len(keys)}; optimum {max(truth):.4f}); one-shot scores range "
        f"{min(scores):.3f}-{max(scores):.3f}.",
    ]


def versus_baseline(name: str, table: dict[str, dict[str, Any]], seeds: int) -> list[str]:
    data_cfg, training, _ = DATASETS[name]
    data = load_data(DataConfig(**data_cfg))  # the whole training split
    baseline = build_model("cnn", {}, data.meta)
    limit = count_params(baseline)
    fits = [k for k in table if table[k]["params"] <= limit]
    best = max(fits, key=lambda k: table[k]["val_accuracy"])
    rows = []
    for label, make in (
        ("cnn (builder default)", lambda: build_model("cnn", {}, data.meta)),
        (
            "best nas-macro <= its params",
            lambda: build_architecture("nas-macro", json.loads(best), data.meta),
        ),
    ):
        accs = []
        for s in range(seeds):
            torch.manual_seed(s)
            model = make()
            fit(model, data, TrainConfig(**{**training, "seed": s}))
            accs.append(
                evaluate_model(model, data.test, batch_size=256, device="cpu", task="classification")[
                    "accuracy"
                ]
            )
        lat = measure_latency(model.eval(), data.meta.input_shape, batch_sizes=[1], repeats=200, threads=1)
        rows.append(
            f"| {label} | {count_params(model):,} | {count_macs(model, data.meta.input_shape):,} | "
            f"{med(accs):.4f} ({min(accs):.4f}-{max(accs):.4f}) | {lat.row(1).p50_ms:.3f} |"
        )
    return [
        f"Best table architecture with <= {limit:,} params (the `cnn` default's count): `{best}`.",
        "",
        f"| model | params | MACs | test accuracy, median of {seeds} seeds (min-max) | batch-1 p50 ms |",
        "|---|---|---|---|---|",
        *rows,
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=list(DATASETS), default="digits")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budgets", default="15,30,60")
    ap.add_argument("--supernet-epochs", type=int, default=60)
    ap.add_argument("--baseline-seeds", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: oneshot,baseline")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.time()
    table = build_table(args.dataset)
    data_cfg, _, n_train = DATASETS[args.dataset]
    meta = load_data(DataConfig(**data_cfg)).meta
    budgets = [int(b) for b in args.budgets.split(",")]
    lines = [f"### {args.dataset}", "", *compare(table, meta, args.seeds, budgets), ""]
    print("\n".join(lines), flush=True)
    skip = set(filter(None, args.skip.split(",")))
    if "oneshot" not in skip:
        lines += [*one_shot(args.dataset, table, args.supernet_epochs), ""]
        print("\n".join(lines[-3:]), flush=True)
    if "baseline" not in skip:
        lines += [*versus_baseline(args.dataset, table, args.baseline_seeds), ""]
    lines.append(f"({time.time() - started:.0f} s for this run, table cached; `{' '.join(sys.argv)}`)")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
