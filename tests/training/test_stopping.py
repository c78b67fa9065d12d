from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from autoopt.data._bundle import DataBundle

if TYPE_CHECKING:
    from conftest import Toy
from autoopt.training import evaluate_model, fit


def _diverging_bundle(toy: type[Toy]) -> DataBundle:
    """Validation labels are a permutation of the true ones: learning the train set hurts val accuracy."""
    train = toy.blobs(96, seed=0)
    x, y = toy.blobs(48, seed=1).tensors
    return toy.make_bundle(train, TensorDataset(x, (y + 1) % 3))


def test_early_stopping_triggers_and_restores_best(linear: Callable[[], nn.Module], toy: type[Toy]) -> None:
    data = _diverging_bundle(toy)
    model = linear(seed=3)
    seen: list[tuple[float, int]] = []
    result = fit(
        model,
        data,
        {
            "epochs": 40,
            "lr": 0.05,
            "batch_size": 16,
            "early_stopping_patience": 2,
            "metric": "loss",
            "device": "cpu",
        },
        reporter=lambda value, step: seen.append((value, step)),
    )
    val_losses = [row["val_loss"] for row in result.history]
    assert result.stopped_early
    assert result.epochs_run < 40
    assert result.epochs_run == result.best_epoch + 2 + 1  # two epochs without improvement, then stop
    assert result.best_value == min(val_losses)
    assert val_losses[-1] > result.best_value
    # the model holds the best epoch's weights, not the last ones
    restored = evaluate_model(model, data.val, device="cpu")
    assert restored["loss"] == pytest.approx(result.best_value, rel=1e-6)
    assert result.val_metrics["loss"] == result.best_value
    assert [step for _, step in seen] == list(range(result.epochs_run))
    assert [value for value, _ in seen] == val_losses
    assert not model.training


def test_no_patience_runs_all_epochs_but_restores_best(
    linear: Callable[[], nn.Module], toy: type[Toy]
) -> None:
    data = _diverging_bundle(toy)
    model = linear(seed=3)
    result = fit(model, data, {"epochs": 6, "lr": 0.05, "batch_size": 16, "metric": "loss", "device": "cpu"})
    assert not result.stopped_early and result.epochs_run == 6
    restored = evaluate_model(model, data.val, device="cpu")
    assert restored["loss"] == pytest.approx(result.best_value, rel=1e-6)


def test_patience_zero_stops_at_first_non_improvement(
    linear: Callable[[], nn.Module], toy: type[Toy]
) -> None:
    result = fit(
        linear(seed=3),
        _diverging_bundle(toy),
        {
            "epochs": 30,
            "lr": 0.05,
            "batch_size": 16,
            "early_stopping_patience": 0,
            "metric": "loss",
            "device": "cpu",
        },
    )
    assert result.stopped_early
    assert result.epochs_run == result.best_epoch + 2


def test_grad_clip_bounds_the_update(toy: type[Toy]) -> None:
    x = torch.randn(32, 4) * 100
    y = torch.randint(0, 3, (32,))
    data = toy.make_bundle(TensorDataset(x, y), TensorDataset(x, y))

    def delta(clip: float | None) -> float:
        torch.manual_seed(0)
        model = nn.Linear(4, 3)
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        cfg = {
            "epochs": 1,
            "batch_size": 32,
            "optimizer": "sgd",
            "momentum": 0.0,
            "lr": 1.0,
            "grad_clip": clip,
            "device": "cpu",
        }
        fit(model, data, cfg)
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        return float((after - before).norm())

    assert delta(None) > 1.0
    assert delta(0.01) == pytest.approx(0.01, rel=1e-3)  # one SGD step of lr 1 moves by the clipped norm
