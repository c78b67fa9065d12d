"""Task kinds: what differs between kinds of supervised task (loss, metrics, head, predictions, inputs).

``DatasetMeta.task`` names a kind; ``DatasetMeta.kind`` (or :func:`get_task`) returns it. Code
above this package asks the kind (``kind.has_classes``, ``kind.score_metric``,
``kind.loss(...)``, ``kind.example_input(...)``) instead of comparing the name. A new kind is one
file: subclass :class:`TaskKind`, register it with ``@task_kinds.register("name")`` and import
the module (see "Adding a task kind" in ``docs/tune.md``).

Members beyond the lead's interface (``notes/taskkind.md``): :meth:`TaskKind.batch_sums` and
:meth:`TaskKind.from_sums` (the training loop's on-device epoch metrics), :func:`list_tasks`,
:func:`check_task` (pydantic validators) and :func:`infer_task` (a kind from a target dtype).

Example:
    >>> from autoopt.tasks import get_task
    >>> kind = get_task("classification")
    >>> kind.has_classes, kind.score_metric, kind.output_dim(10)
    (True, 'accuracy', 10)
    >>> kind.example_input((3,), batch=2).dtype
    torch.float32
"""

from __future__ import annotations

import torch

from autoopt.tasks._base import TaskKind, check_task, get_task, list_tasks, task_kinds
from autoopt.tasks._classification import Classification
from autoopt.tasks._regression import Regression, match_target
from autoopt.tasks._text import TextClassification

__all__ = [
    "TaskKind",
    "task_kinds",
    "get_task",
    "list_tasks",
    "check_task",
    "infer_task",
    "Classification",
    "Regression",
    "TextClassification",
    "match_target",
]


def infer_task(target: torch.Tensor) -> str:
    """The kind a bare target implies: ``"regression"`` for floating values, else ``"classification"``."""
    return Regression.name if target.is_floating_point() else Classification.name
