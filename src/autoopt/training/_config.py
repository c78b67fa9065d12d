"""``TrainConfig``: the spec's ``training:`` section, validated up front with key-path errors."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from autoopt._validation import ValidatedConfig
from autoopt.exceptions import InvalidSpecError
from autoopt.training._optim import OPTIMIZERS
from autoopt.training._schedule import SCHEDULES

__all__ = ["TrainConfig", "coerce_config"]

_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class TrainConfig(ValidatedConfig):
    """How to train one model: optimizer, schedule, regularization, stopping, device.

    The field names are the spec's ``training.*`` keys and the search-space names. Building one
    with an invalid value raises :class:`~autoopt.exceptions.InvalidSpecError` whose message names
    every bad key (``training.lr: must be > 0; got 0.0``).

    Attributes:
        epochs: maximum number of passes over the training split.
        batch_size: samples per optimizer step (evaluation uses twice this).
        optimizer: a registered optimizer name (``sgd``, ``adam``, ``adamw``).
        lr: base learning rate (the peak rate for ``onecycle``).
        momentum: SGD momentum (ignored by Adam/AdamW).
        nesterov: Nesterov momentum for SGD; needs ``momentum > 0``.
        weight_decay: L2 penalty (decoupled for AdamW).
        schedule: a registered schedule name (``constant``, ``step``, ``cosine``, ``onecycle``,
            ``exponential``).
        step_size: epochs between decays of ``step``; ``None`` = a third of ``epochs``.
        gamma: decay factor of ``step`` (default 0.1) and ``exponential`` (default 0.9), per epoch.
        label_smoothing: cross-entropy label smoothing (classification only).
        grad_clip: maximum global gradient norm; ``None`` disables clipping.
        early_stopping_patience: epochs without improvement of ``metric`` before stopping;
            ``None`` disables early stopping (the best epoch is still restored).
        metric: validation metric to monitor; ``None`` = ``accuracy`` (classification) or
            ``mse`` (regression). ``loss`` is always available.
        metric_direction: ``maximize`` or ``minimize``; ``auto`` knows the built-in metrics.
        mixed_precision: ``auto`` (on for CUDA: bf16 where supported, else fp16; off elsewhere),
            ``off``, ``bf16`` or ``fp16`` (CUDA only).
        device: ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        num_workers: DataLoader worker processes for datasets that are not in-memory tensors.
        seed: seeds python, numpy, torch and the shuffling generator.
        tensorboard: write TensorBoard scalars under ``out_dir/tensorboard`` (needs the
            ``autoopt[tensorboard]`` extra).

    Example:
        >>> cfg = TrainConfig(epochs=3, lr=0.01, optimizer="sgd", schedule="cosine")
        >>> cfg.batch_size
        64
    """

    key: ClassVar[str] = "training"

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    optimizer: str = "adamw"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(0.0, ge=0)
    schedule: str = "constant"
    step_size: int | None = Field(None, ge=1)
    gamma: float | None = Field(None, gt=0, le=1)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    grad_clip: float | None = Field(None, gt=0)
    early_stopping_patience: int | None = Field(None, ge=0)
    metric: str | None = None
    metric_direction: Literal["auto", "maximize", "minimize"] = "auto"
    mixed_precision: Literal["auto", "off", "bf16", "fp16"] = "auto"
    device: str = "auto"
    num_workers: int = Field(0, ge=0)
    seed: int = Field(0, ge=0)
    tensorboard: bool = False

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, value: str) -> str:
        OPTIMIZERS.get(value)  # raises UnknownNameError (a ValueError) listing the valid names
        return value

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str) -> str:
        SCHEDULES.get(value)
        return value

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not _DEVICE_RE.match(value):
            raise ValueError(f"expected one of: auto, cpu, cuda, cuda:N, mps; got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise ValueError(
                "nesterov: needs optimizer 'sgd' with momentum > 0; "
                f"got optimizer {self.optimizer!r}, momentum {self.momentum}"
            )
        return self


def coerce_config(config: TrainConfig | dict[str, Any] | None) -> TrainConfig:
    """Return ``config`` as a :class:`TrainConfig` (a dict is validated, ``None`` gives defaults).

    Args:
        config: a ``TrainConfig``, a mapping of ``training.*`` keys, or ``None``.

    Raises:
        InvalidSpecError: a key is unknown or a value is invalid (every problem listed).
    """
    if config is None:
        return TrainConfig()
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        return TrainConfig(**config)
    raise InvalidSpecError(f"training: expected a TrainConfig or a dict; got {type(config).__name__}")
