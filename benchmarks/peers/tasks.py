"""The tasks every peer solves: data splits, search spaces, the shared torch model and training loop.

One place defines each task, so every peer sees the same splits, the same space and the same epoch
budget. Optuna, Hyperopt and autoopt all call :func:`train_torch` (the same torch model and loop);
Keras Tuner builds the mirror model in ``peer_keras.py`` (same layers, initializers, optimizer, epochs,
batch size).

Spaces use autoopt's dict form (``{"type": "float"|"int"|"categorical", ...}``); each runner translates
it into its peer's own vocabulary.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # benchmarks/: the HPO suite's synthetic functions

SPLIT_SEED = 0  # one split for every peer and every seed; the run seed varies the search and the init
SYNTHETIC = ["branin", "hartmann6", "rosenbrock4", "ackley10"]


@dataclass
class NNTask:
    name: str
    kind: str  # "cnn" or "mlp"
    space: dict[str, Any]
    epochs: int
    batch_size: int
    target: float  # val accuracy whose first reaching time is reported
    note: str
    data: dict[str, np.ndarray] = field(default_factory=dict)


NN_TASKS: dict[str, dict[str, Any]] = {
    "digits": {
        "kind": "cnn",
        "space": {
            "lr": {"type": "float", "low": 1e-4, "high": 3e-2, "log": True},
            "channels": {"type": "categorical", "choices": [8, 16, 32]},
            "hidden": {"type": "categorical", "choices": [32, 64, 128]},
            "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        },
        "epochs": 8,
        "batch_size": 64,
        "target": 0.98,
        "note": "sklearn digits 8x8, 70/15/15 stratified split; CNN conv(c)-pool-conv(2c)-pool-dense(h)-10",
    },
    "breast_cancer": {
        "kind": "mlp",
        "space": {
            "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            "width": {"type": "categorical", "choices": [16, 32, 64, 128]},
            "depth": {"type": "int", "low": 1, "high": 3},
            "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        },
        "epochs": 10,
        "batch_size": 64,
        "target": 0.98,
        "note": "sklearn breast_cancer (569 x 30), 70/15/15 stratified split, standardized; "
        "MLP depth x width",
    },
}


def is_nn(task: str) -> bool:
    return task in NN_TASKS


def load_nn_task(name: str) -> NNTask:
    """The task with its splits (float32 features, int64 labels); the same arrays for every peer."""
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split

    cfg = NN_TASKS[name]
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)  # NCHW; Keras gets the NHWC transpose
    else:
        X, y = load_breast_cancer(return_X_y=True)
        X = X.astype(np.float32)
    idx = np.arange(len(X))
    tr, rest = train_test_split(idx, test_size=0.30, stratify=y, random_state=SPLIT_SEED)
    va, te = train_test_split(rest, test_size=0.50, stratify=y[rest], random_state=SPLIT_SEED)
    if name != "digits":
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-6
        X = ((X - mu) / sd).astype(np.float32)
    y = y.astype(np.int64)
    data = {
        "Xtr": X[tr], "ytr": y[tr], "Xva": X[va], "yva": y[va], "Xte": X[te], "yte": y[te],
        "n_classes": np.array(int(y.max()) + 1),
    }
    return NNTask(name=name, data=data, **cfg)


# ------------------------------------------------------------------------------------------- torch model
def build_torch(kind: str, params: dict[str, Any], n_in: int, n_classes: int) -> Any:
    """The model family. Initialization mirrors Keras' defaults (Glorot-uniform weights, zero biases)."""
    import torch
    from torch import nn

    if kind == "cnn":
        c, h = int(params["channels"]), int(params["hidden"])
        model = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(float(params["dropout"])), nn.Linear(2 * c * 2 * 2, h), nn.ReLU(),
            nn.Linear(h, n_classes),
        )
    else:
        layers: list[Any] = []
        width, prev = int(params["width"]), n_in
        for _ in range(int(params["depth"])):
            layers += [nn.Linear(prev, width), nn.ReLU(), nn.Dropout(float(params["dropout"]))]
            prev = width
        layers.append(nn.Linear(prev, n_classes))
        model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    return model


