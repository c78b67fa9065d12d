from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
import pytest
import torch
from torch import nn

from autoopt.data._bundle import DataBundle
from autoopt.exceptions import TrainingError
from autoopt.training import fit

if TYPE_CHECKING:
    from conftest import Toy

CPU = {"device": "cpu"}


class _Raises(nn.Module):
    """Behaves like a linear layer until ``after`` forward calls, then fails the way it is told."""

    def __init__(self, after: int, failure: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.after, self.calls, self.failure = after, 0, failure

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = self.linear(x)
        return self.failure(out) if self.calls > self.after else out


def test_huge_lr_gives_nan_training_error(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    cfg = {"epochs": 5, "lr": 1e10, "optimizer": "sgd", "batch_size": 8, **CPU}
    with pytest.raises(
        TrainingError,
        match=r"loss became (nan|inf) at epoch \d+, step \d+; lower training\.lr \(got 1e\+10\) "
        r"or enable training\.grad_clip",
    ):
        fit(linear(), bundle, cfg)


def test_inf_output_reports_the_exact_step(bundle: DataBundle) -> None:
    model = _Raises(after=5, failure=lambda out: out * float("inf"))  # step 5 of epoch 0 (12 steps/epoch)
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 0, step 5;"):
        fit(model, bundle, {"epochs": 2, "batch_size": 8, **CPU})


def test_nan_message_suggests_lowering_an_enabled_clip(bundle: DataBundle) -> None:
    model = _Raises(after=0, failure=lambda out: out * float("nan"))
    with pytest.raises(
        TrainingError, match=r"step 0; lower training\.lr \(got 0\.001\) or lower training\.grad_clip"
    ):
        fit(model, bundle, {"epochs": 1, "grad_clip": 1.0, **CPU})


def test_out_of_memory_becomes_training_error(bundle: DataBundle, tmp_path: Path) -> None:
    def oom(out: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(
        TrainingError,
        match=r"out of memory .*training\.batch_size=32; use a smaller training\."
        r"batch_size \(e\.g\. 16\)",
    ) as info:
        fit(_Raises(after=3, failure=oom), bundle, {"epochs": 2, "batch_size": 32, **CPU}, out_dir=tmp_path)
    assert isinstance(info.value.__cause__, RuntimeError)
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["status"] == "failed" and "out of memory" in history["error"]
    assert not (tmp_path / "model.safetensors").exists()


def test_other_runtime_errors_are_not_hidden(bundle: DataBundle) -> None:
    def bug(out: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes cannot be multiplied") as info:
        fit(_Raises(after=0, failure=bug), bundle, {"epochs": 1, **CPU})
    assert not isinstance(info.value, TrainingError)


def test_reporter_gets_one_value_per_epoch(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    calls: list[tuple[float, int]] = []
    result = fit(linear(), bundle, {"epochs": 4, **CPU}, reporter=lambda v, s: calls.append((v, s)))
    assert [s for _, s in calls] == [0, 1, 2, 3]
    assert all(isinstance(v, float) for v, _ in calls)
    assert [v for v, _ in calls] == [row["val_accuracy"] for row in result.history]


def test_trial_pruned_propagates_after_history_is_written(
    bundle: DataBundle, linear: Callable[[], nn.Module], tmp_path: Path
) -> None:
    def reporter(value: float, step: int) -> None:
        if step == 2:
            raise optuna.TrialPruned(f"pruned at step {step}")

    with pytest.raises(optuna.TrialPruned, match="pruned at step 2"):
        fit(linear(), bundle, {"epochs": 10, **CPU}, reporter=reporter, out_dir=tmp_path)
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["status"] == "pruned"
    assert [row["epoch"] for row in history["epochs"]] == [0, 1, 2]
    assert not (tmp_path / "model.safetensors").exists()


def test_nan_failure_writes_failed_history(toy: type[Toy], tmp_path: Path) -> None:
    data = toy.make_bundle(toy.blobs(32, seed=0), toy.blobs(8, seed=1))
    model = _Raises(after=10, failure=lambda out: out * float("nan"))  # two clean epochs: 4 steps + 1 val
    with pytest.raises(TrainingError, match="epoch 2, step 0"):
        fit(model, data, {"epochs": 5, "batch_size": 8, **CPU}, out_dir=tmp_path)
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["status"] == "failed" and len(history["epochs"]) == 2
    assert "loss became nan" in history["error"]


def test_resumable_fit_goes_on_after_the_last_finished_epoch(tmp_path):
    """A training cut short after epoch 1 (its worker died) resumes at epoch 2 from last.pt."""
    from autoopt.data._bundle import DatasetMeta
    from autoopt.training import RESUME_NAME

    torch.manual_seed(0)
    ds = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randint(0, 3, (64,)))
    data = DataBundle(ds, ds, ds, DatasetMeta("toy", "classification", (4,), num_classes=3))

    class Died(Exception):
        pass

    def die_after_epoch_1(value, epoch):
        if epoch == 1:
            raise Died

    with pytest.raises(Died):
        fit(torch.nn.Linear(4, 3), data, {"epochs": 4, "device": "cpu"}, reporter=die_after_epoch_1,
            out_dir=tmp_path, resumable=True)  # fmt: skip
    assert (tmp_path / RESUME_NAME).is_file()
    first = torch.load(tmp_path / RESUME_NAME, weights_only=True)
    epochs_run = []
    res = fit(torch.nn.Linear(4, 3), data, {"epochs": 4, "device": "cpu"},
              reporter=lambda v, e: epochs_run.append(e), out_dir=tmp_path, resumable=True)  # fmt: skip
    assert epochs_run == [2, 3]  # epochs 0 and 1 were not trained again
    assert [r["epoch"] for r in res.history] == [0, 1, 2, 3]
    assert res.history[:2] == first["history"]
    assert not (tmp_path / RESUME_NAME).exists()  # removed once training finished
