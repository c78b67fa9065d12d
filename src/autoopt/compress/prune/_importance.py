"""Importance criteria by name: how much each channel of a Torch-Pruning group matters.

A criterion is a :class:`Criterion` registered in :data:`criteria`; ``build(seed)`` returns a
Torch-Pruning importance (a callable ``group -> 1-D scores``, lowest pruned first). The algorithm
(:mod:`._structured`) never looks at the scores' meaning, so a new criterion is one registration.

Example:
    >>> from autoopt.compress.prune import list_criteria
    >>> list_criteria()
    ['bn-scale', 'l1', 'l2', 'random', 'taylor']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch_pruning as tp
from torch import nn
from torch.utils.data import DataLoader

from autoopt._registry import Registry
from autoopt.training import TrainConfig, build_task

if TYPE_CHECKING:
    from autoopt.data._bundle import DataBundle

__all__ = ["Criterion", "criteria", "list_criteria", "SeededRandomImportance", "accumulate_gradients"]


@dataclass(frozen=True)
class Criterion:
    """A registered importance criterion.

    Attributes:
        name: the registry name (``compress.prune.criterion``).
        build: ``build(seed) -> importance``; the importance maps a group to per-channel scores.
        needs_gradients: the scores read ``.grad`` of the weights (filled by
            :func:`accumulate_gradients` from training batches before each pruning step).
        needs_batchnorm: the scores only exist for groups containing a BatchNorm layer.
        summary: one line for docs and ``--help``.
    """

    name: str
    build: Callable[[int], Any]
    needs_gradients: bool = False
    needs_batchnorm: bool = False
    summary: str = ""


#: name -> :class:`Criterion`.
criteria: Registry[Criterion] = Registry("pruning criterion")


def list_criteria() -> list[str]:
    """Names of the registered importance criteria, sorted."""
    return criteria.names()


class SeededRandomImportance(tp.importance.Importance):
    """Uniform random scores from its own generator: the baseline every criterion must beat.

    Args:
        seed: seeds the generator, so the same seed removes the same channels.
    """

    def __init__(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def __call__(self, group: Any) -> torch.Tensor:
        _, idxs = group[0]
        return torch.rand(len(idxs), generator=self.generator)


def _register(criterion: Criterion) -> None:
    criteria.add(criterion.name, criterion)


_register(
    Criterion(
        "l1",
        lambda seed: tp.importance.GroupMagnitudeImportance(p=1),
        summary="L1 norm of each channel's weights, summed over the coupled layers (Li et al., 2017)",
    )
)
_register(
    Criterion(
        "l2",
        lambda seed: tp.importance.GroupMagnitudeImportance(p=2),
        summary="squared L2 norm of each channel's weights over the coupled layers",
    )
)
_register(
    Criterion(
        "taylor",
        lambda seed: tp.importance.GroupTaylorImportance(),
        needs_gradients=True,
        summary="first-order Taylor |w * dL/dw| on training batches (Molchanov et al., 2019)",
    )
)
_register(
    Criterion(
        "bn-scale",
        lambda seed: tp.importance.BNScaleImportance(),
        needs_batchnorm=True,
        summary="|gamma| of the BatchNorm after each channel (network slimming, Liu et al., 2017)",
    )
)
_register(
    Criterion(
        "random",
        SeededRandomImportance,
        summary="uniform random scores (the baseline)",
    )
)


def accumulate_gradients(
    model: nn.Module, data: DataBundle, batches: int, *, batch_size: int, seed: int
) -> int:
    """Fill ``.grad`` of ``model``'s parameters with the loss gradient summed over a few training batches.

    The forward runs in eval mode (BatchNorm statistics and dropout stay fixed) with the default loss
    of ``data.meta.task``; the batches are drawn from ``data.train`` with a generator seeded by ``seed``.

    Args:
        model: the model; its gradients are zeroed first.
        data: the data bundle (``train`` split and ``meta.task``).
        batches: how many batches to sum.
        batch_size: samples per batch.
        seed: seeds the sample order.

    Returns:
        The number of samples seen.
    """
    device = next(model.parameters()).device
    task = build_task(model, data.meta.task, TrainConfig())
    loader = DataLoader(
        data.train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    was_training = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    seen = 0
    try:
        for i, (x, y) in enumerate(loader):
            if i >= batches:
                break
            loss = task(x.to(device), y.to(device))["loss"]
            loss.backward()
            seen += int(x.shape[0])
    finally:
        model.train(was_training)
    return seen
