"""Validation metrics: cheap on-device sums every epoch, ``autoopt.metrics`` for the rest.

Every epoch needs the monitored metric only. ``loss`` and the task kind's ``train_metrics``
(accuracy; mse, rmse, mae) are summed as device tensors (``TaskKind.batch_sums``) with one host
sync per evaluation. Any other registered metric
(``f1_macro``, ``r2``, ...) collects the outputs and goes through
:func:`autoopt.metrics.compute_metrics`, as does the final report of the restored model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import torch

from autoopt.exceptions import InvalidSpecError
from autoopt.metrics import compute_metrics, get_metric, list_metrics
from autoopt.tasks import get_task

if TYPE_CHECKING:
    from autoopt.training._config import TrainConfig

__all__ = ["MetricAccumulator", "resolve_metric"]

Direction = Literal["maximize", "minimize"]


def resolve_metric(cfg: TrainConfig, task_type: str) -> tuple[str, Direction]:
    """The monitored metric of ``cfg`` on ``task_type`` and whether higher or lower is better.

    Args:
        cfg: the training config (``metric``, ``metric_direction``).
        task_type: a registered task kind (``DatasetMeta.task``).

    Raises:
        InvalidSpecError: the metric is unknown or does not apply to the task kind.
    """
    kind = get_task(task_type, key="data.task")
    name = cfg.metric or kind.score_metric
    if name == "loss":
        direction: Direction = "minimize"
    else:
        valid = ", ".join(["loss", *list_metrics(kind)])
        if name not in list_metrics():
            raise InvalidSpecError(f"training.metric: unknown metric {name!r}; expected one of: {valid}")
        metric = get_metric(name)
        if name not in list_metrics(kind):
            raise InvalidSpecError(
                f"training.metric: {name!r} does not apply to a {task_type} dataset (it scores "
                f"{metric.target}); "
                f"expected one of: {valid}"
            )
        direction = metric.direction
    return name, direction if cfg.metric_direction == "auto" else cfg.metric_direction


class MetricAccumulator:
    """Sums per-batch statistics as device tensors; optionally collects outputs for other metrics.

    Args:
        task_type: a registered task kind (``DatasetMeta.task``).
        device: where the sums live (the training device).
        extra: metric names beyond the fast ones, computed by ``autoopt.metrics`` from the
            collected outputs; ``None`` = the defaults of ``compute_metrics`` for the task.
            An empty sequence collects nothing.
    """

    def __init__(self, task_type: str, device: torch.device, extra: Sequence[str] | None = ()) -> None:
        self.task_type = task_type
        self.kind = get_task(task_type, key="data.task")
        self.device = device
        self.sums: torch.Tensor | None = None
        self.count = 0
        fast = self.kind.train_metrics
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
        sums = self.kind.batch_sums(output, target).to(self.device, torch.float64)
        self.sums = sums if self.sums is None else self.sums + sums
        self.count += int(target.shape[0])
        if self.collect:
            self.outputs.append(output)
            self.targets.append(target)

    def compute(self) -> dict[str, float]:
        """The metrics over every batch added so far."""
        sums = [] if self.sums is None else [float(v) for v in self.sums.tolist()]
        out = self.kind.from_sums(sums, self.count)
        if self.collect and self.outputs:
            y_pred = torch.cat(self.outputs).cpu()
            y_true = torch.cat(self.targets).cpu()
            out.update(compute_metrics(self.kind, y_true, y_pred, self.extra))
        return out
