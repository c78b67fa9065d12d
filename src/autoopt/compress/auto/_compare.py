"""The comparison harness: searched policies vs uniform ratios at one budget and evaluation count.

Each method (``uniform``: the same ratio in every layer, the least that meets the budget; ``ddpg``
and the strategies: the best of ``episodes`` evaluated policies) gives one pruned model, measured on
the test split before fine-tuning (BatchNorm recalibrated only) and after ``finetune_epochs`` of
training. The benchmark ``benchmarks/compress_auto.py`` and the tests run it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import nn

from autoopt.compress.auto._reward import HeldOut, ProxyReward, tensors
from autoopt.compress.auto._search import search_policy, uniform_policy
from autoopt.compress.auto._space import PolicySpace
from autoopt.compress.prune._structured import example_batch
from autoopt.data import DataBundle
from autoopt.training import TrainConfig, fit

__all__ = ["MethodRow", "compare_policies", "accuracy_on_test"]


@dataclass
class MethodRow:
    """One method's pruned model at the budget."""

    method: str
    ratios: list[float]
    macs_fraction: float
    params_fraction: float
    proxy: float
    test_before: float
    test_after: float | None
    evaluations: int
    search_seconds: float
    #: the evaluation (1-based) that found the returned policy; 0 for ``uniform``.
    best_at: int = 0
    #: the fine-tuned model (the pruned one without ``finetune``); not serialized.
    model: nn.Module | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}


def accuracy_on_test(model: nn.Module, data: DataBundle, limit: int = 10_000) -> float:
    """Top-1 accuracy of a torch model on (up to ``limit`` samples of) the test split."""
    x, y = tensors(data.test, limit, 0)
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in zip(torch.split(x, 256), torch.split(y, 256), strict=False):
            correct += int((model(xb).argmax(1) == yb).sum())
    return correct / len(y)


def compare_policies(
    model: nn.Module,
    data: DataBundle,
    *,
    budget: Mapping[str, float],
    methods: Sequence[str] = ("uniform", "random", "tpe", "ddpg"),
    episodes: int = 60,
    seed: int = 0,
    max_ratio: float = 0.8,
    finetune: TrainConfig | Mapping[str, Any] | None = None,
    samples: int = 512,
    bn_batches: int = 8,
) -> list[MethodRow]:
    """Prune ``model`` to ``budget`` with each method and measure it.

    Args:
        model: the trained model (not modified).
        data: train (BN batches, fine-tuning), val (the proxy's held-out batch), test (the rows).
        budget: ``{macs | params: fraction}``.
        methods: ``uniform``, ``ddpg`` or strategy names.
        episodes: evaluations per searching method.
        seed: seeds the searches.
        max_ratio: the largest ratio of one layer.
        finetune: training options for fine-tuning each pruned model (``None``: no fine-tuning).
        samples: held-out samples of the proxy.
        bn_batches: BN recalibration batches of the proxy.

    Returns:
        One :class:`MethodRow` per method, in order.
    """
    shape = tuple(data.meta.input_shape)
    space = PolicySpace(model, example_batch(model, data, shape, seed, n=4), max_ratio=max_ratio, seed=seed)
    held = HeldOut(data, samples=samples, bn_batches=bn_batches, seed=seed)
    reward = ProxyReward(space, held)
    bound = dict(budget)
    space.check_budget(bound)
    rows = []
    for method in methods:
        t0 = time.perf_counter()
        if method == "uniform":
            ratios, evaluations, best_at = uniform_policy(space, bound), 0, 0
        else:
            res = search_policy(space, reward, budget=bound, agent=method, episodes=episodes, seed=seed)
            ratios, evaluations = res.ratios, res.evaluations
            best_at = 1 + next(i for i, t in enumerate(res.history) if t.reward == res.reward)
        seconds = time.perf_counter() - t0
        pruned = reward.model(ratios)
        proxy = reward.accuracy(pruned)
        before = accuracy_on_test(pruned, data)
        after, tuned = None, pruned
        if finetune is not None:
            tuned = copy.deepcopy(pruned)
            cfg = finetune if isinstance(finetune, TrainConfig) else TrainConfig(**dict(finetune))
            fit(tuned, data, cfg)
            after = accuracy_on_test(tuned, data)
        rows.append(
            MethodRow(
                method,
                list(ratios),
                space.cost(ratios, "macs") / space.full_cost("macs"),
                space.cost(ratios, "params") / space.full_cost("params"),
                proxy,
                before,
                after,
                evaluations,
                seconds,
                best_at,
                tuned,
            )
        )
    return rows
