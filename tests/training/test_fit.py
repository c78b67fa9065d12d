from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import torch
from torch import nn
from torch.utils.data import Subset, TensorDataset

from autoopt.data._bundle import DataBundle

if TYPE_CHECKING:
    from conftest import Toy
from autoopt.exceptions import DataError, InvalidSpecError
from autoopt.training import FitResult, TrainConfig, TrainTask, evaluate_model, fit

CPU = {"device": "cpu"}


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "onecycle", "exponential"])
def test_every_optimizer_and_schedule_trains(
    bundle: DataBundle, linear: Callable[[], nn.Module], optimizer: str, schedule: str
) -> None:
    cfg = TrainConfig(epochs=3, batch_size=32, optimizer=optimizer, schedule=schedule, lr=0.05, **CPU)
    result = fit(linear(), bundle, cfg)
    assert isinstance(result, FitResult)
    assert result.epochs_run == 3 and len(result.history) == 3
    lrs = [row["lr"] for row in result.history]
    assert lrs[0] == pytest.approx(0.05 if schedule != "onecycle" else 0.05 / 25)
    if schedule == "constant":
        assert lrs == [0.05] * 3
    elif schedule in ("step", "exponential", "cosine"):
        assert lrs[-1] < lrs[0]
    else:  # onecycle warms up first
        assert lrs[1] > lrs[0]
    assert all(torch.isfinite(torch.tensor(row["train_loss"])) for row in result.history)


def test_loss_decreases_and_model_learns(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    result = fit(linear(), bundle, {"epochs": 8, "lr": 0.01, "batch_size": 16, **CPU})
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0]
    assert result.best_value >= 0.9
    assert result.metric == "accuracy" and result.direction == "maximize"
    assert result.val_metrics["accuracy"] == result.best_value
    assert result.samples_per_s > 0
    for key in (
        "epoch",
        "train_loss",
        "lr",
        "epoch_time_s",
        "train_samples_per_s",
        "val_loss",
        "val_accuracy",
    ):
        assert key in result.history[0]


def test_regression_monitors_mse(linear: Callable[[], nn.Module], toy: type[Toy]) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    data = toy.make_bundle(TensorDataset(x[:96], y[:96]), TensorDataset(x[96:], y[96:]), task="regression")
    torch.manual_seed(0)
    result = fit(nn.Linear(4, 1), data, {"epochs": 30, "lr": 0.05, "batch_size": 16, **CPU})
    assert result.metric == "mse" and result.direction == "minimize"
    assert result.best_value < 0.05 * result.history[0]["val_mse"]
    assert set(result.val_metrics) == {"loss", "mse", "rmse", "mae", "r2"}  # autoopt.metrics defaults
    assert result.val_metrics["mse"] == pytest.approx(result.best_value, rel=1e-5)


def test_label_smoothing_rejected_for_regression(toy: type[Toy]) -> None:
    data = toy.make_bundle(
        TensorDataset(torch.randn(8, 4), torch.randn(8)),
        TensorDataset(torch.randn(4, 4), torch.randn(4)),
        task="regression",
    )
    with pytest.raises(InvalidSpecError, match=r"training\.label_smoothing: only applies to classification"):
        fit(nn.Linear(4, 1), data, {"epochs": 1, "label_smoothing": 0.1, **CPU})


