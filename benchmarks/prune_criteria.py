"""Pruning criteria against the random baseline at equal MACs, on a small ResNet trained on digits.

For each seed: train a small ResNet on the built-in digits data, then prune 50% of the channels of
every layer (``scope: layer``, so every criterion yields the same architecture: equal params and
MACs) with each criterion, and record validation accuracy right after pruning and after ``--finetune``
epochs of fine-tuning. Medians over ``--seeds`` seeds (base model, random scores and fine-tuning
all follow the seed). One intra-op thread.

Run: ``nice -n 10 python benchmarks/prune_criteria.py [--seeds 3] [--epochs 15] [--finetune 3]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from autoopt.compress.prune import list_criteria, prune
from autoopt.data import load_data
from autoopt.models import build_model, count_macs, count_params
from autoopt.training import evaluate_model, fit

MODEL = {"stages": 3, "width": 16, "blocks": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15, help="training epochs of the base model")
    parser.add_argument("--finetune", type=int, default=3, help="fine-tuning epochs after pruning")
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_data({"name": "digits"})
    train = {"lr": 0.01, "device": "cpu", "batch_size": 64}
    shape = tuple(data.meta.input_shape)
    rows: dict[str, dict[str, list[float]]] = {}
    base_acc: list[float] = []
    sizes: dict[str, tuple[int, int]] = {}
    start = time.perf_counter()
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        model = build_model("resnet", MODEL, data.meta)
        fit(model, data, {**train, "epochs": args.epochs, "schedule": "cosine", "seed": seed})
        base_acc.append(evaluate_model(model, data.val, device="cpu")["accuracy"])
        sizes["unpruned"] = (count_params(model), count_macs(model, shape))
        for criterion in list_criteria():
            cfg = {"ratio": args.ratio, "criterion": criterion, "scope": "layer", "seed": seed}
            cut, report = prune(model, cfg, data=data)
            tuned, _ = prune(
                model,
                {**cfg, "finetune_epochs": args.finetune},
                data=data,
                train_config={**train, "seed": seed},
            )
            row = rows.setdefault(criterion, {"pruned": [], "tuned": []})
            row["pruned"].append(evaluate_model(cut, data.val, device="cpu")["accuracy"])
            row["tuned"].append(evaluate_model(tuned, data.val, device="cpu")["accuracy"])
            sizes[criterion] = (report.params_after, report.macs_after)
    elapsed = time.perf_counter() - start

    params0, macs0 = sizes["unpruned"]
    print(
        f"ResNet {MODEL} on digits ({len(data.train)} train / {len(data.val)} val), "
        f"ratio {args.ratio} per layer, "
        f"{args.seeds} seeds, base {args.epochs} epochs, fine-tune {args.finetune} epochs, "
        f"{args.threads} thread(s), {elapsed:.0f} s"
    )
    print(
        f"unpruned: params {params0}, MACs {macs0}, val accuracy median {statistics.median(base_acc):.3f}\n"
    )
    print("| criterion | params | MACs | acc. after pruning | acc. after fine-tuning |")
    print("|---|---|---|---|---|")
    for criterion, row in rows.items():
        params, macs = sizes[criterion]
        print(
            f"| {criterion} | {params} ({params / params0:.0%}) | {macs} ({macs / macs0:.0%}) | "
            f"{statistics.median(row['pruned']):.3f} | {statistics.median(row['tuned']):.3f} |"
        )


if __name__ == "__main__":
    main()
