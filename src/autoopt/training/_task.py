"""Training tasks: the one place where a batch becomes ``{'loss', 'output'}``.

The loop only calls ``task(x, y)`` and backpropagates ``result["loss"]``; a different objective
(distillation, auxiliary heads) is a subclass overriding :meth:`TrainTask.forward` or
:meth:`TrainTask.compute_loss`, and the loop stays the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from autoopt.tasks import Classification, Regression, TaskKind, get_task, match_target

if TYPE_CHECKING:
    from autoopt.training._config import TrainConfig

__all__ = ["TrainTask", "KindTask", "ClassificationTask", "RegressionTask", "build_task", "match_target"]


class TrainTask(nn.Module):
    """Wraps a model and turns a batch into ``{'loss': scalar, 'output': model output}``.

    Args:
        model: the model being trained.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the model on ``x`` and score it against ``y``.

        Args:
            x: the input batch.
            y: the target batch.
        """
        output = self.model(x)
        return {"loss": self.compute_loss(output, y), "output": output}

    def compute_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The scalar training loss of one batch.

        Args:
            output: what the model returned.
            target: the batch targets.
        """
        raise NotImplementedError


class KindTask(TrainTask):
    """The loss of a task kind (:meth:`autoopt.tasks.TaskKind.loss`).

    Args:
        model: the model being trained.
        kind: the task kind.
        label_smoothing: cross-entropy label smoothing in ``[0, 1)`` (checked by the kind).
    """

    def __init__(self, model: nn.Module, kind: TaskKind, label_smoothing: float = 0.0) -> None:
        super().__init__(model)
        kind.check_training(label_smoothing)
        self.kind = kind
        self.label_smoothing = label_smoothing

    def compute_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.kind.loss(output, target, label_smoothing=self.label_smoothing)


class ClassificationTask(KindTask):
    """Cross-entropy on class indices, with optional label smoothing.

    Args:
        model: the model being trained; returns ``(N, num_classes)`` logits.
        label_smoothing: the cross-entropy label smoothing in ``[0, 1)``.
    """

    def __init__(self, model: nn.Module, label_smoothing: float = 0.0) -> None:
        super().__init__(model, Classification(), label_smoothing)


class RegressionTask(KindTask):
    """Mean squared error on float targets (``(N, 1)`` outputs match ``(N,)`` targets)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model, Regression())


def build_task(model: nn.Module, task_type: str, cfg: TrainConfig) -> TrainTask:
    """The default task of a dataset's task kind.

    Args:
        model: the model being trained.
        task_type: a registered task kind (``DatasetMeta.task``).
        cfg: the training config (``label_smoothing``).

    Raises:
        InvalidSpecError: the task kind is unknown, or refuses an option (label smoothing for regression).
    """
    return KindTask(model, get_task(task_type, key="data.task"), cfg.label_smoothing)
