"""``evaluate_model``: metrics of a model on a dataset (validation during fit, test afterwards)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager as ContextManager

import torch
from torch import nn
from torch.utils.data import Dataset

from autoopt.exceptions import DataError
from autoopt.tasks import infer_task
from autoopt.training._batches import Batches, make_batches, tensors_of
from autoopt.training._device import resolve_device
from autoopt.training._metrics import MetricAccumulator

__all__ = ["evaluate_model", "evaluate_batches", "infer_task_type"]


def infer_task_type(dataset: Dataset) -> str:
    """The task kind a dataset's targets imply (:func:`autoopt.tasks.infer_task`): regression for
    floating targets, classification for integer class indices.

    Args:
        dataset: a map-style dataset yielding ``(x, y)``.

    Raises:
        DataError: the dataset is empty.
    """
    memory = tensors_of(dataset)
    if memory is not None:
        target = memory.tensors[-1]
    else:
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise DataError("dataset: cannot evaluate an empty dataset")
        target = torch.as_tensor(dataset[0][1])
    return infer_task(target)


@torch.no_grad()
def evaluate_batches(
    model: nn.Module,
    batches: Batches,
    task_type: str,
    device: torch.device,
    autocast: Callable[[], ContextManager[object]] | None = None,
    extra: Sequence[str] | None = (),
) -> dict[str, float]:
    """Metrics of ``model`` (put in eval mode) over ``batches``.

    Args:
        model: the model, already on ``device``.
        batches: ``(x, y)`` batches on ``device``.
        task_type: a registered task kind (``DatasetMeta.task``).
        device: the device the sums live on.
        autocast: the forward-pass context factory (mixed precision), ``None`` for full precision.
        extra: metrics computed by ``autoopt.metrics`` from the collected outputs, beyond ``loss``
            and the fast ones; ``None`` = that package's defaults for the task.
    """
    model.eval()
    acc = MetricAccumulator(task_type, device, extra)
    for x, y in batches:
        if autocast is None:
            out = model(x)
        else:
            with autocast():
                out = model(x)
        acc.update(out, y)
    return acc.compute()


def evaluate_model(
    model: nn.Module,
    dataset: Dataset,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    *,
    task: str | None = None,
    metrics: Sequence[str] | None = None,
) -> dict[str, float]:
    """Evaluate ``model`` on ``dataset`` (e.g. the test split) and return its metrics.

    Always ``loss`` (cross-entropy or MSE) plus ``metrics`` from :mod:`autoopt.metrics`: by
    default accuracy, precision/recall/F1 (macro) for classification, or mse, rmse, mae, r2 for
    regression. The model is left in eval mode on ``device``.

    Args:
        model: the trained model.
        dataset: a map-style dataset yielding ``(x, y)``.
        batch_size: samples per forward pass.
        device: ``"auto"``, a device name or a ``torch.device``.
        task: a registered task kind (``DatasetMeta.task``); ``None`` infers it from the target dtype.
        metrics: names registered in :mod:`autoopt.metrics`; ``None`` = its defaults for the task.

    Example:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> ds = TensorDataset(torch.randn(8, 3), torch.randint(0, 2, (8,)))
        >>> sorted(evaluate_model(torch.nn.Linear(3, 2), ds, device="cpu", metrics=["accuracy"]))
        ['accuracy', 'loss']
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    task_type = task or infer_task_type(dataset)
    model.to(dev)
    batches = make_batches(dataset, batch_size, shuffle=False, device=dev)
    return evaluate_batches(model, batches, task_type, dev, extra=metrics)
