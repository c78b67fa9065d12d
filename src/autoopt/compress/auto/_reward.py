"""The fast proxy reward of a policy: held-out accuracy after pruning and BatchNorm recalibration.

As in AMC (He et al. 2018), a policy is scored without fine-tuning: the pruned model's BatchNorm
statistics are re-estimated on a few training batches (pruning shifts every later layer's input
distribution), then accuracy is measured on a held-out batch of the validation split. Optionally a
few SGD steps of fine-tuning run before the measurement (slower, closer to the final accuracy).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from autoopt.compress.auto._space import PolicySpace
from autoopt.data import DataBundle
from autoopt.exceptions import InvalidSpecError

__all__ = ["HeldOut", "ProxyReward", "recalibrate_batchnorm", "tensors"]


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
    for m, (momentum, _) in zip(norms, saved, strict=False):
        m.momentum = momentum
    model.train(was_training)


class HeldOut:
    """The samples a policy is judged on: a held-out batch, BatchNorm batches, fine-tuning batches.

    Args:
        data: the data; ``val`` (else ``train``) gives the held-out batch, ``train`` the others.
        samples: held-out samples.
        bn_batches: training batches for BatchNorm recalibration.
        batch_size: their size.
        seed: which samples are drawn.
    """

    def __init__(
        self,
        data: DataBundle,
        *,
        samples: int = 512,
        bn_batches: int = 8,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        held = data.val if len(data.val) > 0 else data.train  # type: ignore[arg-type]
        self.x, self.y = tensors(held, samples, seed)
        xt, yt = tensors(data.train, max(1, bn_batches) * batch_size, seed + 1)
        self.bn = list(torch.split(xt, batch_size))[: max(0, bn_batches)]
        self.train_batches = list(zip(torch.split(xt, batch_size), torch.split(yt, batch_size), strict=False))

    def accuracy(self, model: nn.Module) -> float:
        """Top-1 accuracy of ``model`` on the held-out batch."""
        model.eval()
        with torch.no_grad():
            pred = model(self.x).argmax(dim=1)
        return float((pred == self.y).float().mean())


class ProxyReward:
    """Scores policies of a :class:`PolicySpace`: prune, recalibrate BatchNorm, held-out accuracy.

    Args:
        space: the policy space (its model is the unpruned one).
        data: the data, or a :class:`HeldOut` built from it.
        samples: held-out (validation) samples scored per policy.
        bn_batches: training batches of ``batch_size`` for BatchNorm recalibration.
        batch_size: their size.
        finetune_steps: SGD steps before scoring (0: none, AMC's proxy).
        lr: learning rate of those steps.
        seed: which samples are drawn.
    """

    def __init__(
        self,
        space: PolicySpace,
        data: DataBundle | HeldOut,
        *,
        samples: int = 512,
        bn_batches: int = 8,
        batch_size: int = 64,
        finetune_steps: int = 0,
        lr: float = 0.01,
        seed: int = 0,
    ) -> None:
        self.space = space
        self.held = (
            data
            if isinstance(data, HeldOut)
            else HeldOut(data, samples=samples, bn_batches=bn_batches, batch_size=batch_size, seed=seed)
        )
        self.finetune_steps, self.lr = finetune_steps, lr
        self.evaluations = 0
        self.baseline = self.held.accuracy(space.model)

    def accuracy(self, model: nn.Module) -> float:
        """Top-1 accuracy of ``model`` on the held-out batch."""
        return self.held.accuracy(model)

    def model(self, ratios: Sequence[float]) -> nn.Module:
        """The pruned, recalibrated (and optionally briefly fine-tuned) model of a policy."""
        pruned = self.space.apply(ratios)
        recalibrate_batchnorm(pruned, self.held.bn)
        if self.finetune_steps > 0:
            batches = self.held.train_batches
            opt = torch.optim.SGD(pruned.parameters(), lr=self.lr, momentum=0.9)
            pruned.train()
            for step in range(self.finetune_steps):
                x, y = batches[step % len(batches)]
                opt.zero_grad()
                nn.functional.cross_entropy(pruned(x), y).backward()
                opt.step()
        return pruned.eval()

    def __call__(self, ratios: Sequence[float]) -> float:
        """The reward of a policy: held-out accuracy in ``[0, 1]``."""
        self.evaluations += 1
        return self.accuracy(self.model(ratios))
