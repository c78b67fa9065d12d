"""Unstructured magnitude pruning on the AGP schedule, and the real sparsity of a model.

While fine-tuning, every conv/linear weight is reparametrized as ``weight = original * mask``
(``torch.nn.utils.parametrize``), so the forward, the gradients and the validation pass all see
the masked weights; the masks (non-persistent buffers, so restoring the best epoch keeps them)
are recomputed from the magnitudes at each AGP update. At the end the final masks are applied and
the parametrization removed: the zeros are then plain zeros in ``weight``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import nn
from torch.nn.utils import parametrize

from autoopt.compress.prune._config import SparsityConfig
from autoopt.compress.prune._errors import CompressionError
from autoopt.compress.prune._finetune import TaskFactory, finetune
from autoopt.compress.prune._report import Sparsity, SparsityReport
from autoopt.compress.prune._schedule import AGPSchedule
from autoopt.exceptions import InvalidSpecError
from autoopt.training import TrainConfig, TrainTask, coerce_config, evaluate_model

if TYPE_CHECKING:
    from autoopt.data._bundle import DataBundle

__all__ = ["SparsityResult", "prune_unstructured", "sparsity", "prunable_layers", "magnitude_masks"]

_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


class SparsityResult(NamedTuple):
    """The sparse model and what was done to it (unpacks as ``model, report = ...``)."""

    model: nn.Module
    report: SparsityReport


def _kept(name: str, ignore: Iterable[str]) -> bool:
    return any(name == ig or name.startswith(ig + ".") for ig in ignore)


def prunable_layers(model: nn.Module, ignore: Sequence[str] = ()) -> list[tuple[str, nn.Module]]:
    """``(name, layer)`` of every conv/linear layer not under a name in ``ignore``."""
    return [
        (name, m) for name, m in model.named_modules() if isinstance(m, _LAYERS) and not _kept(name, ignore)
    ]


def sparsity(model: nn.Module, ignore: Sequence[str] = ()) -> Sparsity:
    """The real sparsity of ``model``: the fraction of conv/linear weights that are exactly zero.

    Counts what the forward uses (``layer.weight``, masked if a mask is attached), not a mask or a
    target. Biases and normalization parameters are not counted.

    Example:
        >>> from torch import nn
        >>> layer = nn.Linear(4, 2)
        >>> with torch.no_grad():
        ...     _ = layer.weight[0].zero_()
        >>> sparsity(nn.Sequential(layer)).overall
        0.5

    Args:
        model: the model.
        ignore: layer names (or containers) left out of the count.
    """
    per_layer: dict[str, float] = {}
    zeros = total = 0
    with torch.no_grad():
        for name, layer in prunable_layers(model, ignore):
            w = _weight(layer)
            z = int((w == 0).sum())
            per_layer[name] = z / w.numel()
            zeros += z
            total += w.numel()
    return Sparsity(overall=zeros / total if total else 0.0, per_layer=per_layer, zeros=zeros, total=total)


def magnitude_masks(
    weights: Sequence[torch.Tensor], target: float, scope: str = "layer"
) -> list[torch.Tensor]:
    """Masks zeroing the ``round(target * n)`` smallest-magnitude weights, per tensor or globally.

    Args:
        weights: the weights to rank (already masked ones are zeros, so they stay masked).
        target: the fraction of weights to zero.
        scope: ``layer`` (each tensor reaches ``target``) or ``global`` (one threshold over all).
    """
    with torch.no_grad():
        if scope == "global":
            flat = torch.cat([w.detach().abs().flatten().float() for w in weights])
            keep = _keep_mask(flat, round(target * flat.numel()))
            masks, start = [], 0
            for w in weights:
                masks.append(keep[start : start + w.numel()].view_as(w).to(w.dtype))
                start += w.numel()
            return masks
        return [
            _keep_mask(w.detach().abs().flatten().float(), round(target * w.numel())).view_as(w).to(w.dtype)
            for w in weights
        ]


def _keep_mask(magnitudes: torch.Tensor, k: int) -> torch.Tensor:
    keep = torch.ones_like(magnitudes, dtype=torch.bool)
    if k > 0:
        keep[torch.topk(magnitudes, k, largest=False, sorted=False).indices] = False
    return keep


class _Mask(nn.Module):
    """The parametrization ``weight = original * mask``; the mask is a non-persistent buffer."""

    def __init__(self, like: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", torch.ones_like(like), persistent=False)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask  # type: ignore[operator]


def _weight(layer: nn.Module) -> torch.Tensor:
    weight = layer.weight
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"{type(layer).__name__}.weight is not a tensor")
    return weight


class _Masker:
    """Attaches masks to layers, updates them from magnitudes, and makes them permanent."""

    def __init__(self, layers: list[tuple[str, nn.Module]], scope: str) -> None:
        self.layers, self.scope = layers, scope
        for _, layer in layers:
            parametrize.register_parametrization(layer, "weight", _Mask(_weight(layer)))

    def update(self, target: float) -> None:
        with torch.no_grad():
            weights = [_weight(layer) for _, layer in self.layers]  # masked: pruned weights stay pruned
            masks = magnitude_masks(weights, target, self.scope)
            for (_, layer), mask in zip(self.layers, masks, strict=True):
                layer.parametrizations["weight"][0].mask.copy_(mask)  # type: ignore[index,union-attr,operator]

    def finish(self, target: float) -> None:
        self.update(target)
        for _, layer in self.layers:
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)


class _ScheduledTask(TrainTask):
    """Runs ``on_step()`` before every training forward, then the wrapped task."""

    def __init__(self, inner: TrainTask, on_step: Callable[[], None]) -> None:
        super().__init__(inner.model)
        self.inner = inner
        self._on_step = on_step

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.training:
            self._on_step()
        return self.inner(x, y)


def prune_unstructured(
    model: nn.Module,
    config: SparsityConfig | dict[str, Any] | None = None,
    *,
    data: DataBundle | None = None,
    train_config: TrainConfig | dict[str, Any] | None = None,
    teacher: nn.Module | str | None = None,
    task_factory: TaskFactory | None = None,
) -> SparsityResult:
    """Zero the smallest-magnitude weights of a copy of ``model``, gradually while fine-tuning (AGP).

    With ``epochs > 0`` and ``data``, fine-tunes with ``autoopt.training.fit`` while the masks
    follow the :class:`AGPSchedule` step by step; otherwise prunes to ``sparsity`` in one shot.
    Either way the final masks are made permanent and the report measures the real sparsity.
    The input ``model`` is not modified.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
        >>> sparse, report = prune_unstructured(net, {"sparsity": 0.75})
        >>> round(report.sparsity.overall, 2)
        0.75

    Args:
        model: the model (not modified).
        config: a :class:`SparsityConfig` or a dict of its keys.
        data: the fine-tuning data (needed when ``epochs > 0``).
        train_config: training options (its ``epochs`` is the config's ``epochs``).
        teacher: distill from this model while fine-tuning (``"original"``: a copy of ``model``).
        task_factory: ``task_factory(student, teacher) -> TrainTask`` for a custom loss.

    Raises:
        InvalidSpecError: the config is invalid, or ``epochs > 0`` without data.
        CompressionError: the model has no conv/linear weight to prune.
    """
    cfg = config if isinstance(config, SparsityConfig) else SparsityConfig(**(config or {}))
    if cfg.epochs > 0 and data is None:
        raise InvalidSpecError(
            f"compress.sparsity.epochs: {cfg.epochs} needs training data; pass data= or set 0"
        )
    train_cfg = coerce_config(train_config)
    work = copy.deepcopy(model)
    layers = prunable_layers(work, cfg.ignore)
    if not layers:
        raise CompressionError(
            f"compress.sparsity: {type(model).__name__} has no conv/linear weight outside "
            f"compress.sparsity.ignore ({cfg.ignore}); nothing to prune"
        )
    masker = _Masker(layers, cfg.scope)
    applied: list[tuple[int, float]] = []
    kind = "none"
    if cfg.epochs > 0 and data is not None:
        steps_per_epoch = max(1, math.ceil(len(data.train) / train_cfg.batch_size))  # type: ignore[arg-type]
        total = cfg.epochs * steps_per_epoch
        ramp = max(1, 2 * total // 3 - cfg.start_step)
        frequency = cfg.frequency or max(1, ramp // 10)
        n_updates = cfg.n_updates or max(1, ramp // frequency)
        schedule = AGPSchedule(cfg.initial_sparsity, cfg.sparsity, cfg.start_step, frequency, n_updates)
        counter = [0]

        def on_step() -> None:
            step = counter[0]
            if schedule.is_update(step):
                masker.update(schedule(step))
                applied.append((step, schedule(step)))
            counter[0] += 1

        teacher_model = copy.deepcopy(model).eval() if isinstance(teacher, str) else teacher
        _, kind = finetune(
            work,
            data,
            train_cfg,
            cfg.epochs,
            seed=train_cfg.seed,
            teacher=teacher_model,
            task_factory=task_factory,
            wrap=lambda task: _ScheduledTask(task, on_step),
        )
    if not applied or applied[-1][1] != cfg.sparsity:
        applied.append((applied[-1][0] + 1 if applied else 0, cfg.sparsity))
    masker.finish(cfg.sparsity)
    work.train(model.training)
    metrics = evaluate_model(work, data.val, device=train_cfg.device) if data is not None else {}
    work.train(model.training)
    report = SparsityReport(
        target=cfg.sparsity,
        sparsity=sparsity(work, cfg.ignore),
        schedule=applied,
        finetune=kind,
        val_metrics=metrics,
    )
    return SparsityResult(work, report)
