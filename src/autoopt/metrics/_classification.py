"""Classification metrics as pure functions on tensors, arrays or lists.

Predictions are either class indices ``(N,)`` or scores/logits ``(N, C)`` (reduced with argmax).
Macro averages follow scikit-learn: over the labels present in ``y_true`` or ``y_pred`` unless
``labels`` is given, and a class with no predicted (or no true) sample scores 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autoopt.exceptions import InvalidSpecError

__all__ = [
    "to_numpy",
    "to_labels",
    "accuracy",
    "top_k_accuracy",
    "confusion_matrix",
    "precision",
    "recall",
    "f1",
]


def to_numpy(x: Any) -> np.ndarray:
    """A numpy array from a tensor (any device, detached), an array or a list."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if x.dtype.is_floating_point:  # bfloat16/half have no numpy equivalent worth keeping
            x = x.float()
        x = x.numpy()
    return np.asarray(x)


def to_labels(y_pred: Any) -> np.ndarray:
    """Class indices from indices ``(N,)`` or scores ``(N, C)``."""
    arr = to_numpy(y_pred)
    if arr.ndim == 2:
        return arr.argmax(axis=1)
    if arr.ndim != 1:
        raise InvalidSpecError(f"y_pred: expected class indices (N,) or scores (N, C); got shape {arr.shape}")
    return arr


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = to_numpy(y_true).reshape(-1), to_labels(y_pred)
    if t.shape[0] != p.shape[0]:
        raise InvalidSpecError(
            f"y_pred: expected {t.shape[0]} predictions (one per target); got {p.shape[0]}"
        )
    if t.shape[0] == 0:
        raise InvalidSpecError("y_true: expected at least one sample; got none")
    return t, p


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of correct predictions.

    Example:
        >>> accuracy([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        0.6666666666666666

    Args:
        y_true: true class indices ``(N,)``.
        y_pred: predicted indices ``(N,)`` or scores ``(N, C)``.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p))


def top_k_accuracy(y_true: Any, y_score: Any, k: int = 5) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores.

    Args:
        y_true: true class indices ``(N,)``.
        y_score: scores or logits ``(N, C)``.
        k: how many top classes count (``k >= C`` gives 1.0).
    """
    t = to_numpy(y_true).reshape(-1)
    s = to_numpy(y_score)
    if s.ndim != 2 or s.shape[0] != t.shape[0]:
        raise InvalidSpecError(f"y_score: expected scores of shape ({t.shape[0]}, C); got {s.shape}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidSpecError(f"k: expected an integer >= 1; got {k!r}")
    top = np.argsort(s, axis=1, kind="stable")[:, ::-1][:, :k]
    return float(np.mean(np.any(top == t[:, None], axis=1)))


def _labels(t: np.ndarray, p: np.ndarray, labels: Sequence[int] | None) -> np.ndarray:
    return np.asarray(labels) if labels is not None else np.union1d(t, p)


def _index_of(labels: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each value in ``labels`` and whether it is there at all."""
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]
    pos = np.clip(np.searchsorted(ordered, values), 0, max(len(labels) - 1, 0))
    found = ordered[pos] == values if len(labels) else np.zeros(values.shape, dtype=bool)
    return order[pos].astype(np.int64), found


def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence[int] | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class ``labels[i]`` predicted as ``labels[j]``.

    Args:
        y_true: true class indices ``(N,)``.
        y_pred: predicted indices ``(N,)`` or scores ``(N, C)``.
        labels: the classes, in order (default: sorted labels seen in either array; pass
            ``range(num_classes)`` to get every class).
    """
    t, p = _pair(y_true, y_pred)
    labs = _labels(t, p, labels)
    n = len(labs)
    ti, t_ok = _index_of(labs, t)
    pi, p_ok = _index_of(labs, p)
    keep = t_ok & p_ok
    ti, pi = ti[keep], pi[keep]
    return np.bincount(ti * n + pi, minlength=n * n).reshape(n, n).astype(np.int64)


def _per_class(y_true: Any, y_pred: Any, labels: Sequence[int] | None) -> tuple[np.ndarray, ...]:
    cm = confusion_matrix(y_true, y_pred, labels).astype(np.float64)
    tp = np.diag(cm)
    return tp, cm.sum(axis=0), cm.sum(axis=1)  # true positives, predicted counts, true counts


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def precision(y_true: Any, y_pred: Any, labels: Sequence[int] | None = None) -> float:
    """Macro-averaged precision (unweighted mean over classes).

    Args:
        y_true: true class indices ``(N,)``.
        y_pred: predicted indices ``(N,)`` or scores ``(N, C)``.
        labels: the classes to average over (default: those seen in either array).
    """
    tp, predicted, _ = _per_class(y_true, y_pred, labels)
    return float(np.mean(_safe_div(tp, predicted)))


def recall(y_true: Any, y_pred: Any, labels: Sequence[int] | None = None) -> float:
    """Macro-averaged recall (the balanced accuracy when every class is present).

    Arguments as :func:`precision`.
    """
    tp, _, actual = _per_class(y_true, y_pred, labels)
    return float(np.mean(_safe_div(tp, actual)))


def f1(y_true: Any, y_pred: Any, labels: Sequence[int] | None = None) -> float:
    """Macro-averaged F1: the mean over classes of ``2 TP / (2 TP + FP + FN)``.

    Arguments as :func:`precision`.
    """
    tp, predicted, actual = _per_class(y_true, y_pred, labels)
    return float(np.mean(_safe_div(2 * tp, predicted + actual)))
