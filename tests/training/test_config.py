from __future__ import annotations

import pytest

from autoopt.exceptions import InvalidSpecError, UnknownNameError
from autoopt.training import TrainConfig, coerce_config, list_optimizers, list_schedules


def test_defaults_and_dict_coercion() -> None:
    cfg = coerce_config({"epochs": 3, "lr": 0.1, "optimizer": "sgd"})
    assert (cfg.epochs, cfg.lr, cfg.optimizer) == (3, 0.1, "sgd")
    assert cfg.mixed_precision == "auto" and cfg.device == "auto" and cfg.num_workers == 0
    assert cfg.grad_clip is None and cfg.early_stopping_patience is None and cfg.metric is None
    assert coerce_config(None) == TrainConfig()
    assert coerce_config(cfg) is cfg


def test_registries_list_the_spec_names() -> None:
    assert list_optimizers() == ["adam", "adamw", "sgd"]
    assert list_schedules() == [
        "constant",
        "cosine",
        "exponential",
        "onecycle",
        "step",
        "warmup-cosine",
        "warmup-linear",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0}, r"training\.lr: must be > 0"),
        ({"lr": -1e-3}, r"training\.lr: must be > 0.*got -0\.001"),
        ({"epochs": 0}, r"training\.epochs: must be >= 1; got 0"),
        ({"batch_size": 0}, r"training\.batch_size: must be >= 1"),
        ({"momentum": 1.0}, r"training\.momentum: must be < 1"),
        ({"label_smoothing": -0.1}, r"training\.label_smoothing: must be >= 0"),
        ({"grad_clip": 0}, r"training\.grad_clip: must be > 0"),
        ({"early_stopping_patience": -1}, r"training\.early_stopping_patience: must be >= 0"),
        ({"gamma": 2.0}, r"training\.gamma: must be <= 1"),
        ({"mixed_precision": "fp8"}, r"training\.mixed_precision: expected one of: 'auto', 'off'.*got 'fp8'"),
        ({"device": "gpu"}, r"training\.device: expected one of: auto, cpu, cuda.*got 'gpu'"),
        ({"metric_direction": "up"}, r"training\.metric_direction: expected one of"),
        ({"learning_rate": 0.1}, r"training\.learning_rate: unknown key; expected one of: .*lr"),
        ({"epochs": "ten"}, r"training\.epochs: .*valid integer.*got 'ten'"),
        (
            {"nesterov": True, "optimizer": "adam"},
            r"training\.nesterov: needs optimizer 'sgd' with momentum > 0",
        ),
        ({"nesterov": True, "optimizer": "sgd", "momentum": 0.0}, r"training\.nesterov: needs"),
    ],
)
def test_bad_fields_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidSpecError, match=message):
        TrainConfig(**kwargs)


def test_unknown_optimizer_and_schedule_list_valid_names() -> None:
    with pytest.raises(
        InvalidSpecError,
        match=r"training\.optimizer: unknown optimizer 'adamm'; expected one "
        r"of: adam, adamw, sgd\. Did you mean 'adam'",
    ):
        TrainConfig(optimizer="adamm")
    with pytest.raises(
        InvalidSpecError,
        match=r"training\.schedule: unknown schedule 'linear'; expected one of: "
        r"constant, cosine, exponential, onecycle, step",
    ):
        TrainConfig(schedule="linear")


def test_all_errors_reported_at_once() -> None:
    with pytest.raises(InvalidSpecError) as info:
        TrainConfig(lr=0, epochs=0, optimizer="nope")
    assert len(info.value.errors) == 3
    assert str(info.value).startswith("3 errors:")


def test_assignment_is_validated() -> None:
    cfg = TrainConfig()
    with pytest.raises(ValueError, match="lr"):
        cfg.lr = -1.0


def test_not_a_config() -> None:
    with pytest.raises(InvalidSpecError, match="training: expected a TrainConfig or a dict; got list"):
        coerce_config([1, 2])  # type: ignore[arg-type]


def test_unknown_name_error_is_a_key_and_value_error() -> None:
    from autoopt.training import OPTIMIZERS

    with pytest.raises(UnknownNameError):
        OPTIMIZERS.get("nope")
