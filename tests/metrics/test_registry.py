"""The metric registry, directions and compute_metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from autoopt.exceptions import InvalidSpecError, UnknownNameError
from autoopt.metrics import compute_metrics, get_metric, list_metrics, metric_direction, metrics
from autoopt.tasks import get_task

CLS, REG = get_task("classification"), get_task("regression")


@pytest.mark.parametrize("name", list_metrics())
def test_every_metric_has_a_direction_and_computes_a_float(name: str) -> None:
    metric = get_metric(name)
    assert metric.direction in ("maximize", "minimize")
    rng = np.random.default_rng(0)
    if metric.target == "classes":
        kind, y, pred = CLS, rng.integers(0, 6, size=30), rng.normal(size=(30, 6))
    else:
        kind, y, pred = REG, rng.normal(size=30), rng.normal(size=30)
    value = compute_metrics(kind, y, pred, [name])[name]
    assert isinstance(value, float) and np.isfinite(value)


def test_directions() -> None:
    assert metric_direction("accuracy") == "maximize"
    assert metric_direction("f1_macro") == "maximize"
    assert metric_direction("r2") == "maximize"
    assert metric_direction("mse") == "minimize"
    assert metric_direction("mae") == "minimize"


def test_list_metrics_by_task() -> None:
    assert set(list_metrics(REG)) == {"mse", "rmse", "mae", "r2"}
    assert "f1_macro" in list_metrics(CLS) and "mse" not in list_metrics(CLS)
    assert list_metrics() == metrics.names()


def test_unknown_metric_lists_names() -> None:
    with pytest.raises(UnknownNameError, match=r"metrics: unknown metric 'f1'; expected one of: .*f1_macro"):
        compute_metrics(CLS, [0], [[1.0, 0.0]], ["f1"])


def test_compute_metrics_classification_defaults_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    y, logits = rng.integers(0, 4, size=50), torch.randn(50, 4, generator=torch.Generator().manual_seed(1))
    pred = logits.argmax(1).numpy()
    out = compute_metrics(CLS, torch.from_numpy(y), logits)
    assert out == pytest.approx(
        {
            "accuracy": skm.accuracy_score(y, pred),
            "precision_macro": skm.precision_score(y, pred, average="macro", zero_division=0),
            "recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
            "f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
        }
    )
    top = compute_metrics(CLS, y, logits, ["top3_accuracy"])
    assert top["top3_accuracy"] == pytest.approx(skm.top_k_accuracy_score(y, logits.numpy(), k=3))


def test_compute_metrics_regression_defaults() -> None:
    out = compute_metrics(REG, [1.0, 2.0, 3.0], torch.tensor([[1.0], [2.0], [5.0]]))
    assert list(out) == ["mse", "rmse", "mae", "r2"]
    assert out["mse"] == pytest.approx(4 / 3) and out["mae"] == pytest.approx(2 / 3)


def test_compute_metrics_refusals() -> None:
    with pytest.raises(
        InvalidSpecError,
        match=r"metrics: 'mse' does not apply to a classification task \(it scores values\); "
        r"expected one of: accuracy, f1_macro",
    ):
        compute_metrics(CLS, [0], [0], ["mse"])
    with pytest.raises(InvalidSpecError, match=r"metrics: 'top5_accuracy' needs scores of shape \(N, C\)"):
        compute_metrics(CLS, [0, 1], [0, 1], ["top5_accuracy"])
