"""Transfer-learning training policies: freezing, discriminative learning rates, gradual unfreezing.

The policy and the learning-rate multiplier are plain strings and floats so a search space can
choose them (``transfer.freeze: [none, backbone, all-but-last-2]``, ``transfer.backbone_lr_mult``).

Example:
    >>> import torch
    >>> from autoopt.data import DatasetMeta
    >>> from autoopt.models import apply_freeze, build_model, param_groups
    >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
    >>> model = build_model("cnn", {"blocks": 2, "channels": 8}, meta)
    >>> apply_freeze(model, "all-but-last-2")  # last conv block + head train
    >>> opt = torch.optim.SGD(param_groups(model, lr=0.1, backbone_lr_mult=0.1), lr=0.1)
    >>> [g["lr"] for g in opt.param_groups]
    [0.1, 0.010000000000000002]
"""

from __future__ import annotations

import re
from typing import Any

from torch import nn

from autoopt.exceptions import InvalidSpecError
from autoopt.models._base import AutoOptModel, default_blocks, find_last_linear
from autoopt.models._checkpoint import head_name

__all__ = ["FREEZE_POLICIES", "apply_freeze", "param_groups", "unfreeze_schedule", "model_blocks"]

FREEZE_POLICIES = ("none", "backbone", "all-but-last-N")
_LAST_N = re.compile(r"all-but-last-(\d+)")


def model_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The ordered trainable units of ``model`` (input to head), as :meth:`AutoOptModel.blocks`."""
    if isinstance(model, AutoOptModel):
        return model.blocks()
    return default_blocks(model, find_last_linear(model))


def _parse_policy(policy: str, n: int | None, key: str) -> int | None:
    """Number of trailing blocks to keep trainable (``None``: everything)."""
    if policy == "none":
        return None
    if policy == "backbone":
        return 1
    match = _LAST_N.fullmatch(policy) if isinstance(policy, str) else None
    if match:
        return int(match.group(1))
    if policy == "all-but-last-N":
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidSpecError(f"{key}: policy 'all-but-last-N' needs n >= 0; got n={n!r}")
        return n
    raise InvalidSpecError(
        f"{key}: unknown freeze policy {policy!r}; expected one of: none, backbone, "
        "all-but-last-N (with n=...), or all-but-last-<int> such as all-but-last-2"
    )


def apply_freeze(
    model: nn.Module, policy: str, *, n: int | None = None, key: str = "transfer.freeze"
) -> None:
    """Set ``requires_grad`` on ``model``'s parameters according to a freeze policy.

    Policies: ``none`` (everything trains), ``backbone`` (only the classifier trains),
    ``all-but-last-N`` with ``n=...`` or spelled ``all-but-last-2`` (the last ``N`` blocks of
    :meth:`AutoOptModel.blocks` train, the classifier counting as one; ``N = 0`` freezes all).
    BatchNorm running statistics still update in train mode; put frozen blocks in eval mode if
    they must not.

    Args:
        model: the model (an :class:`AutoOptModel` or any module, split with the default rule).
        policy: the policy name.
        n: ``N`` for ``all-but-last-N``.
        key: the spec key of the policy, prefixing error messages.
    """
    keep = _parse_policy(policy, n, key)
    if keep is None:
        for p in model.parameters():
            p.requires_grad_(True)
        return
    for p in model.parameters():
        p.requires_grad_(False)
    blocks = model_blocks(model)
    if policy == "backbone":
        head = head_name(model)
        blocks = [(head, model.get_submodule(head))] if head else blocks[-1:]
    for _, module in blocks[len(blocks) - keep :] if keep else []:
        for p in module.parameters():
            p.requires_grad_(True)


def param_groups(
    model: nn.Module,
    lr: float,
    backbone_lr_mult: float = 1.0,
    *,
    include_frozen: bool = False,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups: the classifier at ``lr``, the rest at ``lr * backbone_lr_mult``.

    Args:
        model: the model.
        lr: the head's learning rate (> 0).
        backbone_lr_mult: multiplier of the backbone's learning rate (> 0).
        include_frozen: keep parameters with ``requires_grad=False`` (needed with gradual unfreezing:
            optimizers skip parameters without gradients until they are unfrozen).

    Returns:
        Groups ``{"name": "head"|"backbone", "params": [...], "lr": ...}``; empty groups are dropped.
    """
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
        raise InvalidSpecError(f"training.lr: expected a number > 0; got {lr!r}")
    if (
        isinstance(backbone_lr_mult, bool)
        or not isinstance(backbone_lr_mult, (int, float))
        or backbone_lr_mult <= 0
    ):  # the spec's rule (TransferSpec); a backbone that must not learn is frozen (transfer.freeze)
        raise InvalidSpecError(f"transfer.backbone_lr_mult: expected a number > 0; got {backbone_lr_mult!r}")
    head = head_name(model)
    head_params: list[nn.Parameter] = []
    body_params: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if not (p.requires_grad or include_frozen):
            continue
        (head_params if head and name.startswith(head + ".") else body_params).append(p)
    groups = [
        {"name": "head", "params": head_params, "lr": float(lr)},
        {"name": "backbone", "params": body_params, "lr": float(lr) * float(backbone_lr_mult)},
    ]
    return [g for g in groups if g["params"]]


def unfreeze_schedule(model: nn.Module, epoch: int, *, every: int = 1, start: int = 1) -> int:
    """Gradual unfreezing (ULMFiT style): ``start`` trailing blocks train at epoch 0, one more each ``every``.

    The first block to train is the classifier, then the block before it, and so on.

    Call it at the start of each epoch; build the optimizer with
    ``param_groups(..., include_frozen=True)`` so newly unfrozen parameters are already in it.

    Args:
        model: the model.
        epoch: the current epoch, from 0.
        every: epochs between two unfreezing steps (>= 1).
        start: trainable blocks at epoch 0 (1: the classifier only).

    Returns:
        The number of trailing blocks now trainable.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise InvalidSpecError(f"transfer.unfreeze_every: expected an integer >= 1; got {every!r}")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise InvalidSpecError(f"epoch: expected an integer >= 0; got {epoch!r}")
    n = min(start + epoch // every, len(model_blocks(model)))
    apply_freeze(model, "all-but-last-N", n=n)
    return n
