"""Validation metrics: cheap on-device sums every epoch, ``autoopt.metrics`` for the rest.

Every epoch needs the monitored metric only. ``loss`` and the common metrics (accuracy; mse, rmse,
mae) are summed as device tensors with one host sync per evaluation. Any other registered metric
(``f1_macro``, ``r2``, ...) collects the outputs and goes through
:func:`autoopt.metrics.compute_metrics`, as does the final report of the restored model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F

from autoopt.exceptions import InvalidSpecError
from autoopt.metrics import compute_metrics, get_metric, list_metrics
from autoopt.training._task import match_target

if TYPE_CHECKING:
    from autoopt.training._config import TrainConfig

__all__ = ["MetricAccumulator", "FAST_METRICS", "resolve_metric"]

Direction = Literal["maximize", "minimize"]

FAST_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("loss", "accuracy"),
    "regression": ("loss", "mse", "rmse", "mae"),
}
_DEFAULT_METRIC = {"classification": "accuracy", "regression": "mse"}


def resolve_metric(cfg: TrainConfig, task_type: str) -> tuple[str, Direction]:
    """The monitored metric of ``cfg`` on ``task_type`` and whether higher or lower is better.

    Args:
        cfg: the training config (``metric``, ``metric_direction``).
        task_type: ``"classification"`` or ``"regression"``.

    Raises:
        InvalidSpecError: the metric is unknown or belongs to the other task.
    """
    name = cfg.metric or _DEFAULT_METRIC.get(task_type, "loss")
    if name == "loss":
        direction: Direction = "minimize"
    else:
        valid = ", ".join(["loss", *list_metrics(task_type)])
        if name not in list_metrics():
            raise InvalidSpecError(f"training.metric: unknown metric {name!r}; expected one of: {valid}")
        metric = get_metric(name)
        if metric.task != task_type:
            raise InvalidSpecError(
                f"training.metric: {name!r} is a {metric.task} metric but the dataset is {task_type}; "
                f"expected one of: {valid}"
            )
        direction = metric.direction
    return name, direction if cfg.metric_direction == "auto" else cfg.metric_direction


class MetricAccumulator:
    """Sums per-batch statistics as device tensors; optionally collects outputs for other metrics.

    Args:
        task_type: ``"classification"`` or ``"regression"``.
        device: where the sums live (the training device).
        extra: metric names beyond the fast ones, computed by ``autoopt.metrics`` from the
            collected outputs; ``None`` = the defaults of ``compute_metrics`` for the task.
            An empty sequence collects nothing.
    """

    def __init__(self, task_type: str, device: torch.device, extra: Sequence[str] | None = ()) -> None:
        self.task_type = task_type
        self.sums = torch.zeros(2, dtype=torch.float64, device=device)
        self.count = 0
        fast = FAST_METRICS.get(task_type, ())
        self.extra = None if extra is None else [m for m in extra if m not in fast]
        self.collect = self.extra is None or bool(self.extra)
        self.outputs: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []

    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        """Add one batch.

        Args:
            output: the model output (logits for classification).
            target: the batch targets.
        """
        output = output.detach().float()
        if self.task_type == "classification":
            self.sums[0] += F.cross_entropy(output, target, reduction="sum")
            self.sums[1] += (output.argmax(dim=1) == target).sum()
        else:
            output = match_target(output, target)
            diff = output - target.float()
            self.sums[0] += diff.square().sum()
            self.sums[1] += diff.abs().sum()
        self.count += int(target.shape[0])
        if self.collect:
            self.outputs.append(output)
            self.targets.append(target)

    def compute(self) -> dict[str, float]:
        """The metrics over every batch added so far."""
        n = max(self.count, 1)
        first, second = (float(v) / n for v in self.sums.tolist())
        if self.task_type == "classification":
            out = {"loss": first, "accuracy": second}
        else:
            rmse = math.sqrt(first) if math.isfinite(first) else first
            out = {"loss": first, "mse": first, "rmse": rmse, "mae": second}
        if self.collect and self.outputs:
            y_pred = torch.cat(self.outputs).cpu()
            y_true = torch.cat(self.targets).cpu()
            out.update(compute_metrics(self.task_type, y_true, y_pred, self.extra))
        return out
