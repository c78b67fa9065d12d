"""Metrics as pure functions on tensors/arrays, and a registry naming them with their direction.

Example:
    >>> from autoopt.metrics import compute_metrics, metric_direction
    >>> from autoopt.tasks import get_task
    >>> logits = [[2.0, 1.0], [0.0, 3.0], [1.0, 0.5]]
    >>> compute_metrics(get_task("classification"), [0, 1, 1], logits, ["accuracy"])
    {'accuracy': 0.6666666666666666}
    >>> metric_direction("mse")
    'minimize'
"""

from __future__ import annotations

from autoopt.metrics._classification import (
    accuracy,
    confusion_matrix,
    f1,
    precision,
    recall,
    top_k_accuracy,
)
from autoopt.metrics._registry import (
    Metric,
    MetricTask,
    compute_metrics,
    get_metric,
    list_metrics,
    metric_direction,
    metrics,
)
from autoopt.metrics._regression import mae, mse, r2, rmse

__all__ = [
    "accuracy",
    "top_k_accuracy",
    "precision",
    "recall",
    "f1",
    "confusion_matrix",
    "mse",
    "rmse",
    "mae",
    "r2",
    "Metric",
    "MetricTask",
    "metrics",
    "get_metric",
    "list_metrics",
    "metric_direction",
    "compute_metrics",
]
