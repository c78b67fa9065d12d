"""Training tasks: the one place where a batch becomes ``{'loss', 'output'}``.

The loop only calls ``task(x, y)`` and backpropagates ``result["loss"]``; a different objective
(distillation, auxiliary heads) is a subclass overriding :meth:`TrainTask.forward` or
:meth:`TrainTask.compute_loss`, and the loop stays the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from autoopt.exceptions import InvalidSpecError

if TYPE_CHECKING:
    from autoopt.training._config import TrainConfig

__all__ = ["TrainTask", "ClassificationTask", "RegressionTask", "build_task", "match_target"]


def match_target(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Drop a trailing size-1 dimension so ``(N, 1)`` regression outputs line up with ``(N,)`` targets."""
    if output.dim() == target.dim() + 1 and output.shape[-1] == 1:
        return output.squeeze(-1)
    return output


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


class ClassificationTask(TrainTask):
    """Cross-entropy on class indices, with optional label smoothing.

    Args:
        model: the model being trained; returns ``(N, num_classes)`` logits.
        label_smoothing: the cross-entropy label smoothing in ``[0, 1)``.
    """

    def __init__(self, model: nn.Module, label_smoothing: float = 0.0) -> None:
        super().__init__(model)
        self.label_smoothing = label_smoothing

    def compute_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, target, label_smoothing=self.label_smoothing)


class RegressionTask(TrainTask):
    """Mean squared error on float targets (``(N, 1)`` outputs match ``(N,)`` targets)."""

    def compute_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        output = match_target(output, target)
        return F.mse_loss(output.float(), target.float())


def build_task(model: nn.Module, task_type: str, cfg: TrainConfig) -> TrainTask:
    """The default task of a dataset's task type.

    Args:
        model: the model being trained.
        task_type: ``"classification"`` or ``"regression"`` (``DatasetMeta.task``).
        cfg: the training config (``label_smoothing``).

    Raises:
        InvalidSpecError: the task type is unknown, or label smoothing was asked for regression.
    """
    if task_type == "classification":
        return ClassificationTask(model, cfg.label_smoothing)
    if task_type == "regression":
        if cfg.label_smoothing:
            raise InvalidSpecError(
                f"training.label_smoothing: only applies to classification; got {cfg.label_smoothing} "
                "for a regression dataset; set it to 0"
            )
        return RegressionTask(model)
    raise InvalidSpecError(f"data.meta.task: expected 'classification' or 'regression'; got {task_type!r}")
