"""Fine-tuning after pruning through ``autoopt.training.fit``, optionally distilled from the original.

The only coupling to :mod:`autoopt.distill` is :func:`make_task`: with a teacher it imports
``autoopt.distill.DistillTask`` at call time and falls back to plain fine-tuning (with a warning
and ``finetune: plain`` in the report) when that package is not available.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import nn

from autoopt.training import FitResult, TrainConfig, TrainTask, coerce_config, fit

if TYPE_CHECKING:
    from autoopt.data._bundle import DataBundle

__all__ = ["TaskFactory", "make_task", "finetune"]

#: ``task_factory(student, teacher) -> TrainTask``; ``teacher`` is ``None`` when none was given.
TaskFactory = Callable[[nn.Module, "nn.Module | None"], TrainTask]

#: soft-target weight and temperature of the distillation task used with a teacher.
DISTILL_ALPHA = 0.5
DISTILL_TEMPERATURE = 4.0


def make_task(
    student: nn.Module, teacher: nn.Module | None, task_factory: TaskFactory | None
) -> tuple[TrainTask | None, str]:
    """The training task for fine-tuning ``student`` and its kind (``custom``, ``distill``, ``plain``).

    Args:
        student: the pruned model.
        teacher: the model to distill from (usually the unpruned original), or ``None``.
        task_factory: builds the task itself; wins over ``teacher``.
    """
    if task_factory is not None:
        return task_factory(student, teacher), "custom"
    if teacher is None:
        return None, "plain"
    try:
        from autoopt.distill import DistillTask  # noqa: PLC0415 - optional, resolved at call time
    except ImportError:
        warnings.warn(
            "autoopt.distill is not available; fine-tuning the pruned model without the teacher",
            stacklevel=3,
        )
        return None, "plain"
    task = DistillTask(student, teacher, alpha=DISTILL_ALPHA, temperature=DISTILL_TEMPERATURE)
    return task, "distill"


def finetune(
    model: nn.Module,
    data: DataBundle,
    train_config: TrainConfig | dict[str, Any] | None,
    epochs: int,
    *,
    seed: int,
    teacher: nn.Module | None = None,
    task_factory: TaskFactory | None = None,
    wrap: Callable[[TrainTask], TrainTask] | None = None,
) -> tuple[FitResult, str]:
    """Train ``model`` for ``epochs`` epochs with ``train_config`` (its ``epochs`` and ``seed`` replaced).

    Args:
        model: the model to fine-tune in place.
        data: the data bundle.
        train_config: the training options (optimizer, lr, device, ...); ``None`` = defaults.
        epochs: epochs to train.
        seed: the training seed.
        teacher: distill from this model (see :func:`make_task`).
        task_factory: a custom task factory (see :func:`make_task`).
        wrap: wraps the task (the unstructured schedule updates its masks there).

    Returns:
        The ``FitResult`` and the kind of task used.
    """
    cfg = coerce_config(train_config).model_copy(update={"epochs": epochs, "seed": seed})
    task, kind = make_task(model, teacher, task_factory)
    if wrap is not None:
        from autoopt.training import build_task  # noqa: PLC0415

        task = wrap(task if task is not None else build_task(model, data.meta.task, cfg))
    return fit(model, data, cfg, task=task), kind
