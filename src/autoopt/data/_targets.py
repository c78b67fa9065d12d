"""Targets: infer the task (classification or regression) and encode labels as class indices.

Rules: strings, booleans and categories are classes; integers with at most ``MAX_INFERRED_CLASSES``
distinct values are classes; floats (and integers with more distinct values) are regression
targets. ``data.task`` overrides the inference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoopt.data._bundle import TaskType
from autoopt.exceptions import DataError
from autoopt.tasks import get_task

__all__ = ["MAX_INFERRED_CLASSES", "Targets", "resolve_targets"]

MAX_INFERRED_CLASSES = 50


@dataclass
class Targets:
    """Encoded targets: ``int64`` class indices or ``float32`` values."""

    y: np.ndarray
    y_test: np.ndarray | None
    task: TaskType
    class_names: list[str] | None
    reason: str


def _missing_rows(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind == "f":
        return np.flatnonzero(np.isnan(y))
    if y.dtype.kind == "O":
        return np.flatnonzero([v is None or (isinstance(v, float) and np.isnan(v)) for v in y])
    return np.array([], dtype=np.int64)


def _infer(y: np.ndarray) -> tuple[TaskType, str]:
    kind = y.dtype.kind
    if kind in "bOUS":
        return "classification", f"inferred: non-numeric target (dtype {y.dtype})"
    if kind in "iu":
        n_unique = len(np.unique(y))
        if n_unique <= MAX_INFERRED_CLASSES:
            return "classification", f"inferred: integer target with {n_unique} distinct values"
        return (
            "regression",
            f"inferred: integer target with {n_unique} > {MAX_INFERRED_CLASSES} distinct values",
        )
    if kind == "f":
        return "regression", "inferred: floating-point target"
    raise DataError(f"data.target: expected numbers or labels, got values of dtype {y.dtype}")


def _as_labels(y: np.ndarray, y_test: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    both = y if y_test is None else np.concatenate([y, y_test])
    try:
        values = np.unique(both)
    except TypeError:  # mixed types in an object column: compare them as text
        y = y.astype(str)
        y_test = None if y_test is None else y_test.astype(str)
        both = y if y_test is None else np.concatenate([y, y_test])
        values = np.unique(both)
    if len(values) < 2:
        raise DataError(
            f"data.target: classification needs at least 2 classes, got {len(values)}: {values.tolist()}"
        )

    def encode(a: np.ndarray) -> np.ndarray:
        return np.asarray(np.searchsorted(values, a), dtype=np.int64)

    return encode(y), None if y_test is None else encode(y_test), [str(v) for v in values.tolist()]


def resolve_targets(
    y: np.ndarray,
    y_test: np.ndarray | None = None,
    *,
    task: TaskType | None = None,
    class_names: list[str] | None = None,
) -> Targets:
    """Infer or check the task and encode the targets.

    Args:
        y: targets of the data to split.
        y_test: targets of a fixed test split, or ``None``.
        task: the task from the config or the source; ``None`` infers it.
        class_names: names when ``y`` already holds class indices ``0..K-1``.

    Raises:
        DataError: missing target values, a non-numeric regression target, a single class, or
            class indices outside ``class_names``.
    """
    y = np.asarray(y).reshape(-1)
    y_test = None if y_test is None else np.asarray(y_test).reshape(-1)
    for part, arr in (("", y), (" of the test split", y_test)):
        if arr is not None and len(rows := _missing_rows(arr)):
            shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise DataError(
                f"data.target: the target{part} has {len(rows)} missing values (rows {shown}); "
                "drop or fill them"
            )
    reason = f"set: {task}"
    if task is None:
        task, reason = _infer(y)
    kind = get_task(task, key="data.task")
    if not kind.has_classes:
        if y.dtype.kind not in "biuf" or (y_test is not None and y_test.dtype.kind not in "biuf"):
            raise DataError(
                f"data.task: {task} needs a numeric target, got dtype {y.dtype} "
                f"(e.g. {y[0]!r}); use task: classification"
            )
        f32 = lambda a: a.astype(np.float32)  # noqa: E731
        return Targets(f32(y), None if y_test is None else f32(y_test), task, None, reason)
    if class_names is not None and y.dtype.kind in "iu":
        k = len(class_names)
        for arr in (y, y_test):
            if arr is not None and len(arr) and (arr.min() < 0 or arr.max() >= k):
                raise DataError(
                    f"data: class indices must lie in [0, {k}), got values from {arr.min()} to {arr.max()}"
                )
        test = None if y_test is None else y_test.astype(np.int64)
        return Targets(y.astype(np.int64), test, task, list(class_names), reason)
    y_enc, y_test_enc, names = _as_labels(y, y_test)
    return Targets(y_enc, y_test_enc, task, names, reason)