def train_torch(
    task: NNTask,
    params: dict[str, Any],
    report: Callable[[float, int], None] | None = None,
    out: dict[str, float] | None = None,
) -> dict[str, float]:
    """Train one configuration; Adam, cross-entropy, shuffled mini-batches, val (and test) every epoch.

    ``report(val_acc, epoch)`` is called after each epoch (it may raise to stop the trial early).
    Returns the best epoch's validation accuracy, the test accuracy of that epoch's weights (never seen by
    any optimizer; it is the "test metric of the selected model") and the number of epochs trained, in
    ``out`` (updated before each ``report`` call, so a stopped trial's partial result is there too).
    """
    import torch
    import torch.nn.functional as F

    d = task.data
    Xtr, ytr = torch.from_numpy(d["Xtr"]), torch.from_numpy(d["ytr"])
    Xva, yva = torch.from_numpy(d["Xva"]), torch.from_numpy(d["yva"])
    Xte, yte = torch.from_numpy(d["Xte"]), torch.from_numpy(d["yte"])
    n_in = int(np.prod(d["Xtr"].shape[1:]))
    model = build_torch(task.kind, params, n_in, int(d["n_classes"]))
    opt = torch.optim.Adam(model.parameters(), lr=float(params["lr"]), eps=1e-7)  # Keras' epsilon
    best = out if out is not None else {}
    best.update(val_acc=0.0, test_acc=0.0, epochs=0)
    n = len(Xtr)
    for epoch in range(task.epochs):
        model.train()
        perm = torch.randperm(n)
        for i in range(0, n, task.batch_size):
            b = perm[i : i + task.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(Xtr[b]), ytr[b])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            va = float((model(Xva).argmax(1) == yva).float().mean())
            te = float((model(Xte).argmax(1) == yte).float().mean())
        if not math.isfinite(loss.item()):
            break
        best["epochs"] = epoch + 1
        if va > best["val_acc"]:
            best["val_acc"], best["test_acc"] = va, te
        if report is not None:
            report(va, epoch)
    return best


# ------------------------------------------------------------------------------------------- synthetic
def synthetic_problem(name: str) -> Any:
    """The HPO suite's problem (space in autoopt's dict form, ``f``, known optimum ``fopt``)."""
    import hpo_suite

    return hpo_suite.make_problem(name)


class Recorder:
    """Per-trial (value, wall time, CPU time since the run started) in the order trials finish."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()
        self.trials: list[dict[str, Any]] = []

    def add(self, value: float, **extra: Any) -> None:
        self.trials.append(
            {
                "value": float(value),
                "wall_s": time.perf_counter() - self.t0,
                "cpu_s": time.process_time() - self.c0,
                **extra,
            }
        )

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def eval_nn(task: NNTask, params: dict[str, Any], rec: Recorder, report: Any = None) -> float:
    """The objective of the torch peers on an NN task: train, record the trial, return its val accuracy.

    A trial stopped early (any peer's "pruned" exception) or failed is recorded with what it reached."""
    out: dict[str, float] = {}
    try:
        train_torch(task, params, report, out=out)
    except BaseException as e:
        state = "pruned" if type(e).__name__ == "TrialPruned" else "fail"
        val, test = out.get("val_acc", 0.0), out.get("test_acc", 0.0)
        rec.add(val, test=test, epochs=out.get("epochs", 0), state=state)
        raise
    rec.add(out["val_acc"], test=out["test_acc"], epochs=out["epochs"], state="complete")
    return out["val_acc"]


def eval_synthetic(prob: Any, params: dict[str, Any], rec: Recorder) -> float:
    v = float(prob.f(params))
    rec.add(v, state="complete")
    return v
