from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from autoopt.data._bundle import DataBundle
from autoopt.exceptions import InvalidSpecError
from autoopt.training import fit, seed_everything

if TYPE_CHECKING:
    from conftest import Toy

CPU = {"device": "cpu"}


def _without_times(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if "time" not in k and "per_s" not in k} for row in history]


def test_checkpoint_and_history_written(
    bundle: DataBundle, linear: Callable[[], nn.Module], tmp_path: Path
) -> None:
    model = linear()
    out = tmp_path / "trial" / "0"
    result = fit(model, bundle, {"epochs": 3, **CPU}, out_dir=out)
    assert result.checkpoint_path == str(out / "model.safetensors")
    state = load_file(out / "model.safetensors")
    assert set(state) == set(model.state_dict())
    for name, tensor in model.state_dict().items():
        assert torch.equal(state[name], tensor)
    history = json.loads((out / "history.json").read_text())
    assert history["status"] == "completed"
    assert history["metric"] == "accuracy" and history["best_epoch"] == result.best_epoch
    assert history["config"]["epochs"] == 3
    assert len(history["epochs"]) == 3
    for row in history["epochs"]:
        assert {"epoch", "train_loss", "lr", "epoch_time_s", "val_accuracy", "val_loss"} <= set(row)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # temp files were renamed


def test_checkpoint_loads_into_a_fresh_model(
    bundle: DataBundle, linear: Callable[[], nn.Module], tmp_path: Path
) -> None:
    model = linear()
    fit(model, bundle, {"epochs": 2, **CPU}, out_dir=tmp_path)
    fresh = linear(seed=99)
    fresh.load_state_dict(load_file(tmp_path / "model.safetensors"))
    fresh.eval()
    x = bundle.val.tensors[0]  # type: ignore[attr-defined]
    assert torch.equal(fresh(x), model(x))


@pytest.mark.parametrize("fast_path", [True, False])
def test_same_seed_same_history(linear: Callable[[], nn.Module], toy: type[Toy], fast_path: bool) -> None:
    train = toy.blobs(80, seed=0)
    data = toy.make_bundle(train if fast_path else toy.PerSample(train), toy.blobs(24, seed=1))
    cfg = {
        "epochs": 3,
        "batch_size": 16,
        "seed": 7,
        "optimizer": "sgd",
        "lr": 0.05,
        "schedule": "onecycle",
        **CPU,
    }
    first = fit(linear(seed=1), data, cfg)
    second = fit(linear(seed=1), data, cfg)
    assert _without_times(first.history) == _without_times(second.history)
    other = fit(linear(seed=1), data, {**cfg, "seed": 8})
    assert _without_times(other.history) != _without_times(first.history)


def test_seed_everything_seeds_global_generators() -> None:
    import random

    import numpy as np

    seed_everything(3)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(3)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


def test_tensorboard_without_package_names_the_extra(
    bundle: DataBundle, linear: Callable[[], nn.Module], tmp_path: Path
) -> None:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(
            InvalidSpecError,
            match=r"training\.tensorboard: true needs the 'tensorboard' package.*"
            r"autoopt\[tensorboard\]",
        ):
            fit(linear(), bundle, {"epochs": 1, "tensorboard": True, **CPU}, out_dir=tmp_path)
    else:
        fit(linear(), bundle, {"epochs": 1, "tensorboard": True, **CPU}, out_dir=tmp_path)
        assert list((tmp_path / "tensorboard").iterdir())


def test_tensorboard_without_out_dir_warns(bundle: DataBundle, linear: Callable[[], nn.Module]) -> None:
    with pytest.warns(UserWarning, match="no out_dir"):
        fit(linear(), bundle, {"epochs": 1, "tensorboard": True, **CPU})
