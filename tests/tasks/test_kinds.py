"""What each built-in kind computes: loss, predictions, head width, epoch sums, dummy input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autoopt.exceptions import InvalidSpecError
from autoopt.metrics import compute_metrics, list_metrics
from autoopt.tasks import get_task, infer_task, list_tasks


@pytest.mark.parametrize("name", list_tasks())
def test_every_kind_is_consistent(name: str) -> None:
    kind = get_task(name)
    metrics = set(list_metrics(kind))
    assert kind.score_metric in metrics and set(kind.metrics) <= metrics
    assert kind.train_metrics[0] == "loss" and kind.score_metric in kind.train_metrics
    x = kind.example_input((3, 2), batch=4)
    assert x.shape == (4, 3, 2) and x.dtype == kind.input_dtype and not x.any()


def test_classification() -> None:
    kind = get_task("classification")
    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(6, 3, generator=g), torch.tensor([0, 1, 2, 2, 1, 0])
    assert kind.output_dim(3) == 3
    for bad in (None, 0, True):
        with pytest.raises(InvalidSpecError, match=r"data: a classification dataset needs num_classes >= 1"):
            kind.output_dim(bad)
    assert torch.allclose(kind.loss(logits, y), F.cross_entropy(logits, y))
    assert torch.allclose(
        kind.loss(logits, y, label_smoothing=0.2), F.cross_entropy(logits, y, label_smoothing=0.2)
    )
    kind.check_training(0.2)  # label smoothing applies
    assert kind.predictions(logits.numpy()).tolist() == logits.argmax(1).tolist()
    sums = kind.batch_sums(logits, y)
    out = kind.from_sums(sums.tolist(), 6)
    assert out["loss"] == pytest.approx(float(F.cross_entropy(logits, y)))
    assert out["accuracy"] == pytest.approx(float((logits.argmax(1) == y).float().mean()))
    assert kind.from_sums([], 0) == {"loss": 0.0, "accuracy": 0.0}
    assert compute_metrics(kind, y, logits, ["accuracy"])["accuracy"] == pytest.approx(out["accuracy"])


def test_regression() -> None:
    kind = get_task("regression")
    out, y = torch.tensor([[1.0], [2.0], [5.0]]), torch.tensor([1.0, 3.0, 3.0])
    assert kind.output_dim(None) == 1 and kind.output_dim(7) == 1
    assert float(kind.loss(out, y)) == pytest.approx(5 / 3)  # (0 + 1 + 4) / 3, (N, 1) matched to (N,)
    with pytest.raises(InvalidSpecError, match=r"training\.label_smoothing: only applies to classification"):
        kind.check_training(0.1)
    kind.check_training(0.0)
    assert kind.predictions(out.numpy()).tolist() == [1.0, 2.0, 5.0]
    metrics = kind.from_sums(kind.batch_sums(out, y).tolist(), 3)
    assert metrics == pytest.approx({"loss": 5 / 3, "mse": 5 / 3, "rmse": np.sqrt(5 / 3), "mae": 1.0})


def test_infer_task_from_the_target_dtype() -> None:
    assert infer_task(torch.tensor([0.5])) == "regression"
    assert infer_task(torch.tensor([1])) == "classification"
