"""Batched inference: autoopt's one loop that runs any artifact over a dataset and scores it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from autoopt.evaluate._runners import Runner, as_input, make_runner
from autoopt.exceptions import DataError, InvalidSpecError
from autoopt.metrics import compute_metrics
from autoopt.tasks import get_task

__all__ = ["predict", "stack_inputs", "score", "evaluate_runner"]


def _batches(dataset: Dataset, batch_size: int) -> DataLoader:
    # DataLoader fetches whole batches through __getitems__ when the dataset has it (autoopt's TensorData).
    return DataLoader(dataset, batch_size=batch_size, shuffle=False)


def stack_inputs(inputs: Any, limit: int | None = None) -> np.ndarray:
    """The inputs of a dataset (its ``x``), a tensor or an array, as one array: ``int64`` for integer
    inputs (token ids), ``float32`` otherwise.

    Args:
        inputs: a map-style dataset yielding ``(x, y)``, a tensor or an array with a batch dimension.
        limit: keep at most this many samples (the first ones, in dataset order).

    Raises:
        DataError: there are no samples.
    """
    if isinstance(inputs, (torch.Tensor, np.ndarray)):
        arr = inputs.detach().cpu().numpy() if isinstance(inputs, torch.Tensor) else inputs
    else:
        n = len(inputs) if limit is None else min(limit, len(inputs))  # type: ignore[arg-type]
        if n == 0:
            raise DataError("inputs: expected at least one sample; the dataset is empty")
        from torch.utils.data import Subset

        xs = [x for x, _ in _batches(Subset(inputs, range(n)), 256)]
        arr = torch.cat(xs).numpy()
    arr = as_input(arr[:limit] if limit is not None else arr)
    if len(arr) == 0:
        raise DataError("inputs: expected at least one sample; got an empty batch")
    return arr


def predict(model: Any, inputs: Any, *, batch_size: int = 256, threads: int | None = None) -> np.ndarray:
    """Outputs of ``model`` on ``inputs``, batch by batch, concatenated.

    Args:
        model: anything :func:`autoopt.evaluate.make_runner` accepts (module, program, ONNX path, ...).
        inputs: an array/tensor with a batch dimension, or a dataset yielding ``(x, y)``.
        batch_size: samples per call (a fixed-batch ONNX model uses its own batch size).
        threads: intra-op threads (``None``: the backend's default).

    Example:
        >>> import torch
        >>> predict(torch.nn.Linear(3, 2), torch.zeros(5, 3), batch_size=2).shape
        (5, 2)
    """
    runner = make_runner(model, threads=threads)
    x = stack_inputs(inputs)
    step = runner.fixed_batch or batch_size
    outs = []
    with runner.session(threads):
        for i in range(0, len(x), step):
            outs.append(runner(x[i : i + step]))
    return np.concatenate(outs)


def score(
    task: str, y_true: np.ndarray, outputs: np.ndarray, names: Sequence[str] | None = None
) -> dict[str, float]:
    """``autoopt.metrics`` metrics plus ``loss`` (the task kind's: cross-entropy on logits, or MSE)
    of collected outputs.

    Args:
        task: a registered task kind (``DatasetMeta.task``).
        y_true: the targets.
        outputs: the raw model outputs.
        names: the metrics; ``None`` = the kind's defaults.
    """
    kind = get_task(task, key="task")
    metrics = compute_metrics(kind, y_true, outputs, names)
    y = torch.from_numpy(np.asarray(y_true)).to(kind.target_dtype)
    loss = kind.loss(torch.from_numpy(np.asarray(outputs)).float(), y)
    return {"loss": float(loss), **{k: float(v) for k, v in metrics.items()}}


def evaluate_runner(
    runner: Runner,
    dataset: Dataset,
    task: str,
    *,
    batch_size: int = 256,
    threads: int | None = None,
    metrics: Sequence[str] | None = None,
) -> dict[str, float]:
    """Metrics of a runner on every sample of ``dataset`` (see :func:`score`).

    Raises:
        DataError: the dataset is empty.
        InvalidSpecError: ``batch_size`` is not a positive integer.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidSpecError(f"batch_size: expected an integer >= 1; got {batch_size!r}")
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise DataError("split: cannot evaluate on an empty split")
    step = runner.fixed_batch or batch_size
    outs, ys = [], []
    with runner.session(threads):
        for x, y in _batches(dataset, step):
            outs.append(runner(x.numpy()))
            ys.append(y.numpy())
    return score(task, np.concatenate(ys), np.concatenate(outs), metrics)
