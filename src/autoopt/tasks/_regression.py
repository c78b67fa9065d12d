"""Regression: one float value per sample, mean squared error."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from autoopt.exceptions import InvalidSpecError
from autoopt.tasks._base import TaskKind, task_kinds

__all__ = ["Regression", "match_target"]


def match_target(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Drop a trailing size-1 dimension so ``(N, 1)`` outputs line up with ``(N,)`` targets."""
    if output.dim() == target.dim() + 1 and output.shape[-1] == 1:
        return output.squeeze(-1)
    return output


@task_kinds.register("regression")
class Regression(TaskKind):
    """A ``(N, 1)`` (or ``(N,)``) output against ``float32`` targets."""

    name = "regression"
    has_classes = False
    score_metric = "mse"
    metrics = ("mse", "rmse", "mae", "r2")
    train_metrics = ("loss", "mse", "rmse", "mae")
    input_dtype = torch.float32
    target_dtype = torch.float32

    def output_dim(self, num_classes: int | None) -> int:
        return 1

    def loss(
        self, output: torch.Tensor, target: torch.Tensor, *, label_smoothing: float = 0.0
    ) -> torch.Tensor:
        output = match_target(output, target)
        return F.mse_loss(output.float(), target.float())

    def check_training(self, label_smoothing: float) -> None:
        if label_smoothing:
            raise InvalidSpecError(
                f"training.label_smoothing: only applies to classification; got {label_smoothing} "
                "for a regression dataset; set it to 0"
            )

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        outputs = np.asarray(outputs)
        return outputs.reshape(len(outputs), -1)[:, 0] if outputs.ndim > 1 else outputs

    def batch_sums(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = match_target(output.detach().float(), target) - target.float()
        return torch.stack([diff.square().sum().double(), diff.abs().sum().double()])

    def from_sums(self, sums: list[float], count: int) -> dict[str, float]:
        sums, n = sums or [0.0, 0.0], max(count, 1)
        mse, mae = sums[0] / n, sums[1] / n
        rmse = math.sqrt(mse) if math.isfinite(mse) else mse
        return {"loss": mse, "mse": mse, "rmse": rmse, "mae": mae}
