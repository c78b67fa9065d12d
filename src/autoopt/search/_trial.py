"""What every model-training objective of a search shares: per-epoch reports and the trial's metrics.

A training objective (the search stage's, distillation's) builds a model, computes its static metrics
(``params``, ``macs``, ``latency_ms``), trains it while reporting the monitored validation value each
epoch, and returns its metrics. :func:`epoch_reporter` and :func:`trial_metrics` are those two shared
steps, so the objectives differ only in how they build and train.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["STATIC_METRICS", "epoch_reporter", "trial_metrics"]

#: metrics known before training (a model's size and speed); reported as they are every epoch.
STATIC_METRICS = ("params", "macs", "latency_ms")


def epoch_reporter(
    report: Callable[[Any, int], None],
    metrics: Sequence[str],
    static: Mapping[str, Any],
    then: Callable[[int], None] | None = None,
) -> Callable[[float, int], None]:
    """``per_epoch(value, epoch)`` reporting one intermediate value per objective to the search.

    Args:
        report: the search's reporter (the objective's second argument).
        metrics: the objectives' metrics, in order.
        static: the static metrics of the trial's model; an objective on one reports it as is.
        then: called with the epoch after each report (e.g. gradual unfreezing).

    Example:
        >>> seen = []
        >>> report = lambda value, epoch: seen.append((value, epoch))
        >>> per_epoch = epoch_reporter(report, ["val_accuracy", "params"], {"params": 10})
        >>> per_epoch(0.9, 0)
        >>> seen
        [([0.9, 10], 0)]
    """

    def per_epoch(value: float, epoch: int) -> None:
        vector = [static[m] if m in STATIC_METRICS else value for m in metrics]
        report(vector if len(vector) > 1 else vector[0], epoch)
        if then is not None:
            then(epoch)

    return per_epoch


def trial_metrics(val_metrics: Mapping[str, Any], static: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A trial's metrics: ``val_<metric>`` of its validation, its static metrics and ``extra``."""
    return {**{f"val_{k}": v for k, v in val_metrics.items()}, **static, **extra}
