"""Issue 16 benchmark: does knowledge distillation help a small student on real 28x28 images?

Fashion-MNIST split: the first 8,000 images of ``../shared/data/fashion-mnist``'s test set for
train/val (85/15), the last 2,000 as the test split. Per seed: a strong teacher (autoopt's ``cnn``
with 3 blocks of 32/64/128 channels and the grid head, one-cycle AdamW) is trained; then each small
student is trained alone and with KD (``autoopt.distill.distill`` with its defaults: alpha 0.9,
T = 4 with the T^2 factor, teacher in eval mode, the same data and no augmentation for both), from
the same initial weights and with the same training settings. Reported: median test error over the
seeds and the error ratio distilled / alone (target <= 0.9).

    nice -n 5 .venv/bin/python benchmarks/kd_fashion.py [--seeds 0,1,2] [--student-epochs 20]

Prints one JSON line per seed and a Markdown table; writes benchmarks/.cache/kd_fashion.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from autoopt.data import DataBundle, load_data
from autoopt.distill import distill
from autoopt.models import build_model, count_params
from autoopt.training import evaluate_model, fit

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache" / "kd_fashion.json"
DATA = {
    "name": "fashion-mnist",
    "path": str(ROOT.parent / "shared" / "data" / "fashion-mnist"),
    "holdout_last": 2000,
    "split": {"train": 0.85, "val": 0.15, "test": 0.0},
}
TEACHER = ("cnn", {"blocks": 3, "channels": 32, "dropout": 0.2})
TEACHER_TRAIN = {"epochs": 12, "lr": 3e-3, "schedule": "onecycle", "optimizer": "adamw", "device": "cpu"}
STUDENTS = {
    "cnn-2x8": ("cnn", {"blocks": 2, "channels": 8}),
    "mlp-1x64": ("mlp", {"depth": 1, "width": 64}),
}
STUDENT_TRAIN = {"lr": 3e-3, "schedule": "cosine", "optimizer": "adamw", "device": "cpu"}


def test_error(model: torch.nn.Module, data: DataBundle) -> float:
    return 1.0 - evaluate_model(model, data.test, device="cpu", task="classification")["accuracy"]


def build(spec: tuple[str, dict[str, Any]], data: DataBundle, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)  # the same initial weights for the student alone and distilled
    return build_model(spec[0], spec[1], data.meta)


def run_seed(data: DataBundle, seed: int, epochs: int) -> dict[str, Any]:
    teacher = build(TEACHER, data, seed)
    fit(teacher, data, {**TEACHER_TRAIN, "seed": seed})
    out: dict[str, Any] = {"seed": seed, "teacher": test_error(teacher, data), "students": {}}
    cfg = {**STUDENT_TRAIN, "epochs": epochs, "seed": seed}
    for label, spec in STUDENTS.items():
        alone = build(spec, data, seed)
        fit(alone, data, cfg)
        student = build(spec, data, seed)
        distill(student, teacher, data, cfg)  # the library's defaults: alpha 0.9, T = 4
        out["students"][label] = {"alone": test_error(alone, data), "kd": test_error(student, data)}
    return out


def table(runs: list[dict[str, Any]], data: DataBundle, epochs: int) -> str:
    teacher = statistics.median(r["teacher"] for r in runs)
    lines = [
        f"Test error on the {len(data.test)} test images (median over seeds {[r['seed'] for r in runs]}); "
        f"teacher {TEACHER[0]} {TEACHER[1]} ({count_params(build(TEACHER, data, 0))} params), "
        f"{TEACHER_TRAIN['epochs']} epochs: {100 * teacher:.2f}%. "
        f"Students: {epochs} epochs, {STUDENT_TRAIN}.",
        "",
        "| student | params | alone | distilled | ratio distilled/alone (per seed) | target <= 0.9 |",
        "|---|---|---|---|---|---|",
    ]
    for label, spec in STUDENTS.items():
        alone = statistics.median(r["students"][label]["alone"] for r in runs)
        kd = statistics.median(r["students"][label]["kd"] for r in runs)
        ratios = [r["students"][label]["kd"] / r["students"][label]["alone"] for r in runs]
        ratio = statistics.median(ratios)
        lines.append(
            f"| {label} | {count_params(build(spec, data, 0))} | {100 * alone:.2f}% | {100 * kd:.2f}% | "
            f"{ratio:.3f} ({', '.join(f'{x:.3f}' for x in ratios)}) | "
            f"{'met' if ratio <= 0.9 else 'NOT met'} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--student-epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = load_data(DATA)
    start = time.perf_counter()
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        runs.append(run_seed(data, seed, args.student_epochs))
        print(json.dumps(runs[-1]), f"({time.perf_counter() - start:.0f}s)", flush=True)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(json.dumps({"data": DATA, "runs": runs}, indent=2))
    print()
    print(table(runs, data, args.student_epochs))
    print(f"\n{time.perf_counter() - start:.0f}s in all")


if __name__ == "__main__":
    main()
