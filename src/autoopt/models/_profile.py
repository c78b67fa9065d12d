"""Model size: parameter counts and multiply-accumulate operations (MACs) per sample."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from autoopt.tasks import get_task

__all__ = ["count_params", "count_macs"]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def count_params(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameter elements of ``model`` (shared parameters counted once).

    Args:
        model: the model.
        trainable_only: count only parameters with ``requires_grad``.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_shape: Sequence[int], *, task: str | None = None) -> int:
    """Multiply-accumulates of one forward pass on one sample, counted on convolutions and linear layers.

    Exact for ``Conv1d/2d/3d`` (``output elements x in_channels/groups x kernel volume``) and
    ``nn.Linear`` (``output elements x in_features``); biases, normalization, activations and
    pooling are not counted. Runs one forward pass on zeros in eval mode (the mode is restored).

    Example:
        >>> from torch import nn
        >>> count_macs(nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), (4,))
        12

    Args:
        model: the model.
        input_shape: shape of one sample, without the batch dimension (``meta.input_shape``).
        task: the task kind (``meta.task``): the dummy input is its ``example_input`` (int64 token
            ids for a text kind); ``None`` = zeros of the model's ``input_dtype`` attribute (text
            models set ``torch.int64``), else float32.
    """
    total = 0

    def hook(module: nn.Module, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, _CONVS):
            kernel = math.prod(module.weight.shape[2:])
            total += output.numel() * module.weight.shape[1] * kernel
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (*_CONVS, nn.Linear))]
    was_training = model.training
    param = next(model.parameters(), None)
    if task:
        x = get_task(task).example_input(tuple(input_shape))
    else:  # a model may say what it takes (text models: int64 token ids)
        x = torch.zeros(1, *input_shape, dtype=getattr(model, "input_dtype", torch.float32))
    x = x.to(param.device if param is not None else "cpu")
    if param is not None and param.is_floating_point() and x.is_floating_point():
        x = x.to(param.dtype)
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return int(total)
