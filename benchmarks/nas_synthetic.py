"""Issue 7 benchmark: a synthetic NAS task with a known optimum.

Each architecture is 10 decisions of 5 options; the reward is the number of decisions matching a hidden
target architecture (the optimum is 10; a random architecture scores 2 on average). For random search,
TPE (autoopt ``tpe``), regularized evolution, RL-REINFORCE and RL-Q-learning, the number of trials until
one scores 9 (90% of the optimum), and the best score within the budget; medians over seeds.

    nice -n 10 .venv/bin/python benchmarks/nas_synthetic.py [--seeds 10] [--budget 300] [--out FILE]

Prints a markdown table (and writes it to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import optuna

from autoopt.strategies import StrategyContext, make_sampler

N_DECISIONS, N_OPTIONS, GOAL = 10, 5, 9
STRATEGIES: dict[str, tuple[str, dict]] = {
    "random": ("random", {}),
    "tpe": ("tpe", {}),
    "regularized-evolution": ("regularized-evolution", {}),
    "rl (reinforce)": ("rl", {"algorithm": "reinforce"}),
    "rl (q-learning)": ("rl", {"algorithm": "q-learning"}),
}


def run(label: str, seed: int, budget: int) -> tuple[str, int, float, float, float]:
    """One search; returns (label, seed, trials to reach GOAL (inf if never), best score, seconds)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name, options = STRATEGIES[label]
    target = np.random.RandomState(1000 + seed).randint(N_OPTIONS, size=N_DECISIONS)
    ctx = StrategyContext(seed=seed, n_trials=budget, directions=["maximize"], options=dict(options))
    study = optuna.create_study(direction="maximize", sampler=make_sampler(name, ctx))

    def objective(trial: optuna.Trial) -> float:
        ops = [trial.suggest_categorical(f"d{i}", list(range(N_OPTIONS))) for i in range(N_DECISIONS)]
        return float(sum(int(o == t) for o, t in zip(ops, target, strict=True)))

    start = time.perf_counter()
    study.optimize(objective, n_trials=budget)
    reached = next((t.number + 1 for t in study.trials if t.value is not None and t.value >= GOAL), math.inf)
    return label, seed, reached, float(study.best_value), time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--out", default=None, help="markdown file to write the table to")
    args = ap.parse_args()
    jobs = [(label, s, args.budget) for label in STRATEGIES for s in range(args.seeds)]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(run, *zip(*jobs, strict=True)))
    lines = [
        f"Synthetic NAS ({N_DECISIONS} decisions x {N_OPTIONS} options, reward = matches to a hidden "
        f"target, optimum 10), budget {args.budget}, seeds 0-{args.seeds - 1}.",
        "",
        f"| strategy | median trials to reach {GOAL} | runs reaching {GOAL} | median best | "
        "median seconds per run |",
        "|---|---|---|---|---|",
    ]
    for label in STRATEGIES:
        rows = [r for r in results if r[0] == label]
        reached = statistics.median(r[2] for r in rows)
        shown = f"> {args.budget}" if math.isinf(reached) else f"{reached:g}"
        n_ok = sum(not math.isinf(r[2]) for r in rows)
        lines.append(
            f"| {label} | {shown} | {n_ok}/{len(rows)} | {statistics.median(r[3] for r in rows):g} | "
            f"{statistics.median(r[4] for r in rows):.1f} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
