"""Learning-rate schedules by name: the ``training.schedule`` registry.

A schedule factory returns a :class:`Schedule`: a torch scheduler (or ``None``) and whether it
steps after every optimizer step or after every epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LRScheduler,
    OneCycleLR,
    StepLR,
)

from autoopt._registry import Registry

if TYPE_CHECKING:
    from autoopt.training._config import TrainConfig

__all__ = ["SCHEDULES", "Schedule", "ScheduleFactory", "build_schedule", "list_schedules"]


@dataclass
class Schedule:
    """A learning-rate scheduler and when to step it.

    Attributes:
        scheduler: the torch scheduler, ``None`` for a constant rate.
        interval: ``"step"`` (after every optimizer step) or ``"epoch"`` (after every epoch).
    """

    scheduler: LRScheduler | None
    interval: Literal["step", "epoch"] = "epoch"

    def step_batch(self) -> None:
        """Advance after one optimizer step (only for per-step schedules)."""
        if self.scheduler is not None and self.interval == "step":
            self.scheduler.step()

    def step_epoch(self) -> None:
        """Advance after one epoch (only for per-epoch schedules)."""
        if self.scheduler is not None and self.interval == "epoch":
            self.scheduler.step()


ScheduleFactory = Callable[[torch.optim.Optimizer, "TrainConfig", int], Schedule]
SCHEDULES: Registry[ScheduleFactory] = Registry("schedule")


@SCHEDULES.register("constant")
def _constant(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    return Schedule(None)


@SCHEDULES.register("step")
def _step(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    step_size = cfg.step_size if cfg.step_size is not None else max(1, cfg.epochs // 3)
    gamma = cfg.gamma if cfg.gamma is not None else 0.1
    return Schedule(StepLR(optimizer, step_size=step_size, gamma=gamma), "epoch")


@SCHEDULES.register("exponential")
def _exponential(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    gamma = cfg.gamma if cfg.gamma is not None else 0.9
    return Schedule(ExponentialLR(optimizer, gamma=gamma), "epoch")


@SCHEDULES.register("cosine")
def _cosine(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    total = max(1, cfg.epochs * steps_per_epoch)
    return Schedule(CosineAnnealingLR(optimizer, T_max=total), "step")


@SCHEDULES.register("onecycle")
def _onecycle(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    # The peak of each group is its own lr, so a backbone group keeps its smaller rate.
    # Momentum is not cycled: training.momentum stays what the config says.
    peaks = [group["lr"] for group in optimizer.param_groups]
    total = max(2, cfg.epochs * steps_per_epoch)
    return Schedule(OneCycleLR(optimizer, max_lr=peaks, total_steps=total, cycle_momentum=False), "step")


#: fraction of the steps the ``warmup-*`` schedules spend raising the rate linearly from 0.
WARMUP_FRACTION = 0.1


def _warmup_then(decay: Callable[[float], float]) -> ScheduleFactory:
    def factory(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
        total = max(2, cfg.epochs * steps_per_epoch)
        warm = max(1, round(WARMUP_FRACTION * total))

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            return decay(min(1.0, (step - warm) / max(1, total - warm)))

        return Schedule(LambdaLR(optimizer, factor), "step")

    return factory


# The transformer fine-tuning schedules: a linear warm-up over the first 10% of the steps, then a
# linear or cosine decay to 0 at the last step.
SCHEDULES.register("warmup-linear")(_warmup_then(lambda t: 1.0 - t))
SCHEDULES.register("warmup-cosine")(_warmup_then(lambda t: 0.5 * (1.0 + math.cos(math.pi * t))))


def list_schedules() -> list[str]:
    """The registered schedule names, sorted."""
    return SCHEDULES.names()


def build_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    """Create the schedule named by ``cfg.schedule``.

    Args:
        optimizer: the optimizer whose rates the schedule drives.
        cfg: the training config (``schedule``, ``epochs``, ``step_size``, ``gamma``).
        steps_per_epoch: optimizer steps in one epoch (per-step schedules span all epochs).

    Raises:
        UnknownNameError: ``cfg.schedule`` is not registered.
    """
    return SCHEDULES.get(cfg.schedule, key="training.schedule")(optimizer, cfg, steps_per_epoch)
