"""Regression metrics agree with scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from autoopt.exceptions import InvalidSpecError
from autoopt.metrics import mae, mse, r2, rmse


@pytest.mark.parametrize("seed", range(5))
def test_regression_metrics_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=40)
    pred = y + rng.normal(scale=0.5, size=40)
    pred_t = torch.from_numpy(pred).float().unsqueeze(1)  # a model's (N, 1) float32 output
    assert mse(y, pred) == pytest.approx(skm.mean_squared_error(y, pred))
    assert mae(y, pred) == pytest.approx(skm.mean_absolute_error(y, pred))
    assert r2(y, pred) == pytest.approx(skm.r2_score(y, pred))
    assert rmse(y, pred) == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)))
    assert mse(torch.from_numpy(y), pred_t) == pytest.approx(skm.mean_squared_error(y, pred), rel=1e-6)


@pytest.mark.parametrize("pred", [[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])
def test_r2_with_constant_targets_matches_sklearn(pred: list[float]) -> None:
    y = [2.0, 2.0, 2.0]
    assert r2(y, pred) == skm.r2_score(y, pred)


def test_length_mismatch() -> None:
    with pytest.raises(InvalidSpecError, match=r"y_pred: expected 2 values \(one per target\); got 3"):
        mse([1.0, 2.0], [1.0, 2.0, 3.0])
