"""The fast proxy reward of a policy: held-out accuracy after pruning and BatchNorm recalibration.

As in AMC (He et al. 2018), a policy is scored without fine-tuning: the pruned model's BatchNorm
statistics are re-estimated on a few training batches (pruning shifts every later layer's input
distribution), then accuracy is measured on a held-out batch of the validation split. Optionally a
few SGD steps of fine-tuning run before the measurement (slower, closer to the final accuracy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from autoopt.compress.auto._space import PolicySpace
from autoopt.data import DataBundle
from autoopt.exceptions import InvalidSpecError

__all__ = ["ProxyReward", "recalibrate_batchnorm", "tensors"]


def tensors(dataset: object, limit: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``limit`` samples of a map-style dataset, drawn without replacement under ``seed``."""
    n = len(dataset)  # type: ignore[arg-type]
    if n == 0:
        raise InvalidSpecError("compress.prune: the data has an empty split; the proxy reward needs samples")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: min(limit, n)].tolist()
    items = [dataset[i] for i in order]  # type: ignore[index]
    x = torch.stack([torch.as_tensor(it[0]) for it in items]).float()
    y = torch.stack([torch.as_tensor(it[1]) for it in items])
    return x, y


def recalibrate_batchnorm(model: nn.Module, batches: Sequence[torch.Tensor]) -> None:
    """Re-estimate every BatchNorm's running mean/variance on ``batches`` (weights unchanged)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [(m.momentum, m.training) for m in norms]
    was_training = model.training
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
        m.train()
    with torch.no_grad():
        for x in batches:
            model(x)
    for m, (momentum, _) in zip(norms, saved):
        m.momentum = momentum
    model.train(was_training)


@dataclass
class ProxyReward:
    """Scores policies of a :class:`PolicySpace` on held-out data.

    Args:
        space: the policy space (its model is the unpruned one).
        data: the data; ``val`` (else ``train``) gives the held-out batch, ``train`` the BN batches.
        samples: held-out samples scored per policy.
        bn_batches: training batches for BatchNorm recalibration.
        batch_size: their size.
        finetune_steps: SGD steps before scoring (0: none, AMC's proxy).
        lr: learning rate of those steps.
        seed: which samples are drawn.
    """

    space: PolicySpace
    data: DataBundle
    samples: int = 512
    bn_batches: int = 8
    batch_size: int = 64
    finetune_steps: int = 0
    lr: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        held = self.data.val if len(self.data.val) > 0 else self.data.train  # type: ignore[arg-type]
        self.x, self.y = tensors(held, self.samples, self.seed)
        xt, yt = tensors(self.data.train, self.bn_batches * self.batch_size, self.seed + 1)
        self.bn = list(torch.split(xt, self.batch_size))
        self.train_batches = list(zip(torch.split(xt, self.batch_size), torch.split(yt, self.batch_size)))
        self.evaluations = 0
        self.baseline = self.accuracy(self.space.model)

    def accuracy(self, model: nn.Module) -> float:
        """Top-1 accuracy of ``model`` on the held-out batch."""
        model.eval()
        with torch.no_grad():
            pred = model(self.x).argmax(dim=1)
        return float((pred == self.y).float().mean())

    def model(self, ratios: Sequence[float]) -> nn.Module:
        """The pruned, recalibrated (and optionally briefly fine-tuned) model of a policy."""
        pruned = self.space.apply(ratios)
        recalibrate_batchnorm(pruned, self.bn)
        if self.finetune_steps > 0:
            opt = torch.optim.SGD(pruned.parameters(), lr=self.lr, momentum=0.9)
            pruned.train()
            for step in range(self.finetune_steps):
                x, y = self.train_batches[step % len(self.train_batches)]
                opt.zero_grad()
                nn.functional.cross_entropy(pruned(x), y).backward()
                opt.step()
        return pruned.eval()

    def __call__(self, ratios: Sequence[float]) -> float:
        """The reward of a policy: held-out accuracy in ``[0, 1]``."""
        self.evaluations += 1
        return self.accuracy(self.model(ratios))
