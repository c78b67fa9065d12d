"""``distill``: train a student with a teacher's soft targets through the generic ``fit`` loop."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset

from autoopt.data import DataBundle
from autoopt.distill._config import DistillParams
from autoopt.distill._task import DistillTask, FeatureProjection, TeacherCache, teacher_outputs
from autoopt.distill._teacher import check_teacher
from autoopt.models import as_autoopt_model
from autoopt.training import FitResult, Reporter, TrainConfig, coerce_config, fit, resolve_device
from autoopt.training._batches import tensors_of

__all__ = ["DistillResult", "distill", "build_cache"]


@dataclass
class DistillResult:
    """What :func:`distill` returns.

    Attributes:
        fit: the training result of the student (best epoch restored into the student).
        cached: whether the teacher's outputs were computed once (else per batch).
        projection: the trained feature projection (``None`` without feature distillation).
    """

    fit: FitResult
    cached: bool
    projection: nn.Module | None = None


def build_cache(
    teacher: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
    features: bool,
) -> TeacherCache:
    """Teacher outputs of every sample of ``x`` in order, in batches (one pass, eval mode, no grad).

    Args:
        teacher: the teacher, already on ``device``.
        x: all training inputs.
        y: their targets.
        batch_size: samples per teacher forward pass.
        device: where the teacher runs.
        features: also keep the teacher's features (feature distillation).
    """
    teacher.eval()
    logits, feats = [], []
    for start in range(0, x.shape[0], batch_size):
        out, f = teacher_outputs(teacher, x[start : start + batch_size].to(device), features=features)
        logits.append(out.float().cpu())
        if f is not None:
            feats.append(f.float().cpu())
    return TeacherCache(y.clone(), torch.cat(logits), torch.cat(feats) if features else None)


def _projection(
    student: nn.Module, teacher_shape: tuple[int, ...], data: DataBundle, device: torch.device, seed: int
) -> FeatureProjection:
    x = torch.stack([torch.as_tensor(data.train[i][0]) for i in range(min(2, len(data.train)))])  # type: ignore[arg-type]
    was_training = student.training
    student.eval()
    with torch.no_grad():
        student_shape = tuple(student.forward_features(x.to(device)).shape[1:])  # type: ignore[operator]
    student.train(was_training)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return FeatureProjection(student_shape, teacher_shape).to(device)


def distill(
    student: nn.Module,
    teacher: nn.Module,
    data: DataBundle,
    config: TrainConfig | dict[str, Any] | None = None,
    *,
    alpha: float = 0.9,
    temperature: float = 4.0,
    feature_weight: float = 0.0,
    cache_teacher: bool = True,
    reporter: Reporter | None = None,
    out_dir: str | Path | None = None,
) -> DistillResult:
    """Train ``student`` on ``data`` with knowledge distillation from a frozen ``teacher``.

    The loss is ``alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)`` (label
    smoothing from ``config`` applies to the CE part), plus ``feature_weight`` times the MSE between
    a learned projection of the student's ``forward_features`` and the teacher's (trained with the
    student). Validation, early stopping, checkpoint and history are :func:`autoopt.training.fit`'s.

    When the training split is held in memory without augmentation (and ``cache_teacher``), the
    teacher's outputs are computed once over it, in order, in batches of ``2 x batch_size``; training
    then reads a view of the split whose "targets" are sample indices into that cache (the loop's
    fast batch path shuffles inside ``fit`` and yields no indices of its own). Otherwise the teacher
    runs on every batch.

    Args:
        student: the model to train (moved to the training device; best weights restored).
        teacher: the trained teacher; kept in eval mode, never updated.
        data: the student's data (classification).
        config: the student's :class:`~autoopt.training.TrainConfig` (or dict, or ``None``).
        alpha: weight of the soft-target term in ``[0, 1]``.
        temperature: softmax temperature ``T > 0``.
        feature_weight: weight of the feature hint; ``0`` = off.
        cache_teacher: allow computing the teacher's outputs once.
        reporter: ``reporter(value, epoch)`` per epoch, as in ``fit``.
        out_dir: where ``fit`` writes ``model.safetensors`` and ``history.json``.

    Returns:
        A :class:`DistillResult`.

    Raises:
        InvalidSpecError: an invalid weight (named ``distill.<key>``), a regression dataset, or a teacher
            whose class count differs from the data's (``distill.teacher``).

    Example:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> from autoopt.data import DataBundle, DatasetMeta
        >>> ds = TensorDataset(torch.randn(32, 4), torch.randint(0, 3, (32,)))
        >>> meta = DatasetMeta("toy", "classification", (4,), num_classes=3)
        >>> teacher, student = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
        >>> r = distill(student, teacher, DataBundle(ds, ds, ds, meta), {"epochs": 2, "device": "cpu"})
        >>> r.cached, r.fit.epochs_run
        (True, 2)
    """
    weights = DistillParams(alpha=alpha, temperature=temperature, feature_weight=feature_weight)
    cfg = coerce_config(config)
    device = resolve_device(cfg.device)
    hint = weights.feature_weight > 0
    # forward_features is only needed for the hint; plain modules are wrapped for it.
    student_model = as_autoopt_model(student) if hint else student
    teacher_model = (as_autoopt_model(teacher) if hint else teacher).to(device).eval()
    teacher_shape = check_teacher(teacher_model, data, device, features=hint)
    projection = None
    if teacher_shape is not None:
        projection = _projection(student_model.to(device), teacher_shape, data, device, cfg.seed)

    cache = None
    train_data = data
    memory = tensors_of(data.train) if cache_teacher else None
    if memory is not None and memory.transform is None:
        x, y = memory.tensors[0], memory.tensors[1]
        cache = build_cache(teacher_model, x, y, batch_size=2 * cfg.batch_size, device=device, features=hint)
        train_data = replace(data, train=TensorDataset(x, torch.arange(x.shape[0])))

    task = DistillTask(
        student_model,
        teacher_model,
        alpha=weights.alpha,
        temperature=weights.temperature,
        label_smoothing=cfg.label_smoothing,
        feature_weight=weights.feature_weight,
        projection=projection,
        cache=cache,
    )
    groups = None
    if projection is not None:
        own = [p for p in student_model.parameters() if p.requires_grad]
        groups = [{"params": own}, {"params": list(projection.parameters())}]
    result = fit(
        student_model, train_data, cfg, reporter=reporter, out_dir=out_dir, param_groups=groups, task=task
    )
    return DistillResult(result, cache is not None, projection)
