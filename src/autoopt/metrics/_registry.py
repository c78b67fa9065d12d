"""Named metrics with their optimization direction, so a spec can say ``metric: f1_macro``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from autoopt._registry import Registry
from autoopt.exceptions import InvalidSpecError
from autoopt.metrics import _classification as cls
from autoopt.metrics import _regression as reg

__all__ = ["Metric", "metrics", "get_metric", "list_metrics", "metric_direction", "compute_metrics"]

Direction = Literal["maximize", "minimize"]
Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class Metric:
    """A named metric.

    Attributes:
        name: the registry name (also the key in :func:`compute_metrics`'s result).
        fn: ``fn(y_true, y_pred) -> float``.
        direction: ``maximize`` or ``minimize``.
        task: the task it applies to.
        needs_scores: it needs scores ``(N, C)``, not class indices.
    """

    name: str
    fn: Callable[[Any, Any], float]
    direction: Direction
    task: Task
    needs_scores: bool = False

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        return self.fn(y_true, y_pred)


metrics: Registry[Metric] = Registry("metric")

for _metric in (
    Metric("accuracy", cls.accuracy, "maximize", "classification"),
    Metric("top3_accuracy", partial(cls.top_k_accuracy, k=3), "maximize", "classification", True),
    Metric("top5_accuracy", partial(cls.top_k_accuracy, k=5), "maximize", "classification", True),
    Metric("precision_macro", cls.precision, "maximize", "classification"),
    Metric("recall_macro", cls.recall, "maximize", "classification"),
    Metric("f1_macro", cls.f1, "maximize", "classification"),
    Metric("mse", reg.mse, "minimize", "regression"),
    Metric("rmse", reg.rmse, "minimize", "regression"),
    Metric("mae", reg.mae, "minimize", "regression"),
    Metric("r2", reg.r2, "maximize", "regression"),
):
    metrics.add(_metric.name, _metric)

DEFAULTS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "precision_macro", "recall_macro", "f1_macro"),
    "regression": ("mse", "rmse", "mae", "r2"),
}


def get_metric(name: str, *, key: str | None = None) -> Metric:
    """The :class:`Metric` registered as ``name`` (``UnknownNameError`` listing the valid ones otherwise)."""
    return metrics.get(name, key=key)


def list_metrics(task: str | None = None) -> list[str]:
    """Registered metric names, optionally only those of one task."""
    return [n for n in metrics.names() if task is None or metrics.get(n).task == task]


def metric_direction(name: str) -> Direction:
    """``maximize`` or ``minimize`` for a registered metric."""
    return get_metric(name).direction


def compute_metrics(
    task: str, y_true: Any, y_pred: Any, names: Sequence[str] | None = None
) -> dict[str, float]:
    """Compute several metrics at once into a flat ``{name: value}`` dict.

    Example:
        >>> compute_metrics("regression", [1.0, 2.0], [[1.0], [4.0]], ["mse", "mae"])
        {'mse': 2.0, 'mae': 1.0}

    Args:
        task: ``classification`` or ``regression``.
        y_true: targets (class indices or values).
        y_pred: logits/scores ``(N, C)`` or class indices ``(N,)`` for classification; values
            ``(N,)`` or ``(N, 1)`` for regression.
        names: the metrics (default: accuracy, precision/recall/F1 macro; or mse, rmse, mae, r2).
            A ``topK_accuracy`` metric needs scores.
    """
    if task not in DEFAULTS:
        raise InvalidSpecError(f"task: expected one of: {', '.join(DEFAULTS)}; got {task!r}")
    out: dict[str, float] = {}
    scores_given = cls.to_numpy(y_pred).ndim == 2 and task == "classification"
    labels = cls.to_labels(y_pred) if task == "classification" else y_pred
    for name in names if names is not None else DEFAULTS[task]:
        metric = get_metric(name, key="metrics")
        if metric.task != task:
            raise InvalidSpecError(f"metrics: {name!r} is a {metric.task} metric; the task is {task}")
        if metric.needs_scores and not scores_given:
            raise InvalidSpecError(f"metrics: {name!r} needs scores of shape (N, C); got class indices")
        out[name] = metric(y_true, y_pred if metric.needs_scores else labels)
    return out
