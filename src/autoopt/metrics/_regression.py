"""Regression metrics as pure functions; predictions of shape ``(N, 1)`` are flattened."""

from __future__ import annotations

from typing import Any

import numpy as np

from autoopt.exceptions import InvalidSpecError
from autoopt.metrics._classification import to_numpy

__all__ = ["mse", "rmse", "mae", "r2"]


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = to_numpy(y_true).astype(np.float64).reshape(-1)
    p = to_numpy(y_pred).astype(np.float64).reshape(-1)
    if t.shape != p.shape:
        raise InvalidSpecError(f"y_pred: expected {t.shape[0]} values (one per target); got {p.shape[0]}")
    if t.shape[0] == 0:
        raise InvalidSpecError("y_true: expected at least one sample; got none")
    return t, p


def mse(y_true: Any, y_pred: Any) -> float:
    """Mean squared error.

    Example:
        >>> mse([1.0, 2.0], [1.0, 4.0])
        2.0
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error."""
    return float(np.sqrt(mse(y_true, y_pred)))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def r2(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``.

    With constant targets (``SS_tot = 0``) it is 1.0 for perfect predictions and 0.0 otherwise,
    as scikit-learn's ``r2_score`` (``force_finite=True``).
    """
    t, p = _pair(y_true, y_pred)
    ss_res = float(np.sum((t - p) ** 2))
    ss_tot = float(np.sum((t - t.mean()) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot
