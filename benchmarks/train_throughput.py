"""Training throughput: ``autoopt.training.fit`` against a plain hand-written PyTorch loop.

Both sides train the same small CNN on the same random data (shaped like 8x8 digits, and one
28x28 case) with the same optimizer, batch size and ``torch.set_num_threads``, and both evaluate
the validation split once per epoch. Wall-clock samples/s over the whole run, median over
``--repeats`` interleaved repeats; the ratio is plain / fit (1.00 = no overhead, the target is
<= 1.15). A third row, a plain loop fed by a ``DataLoader``, shows what per-sample collation costs.

Run: ``python benchmarks/train_throughput.py [--threads 2] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from autoopt.data._bundle import DataBundle, DatasetMeta
from autoopt.training import fit


@dataclass
class Case:
    name: str
    side: int
    n_train: int
    n_val: int
    batch_size: int
    epochs: int


CASES = [
    Case("digits 8x8", 8, 1440, 357, 64, 6),
    Case("digits 8x8, batch 16", 8, 1440, 357, 16, 3),
    Case("mnist-like 28x28", 28, 4096, 1024, 128, 2),
]


def small_cnn(side: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (side // 2) ** 2, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def make_data(case: Case) -> tuple[TensorDataset, TensorDataset]:
    g = torch.Generator().manual_seed(0)
    n = case.n_train + case.n_val
    x = torch.randn(n, 1, case.side, case.side, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return TensorDataset(x[: case.n_train], y[: case.n_train]), TensorDataset(
        x[case.n_train :], y[case.n_train :]
    )


def run_fit(case: Case, train: TensorDataset, val: TensorDataset) -> float:
    meta = DatasetMeta("bench", "classification", (1, case.side, case.side), num_classes=10)
    data = DataBundle(train, val, val, meta)
    model = small_cnn(case.side)
    cfg = {
        "epochs": case.epochs,
        "batch_size": case.batch_size,
        "optimizer": "adam",
        "lr": 1e-3,
        "device": "cpu",
        "mixed_precision": "off",
    }
    start = time.perf_counter()
    fit(model, data, cfg)
    return case.n_train * case.epochs / (time.perf_counter() - start)


def _plain_eval(model: nn.Module, batches: Callable[[], object]) -> float:
    model.eval()
    correct = torch.zeros((), dtype=torch.long)
    total = 0
    with torch.no_grad():
        for xb, yb in batches():  # type: ignore[attr-defined]
            correct += (model(xb).argmax(1) == yb).sum()
            total += yb.shape[0]
    return correct.item() / total


def run_plain(case: Case, train: TensorDataset, val: TensorDataset) -> float:
    """The loop a person would write by hand: randperm + tensor indexing, Adam, eval per epoch."""
    model = small_cnn(case.side)
    start = time.perf_counter()
    x, y = train.tensors
    vx, vy = val.tensors
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    bs, n = case.batch_size, x.shape[0]
    for _ in range(case.epochs):
        model.train()
        total = torch.zeros(())
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        _ = total.item()
        _plain_eval(
            model, lambda: ((vx[i : i + 2 * bs], vy[i : i + 2 * bs]) for i in range(0, len(vx), 2 * bs))
        )
    return case.n_train * case.epochs / (time.perf_counter() - start)


def run_plain_dataloader(case: Case, train: TensorDataset, val: TensorDataset) -> float:
    """The same loop fed by a DataLoader (per-sample __getitem__ + collate)."""
    model = small_cnn(case.side)
    start = time.perf_counter()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(
        train, batch_size=case.batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    val_loader = DataLoader(val, batch_size=2 * case.batch_size)
    for _ in range(case.epochs):
        model.train()
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _plain_eval(model, lambda: val_loader)
    return case.n_train * case.epochs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads for every side")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats per case (median)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats} repeats, samples/s")
    print(f"{'case':<24}{'plain':>10}{'fit':>10}{'plain/fit':>11}{'DataLoader':>12}")
    for case in CASES:
        train, val = make_data(case)
        run_fit(case, train, val)  # warm-up (first-call allocations, lazy imports)
        run_plain(case, train, val)
        runs: dict[str, list[float]] = {"plain": [], "fit": [], "loader": []}
        for _ in range(args.repeats):
            runs["plain"].append(run_plain(case, train, val))
            runs["fit"].append(run_fit(case, train, val))
            runs["loader"].append(run_plain_dataloader(case, train, val))
        med = {k: statistics.median(v) for k, v in runs.items()}
        ratio = med["plain"] / med["fit"]
        print(f"{case.name:<24}{med['plain']:>10.0f}{med['fit']:>10.0f}{ratio:>11.3f}{med['loader']:>12.0f}")


if __name__ == "__main__":
    main()