def test_unknown_metric_for_task(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    with pytest.raises(
        InvalidSpecError,
        match=r"training\.metric: 'mse' does not apply to a classification dataset \(it scores values\); "
        r"expected one of: loss, accuracy, f1_macro",
    ):
        fit(linear(), bundle, {"epochs": 1, "metric": "mse", **CPU})
    with pytest.raises(
        InvalidSpecError, match=r"training\.metric: unknown metric 'acc'; expected one of: loss"
    ):
        fit(linear(), bundle, {"epochs": 1, "metric": "acc", **CPU})


def test_any_registered_metric_can_be_monitored(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    result = fit(linear(), bundle, {"epochs": 3, "metric": "f1_macro", **CPU})
    assert result.metric == "f1_macro" and result.direction == "maximize"
    assert [row["val_f1_macro"] for row in result.history][result.best_epoch] == result.best_value
    assert result.val_metrics["f1_macro"] == pytest.approx(result.best_value)
    assert {"loss", "accuracy", "precision_macro", "recall_macro", "f1_macro"} <= set(result.val_metrics)


def test_metric_direction_can_be_overridden(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    result = fit(linear(), bundle, {"epochs": 4, "lr": 0.05, "metric_direction": "minimize", **CPU})
    assert result.direction == "minimize"
    assert result.best_value == min(row["val_accuracy"] for row in result.history)


def test_val_loss_can_be_monitored(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    result = fit(linear(), bundle, {"epochs": 3, "metric": "loss", **CPU})
    assert result.direction == "minimize"
    assert result.best_value == min(row["val_loss"] for row in result.history)


def test_dataloader_path_runs_per_sample_getitem(linear: Callable[[], nn.Module], toy: type[Toy]) -> None:
    train = toy.PerSample(toy.blobs(40, seed=0))
    data = toy.make_bundle(train, toy.blobs(20, seed=1))
    result = fit(linear(), data, {"epochs": 2, "batch_size": 8, **CPU})
    assert train.calls == 80  # every sample went through __getitem__ in each epoch
    assert result.epochs_run == 2


def test_subset_of_tensor_dataset_uses_fast_path_with_same_samples(
    linear: Callable[[], nn.Module], toy: type[Toy]
) -> None:
    base = toy.blobs(60, seed=0)
    data = toy.make_bundle(Subset(base, list(range(0, 60, 2))), toy.blobs(20, seed=1))
    result = fit(linear(), data, {"epochs": 2, "batch_size": 7, **CPU})
    assert result.epochs_run == 2


def test_single_sample_last_batch_is_skipped_for_batchnorm(toy: type[Toy]) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    data = toy.make_bundle(toy.blobs(33, seed=0), toy.blobs(10, seed=1))
    result = fit(model, data, {"epochs": 1, "batch_size": 16, **CPU})  # 16 + 16 + 1
    assert result.epochs_run == 1


def test_param_groups_set_per_group_lr(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    model = linear()
    first, last = model[0], model[3]
    frozen_before = first.weight.detach().clone()
    groups = [{"params": first.parameters(), "lr": 0.0}, {"params": last.parameters()}]
    fit(model, bundle, {"epochs": 2, "lr": 0.1, "optimizer": "sgd", **CPU}, param_groups=groups)
    assert torch.equal(first.weight, frozen_before)


def test_frozen_parameters_are_not_optimized(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    model = linear()
    model[0].requires_grad_(False)
    before = model[0].weight.clone()
    fit(model, bundle, {"epochs": 2, "optimizer": "adamw", "weight_decay": 0.5, **CPU})
    assert torch.equal(model[0].weight, before)


def test_custom_task_is_the_loss(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    class DoubledLoss(TrainTask):
        def compute_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return 2 * nn.functional.cross_entropy(output, target)

    cfg = {"epochs": 1, "lr": 1e-9, "optimizer": "sgd", "momentum": 0.0, **CPU}
    plain = fit(linear(), bundle, cfg).history[0]["train_loss"]
    model = linear()
    doubled = fit(model, bundle, cfg, task=DoubledLoss(model)).history[0]["train_loss"]
    assert doubled == pytest.approx(2 * plain, rel=1e-4)


def test_empty_split_is_a_data_error(linear: Callable[[], nn.Module], toy: type[Toy]) -> None:
    data = toy.make_bundle(
        toy.blobs(10, seed=0), TensorDataset(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    )
    with pytest.raises(DataError, match=r"data\.val: the split is empty"):
        fit(linear(), data, {"epochs": 1, **CPU})


def test_fp16_on_cpu_is_refused(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    with pytest.raises(InvalidSpecError, match=r"training\.mixed_precision: 'fp16' needs a CUDA"):
        fit(linear(), bundle, {"epochs": 1, "mixed_precision": "fp16", **CPU})


def test_bf16_autocast_on_cpu_trains(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    result = fit(linear(), bundle, {"epochs": 2, "mixed_precision": "bf16", **CPU})
    assert result.epochs_run == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_requested_without_cuda(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    with pytest.raises(
        InvalidSpecError, match=r"training\.device: 'cuda' requested but CUDA is not available"
    ):
        fit(linear(), bundle, {"epochs": 1, "device": "cuda"})


def test_evaluate_model_matches_fit_metrics(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    model = linear()
    result = fit(model, bundle, {"epochs": 3, **CPU})
    metrics = evaluate_model(model, bundle.val, batch_size=5, device="cpu")
    assert set(metrics) == set(result.val_metrics)
    for name, value in result.val_metrics.items():
        assert metrics[name] == pytest.approx(value, rel=1e-5)
    regression = evaluate_model(
        nn.Linear(4, 1), TensorDataset(torch.randn(6, 4), torch.randn(6)), device="cpu"
    )
    assert set(regression) == {"loss", "mse", "rmse", "mae", "r2"}
    only = evaluate_model(model, bundle.val, device="cpu", metrics=["top3_accuracy"])
    assert only["top3_accuracy"] == 1.0 and "f1_macro" not in only


def test_tensor_data_fast_path_applies_batch_transform(
    toy: type[Toy], linear: Callable[[], nn.Module]
) -> None:
    from autoopt.data import TensorData

    seen: list[int] = []

    def transform(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.shape[0])
        return x + 0.01 * torch.randn_like(x)

    x, y = toy.blobs(40, seed=0).tensors
    data = toy.make_bundle(TensorData(x, y, transform), TensorData(*toy.blobs(20, seed=1).tensors))
    result = fit(linear(), data, {"epochs": 2, "batch_size": 16, **CPU})
    assert seen == [16, 16, 8] * 2  # once per training batch, never per sample, never on validation
    assert result.epochs_run == 2


def test_fit_on_loaded_digits() -> None:
    from autoopt.data import load_data

    data = load_data("digits")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    result = fit(model, data, {"epochs": 3, "batch_size": 64, "lr": 3e-3, **CPU})
    assert result.best_value > 0.8
    test = evaluate_model(model, data.test, device="cpu")
    assert test["accuracy"] > 0.8
