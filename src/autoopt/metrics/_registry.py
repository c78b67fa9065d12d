"""Named metrics with their optimization direction, so a spec can say ``metric: f1_macro``.

A metric scores either class labels/probabilities (``target="classes"``) or values
(``target="values"``); a task kind (:mod:`autoopt.tasks`, which builds on this package) says which
through ``has_classes`` and names its default metrics, so nothing here knows the kinds by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol

from autoopt._registry import Registry
from autoopt.exceptions import InvalidSpecError
from autoopt.metrics import _classification as cls
from autoopt.metrics import _regression as reg

Direction = Literal["maximize", "minimize"]
Target = Literal["classes", "values"]


class MetricTask(Protocol):
    """What :func:`compute_metrics` needs of a task kind (``autoopt.tasks.TaskKind`` has it)."""

    @property
    def name(self) -> str: ...

    @property
    def has_classes(self) -> bool: ...

    @property
    def metrics(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Metric:
    """A named metric.

    Attributes:
        name: the registry name (also the key in :func:`compute_metrics`'s result).
        fn: ``fn(y_true, y_pred) -> float``.
        direction: ``maximize`` or ``minimize``.
        target: what it scores: ``"classes"`` (class indices or scores) or ``"values"``.
        needs_scores: it needs scores ``(N, C)``, not class indices.
    """

    name: str
    fn: Callable[[Any, Any], float]
    direction: Direction
    target: Target
    needs_scores: bool = False

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        return self.fn(y_true, y_pred)


metrics: Registry[Metric] = Registry("metric")

for _metric in (
    Metric("accuracy", cls.accuracy, "maximize", "classes"),
    Metric("top3_accuracy", partial(cls.top_k_accuracy, k=3), "maximize", "classes", True),
    Metric("top5_accuracy", partial(cls.top_k_accuracy, k=5), "maximize", "classes", True),
    Metric("precision_macro", cls.precision, "maximize", "classes"),
    Metric("recall_macro", cls.recall, "maximize", "classes"),
    Metric("f1_macro", cls.f1, "maximize", "classes"),
    Metric("mse", reg.mse, "minimize", "values"),
    Metric("rmse", reg.rmse, "minimize", "values"),
    Metric("mae", reg.mae, "minimize", "values"),
    Metric("r2", reg.r2, "maximize", "values"),
):
    metrics.add(_metric.name, _metric)


def _target_of(task: MetricTask) -> Target:
    return "classes" if task.has_classes else "values"


def get_metric(name: str, *, key: str | None = None) -> Metric:
    """The :class:`Metric` registered as ``name`` (``UnknownNameError`` listing the valid ones otherwise)."""
    return metrics.get(name, key=key)


def list_metrics(task: MetricTask | None = None) -> list[str]:
    """Registered metric names, optionally only those that apply to one task kind."""
    return [n for n in metrics.names() if task is None or metrics.get(n).target == _target_of(task)]


def metric_direction(name: str) -> Direction:
    """``maximize`` or ``minimize`` for a registered metric."""
    return get_metric(name).direction


def compute_metrics(
    task: MetricTask, y_true: Any, y_pred: Any, names: Sequence[str] | None = None
) -> dict[str, float]:
    """Compute several metrics at once into a flat ``{name: value}`` dict.

    Example:
        >>> from autoopt.tasks import get_task
        >>> compute_metrics(get_task("regression"), [1.0, 2.0], [[1.0], [4.0]], ["mse", "mae"])
        {'mse': 2.0, 'mae': 1.0}

    Args:
        task: the task kind (``autoopt.tasks.get_task(name)``).
        y_true: targets (class indices or values).
        y_pred: logits/scores ``(N, C)`` or class indices ``(N,)`` for a kind with classes; values
            ``(N,)`` or ``(N, 1)`` otherwise.
        names: the metrics (default: the kind's ``metrics``). A ``topK_accuracy`` metric needs scores.
    """
    target = _target_of(task)
    out: dict[str, float] = {}
    scores_given = task.has_classes and cls.to_numpy(y_pred).ndim == 2
    labels = cls.to_labels(y_pred) if task.has_classes else y_pred
    for name in names if names is not None else task.metrics:
        metric = get_metric(name, key="metrics")
        if metric.target != target:
            raise InvalidSpecError(
                f"metrics: {name!r} does not apply to a {task.name} task (it scores {metric.target}); "
                f"expected one of: {', '.join(list_metrics(task))}"
            )
        if metric.needs_scores and not scores_given:
            raise InvalidSpecError(f"metrics: {name!r} needs scores of shape (N, C); got class indices")
        out[name] = metric(y_true, y_pred if metric.needs_scores else labels)
    return out
