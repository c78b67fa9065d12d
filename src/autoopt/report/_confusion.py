"""The best model's confusion matrix on the test split, rebuilt from the run directory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from autoopt.evaluate import load_run, predict
from autoopt.exceptions import AutoOptError

__all__ = ["confusion_matrix"]


def confusion_matrix(run_dir: str | os.PathLike[str]) -> tuple[np.ndarray, list[str]]:
    """Counts of (true class, predicted class) of ``RUN_DIR/best/``'s model on the test split.

    Args:
        run_dir: a tune run directory (``spec.yaml`` and ``best/``).

    Returns:
        ``(matrix, labels)``: ``matrix[i, j]`` is the number of test samples of class ``i`` predicted
        as ``j``; ``labels`` are the class names.

    Raises:
        AutoOptError: the run has no best model, its data cannot be loaded, or the task is not
            classification.

    Example:
        >>> matrix, labels = confusion_matrix("runs/digits")  # doctest: +SKIP
        >>> int(matrix.trace()) / int(matrix.sum())  # doctest: +SKIP
        0.9926
    """
    run = load_run(Path(run_dir))
    data = run.data
    if data is None or not data.meta.kind.has_classes:
        raise AutoOptError("a confusion matrix needs a task with classes (classification)")
    outputs = predict(run.model, data.test)
    truth = np.concatenate([y.numpy() for _, y in DataLoader(data.test, batch_size=1024)]).astype(int)
    k = int(data.meta.num_classes or outputs.shape[1])
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (truth, outputs.argmax(axis=1)), 1)
    labels = list(data.meta.class_names or [str(i) for i in range(k)])
    return matrix, labels
