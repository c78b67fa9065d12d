"""Optimizers by name: the ``training.optimizer`` registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from autoopt._registry import Registry

if TYPE_CHECKING:
    from autoopt.training._config import TrainConfig

__all__ = ["OPTIMIZERS", "OptimizerFactory", "build_optimizer", "list_optimizers"]

ParamsT = Iterable[torch.Tensor] | Iterable[dict[str, Any]]
OptimizerFactory = Callable[[ParamsT, "TrainConfig"], torch.optim.Optimizer]

OPTIMIZERS: Registry[OptimizerFactory] = Registry("optimizer")


@OPTIMIZERS.register("sgd")
def _sgd(params: ParamsT, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay
    )


@OPTIMIZERS.register("adam")
def _adam(params: ParamsT, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


@OPTIMIZERS.register("adamw")
def _adamw(params: ParamsT, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def list_optimizers() -> list[str]:
    """The registered optimizer names, sorted."""
    return OPTIMIZERS.names()


def build_optimizer(
    model: nn.Module, cfg: TrainConfig, param_groups: list[dict[str, Any]] | None = None
) -> torch.optim.Optimizer:
    """Create the optimizer named by ``cfg.optimizer``.

    Args:
        model: the model; its trainable parameters (``requires_grad``) are optimized unless
            ``param_groups`` is given.
        cfg: the training config (``optimizer``, ``lr``, ``momentum``, ``nesterov``, ``weight_decay``).
        param_groups: torch-style parameter groups (``[{"params": [...], "lr": ...}, ...]``); a
            group without ``lr`` uses ``cfg.lr``. Lets a caller give a backbone a smaller rate.

    Raises:
        UnknownNameError: ``cfg.optimizer`` is not registered.
        TrainingError: there is nothing to optimize.
    """
    from autoopt.exceptions import TrainingError

    factory = OPTIMIZERS.get(cfg.optimizer, key="training.optimizer")
    if param_groups is not None:
        groups = [dict(g) for g in param_groups]
        if not groups or not any(list(g.get("params", [])) for g in groups):
            raise TrainingError("param_groups: no parameters to optimize; got empty groups")
        return factory(groups, cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise TrainingError("the model has no trainable parameters (all have requires_grad=False)")
    return factory(params, cfg)
