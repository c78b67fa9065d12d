"""Knowledge distillation: train a small student from a trained teacher's soft targets.

The loss is Hinton et al.'s (2015) ``alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE``,
optionally plus a FitNets-style feature hint; :class:`DistillTask` plugs it into the generic
:func:`autoopt.training.fit` loop.

Example:
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from autoopt.data import DataBundle, DatasetMeta
    >>> from autoopt.distill import distill
    >>> ds = TensorDataset(torch.randn(64, 4), torch.randint(0, 3, (64,)))
    >>> data = DataBundle(ds, ds, ds, DatasetMeta("toy", "classification", (4,), num_classes=3))
    >>> teacher, student = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    >>> result = distill(student, teacher, data, {"epochs": 2, "device": "cpu"}, temperature=4.0)
    >>> result.fit.epochs_run
    2
"""

from __future__ import annotations

from autoopt.distill._config import SEARCHABLE, DistillConfig, DistillParams, TeacherSpec, training_config
from autoopt.distill._fit import DistillResult, build_cache, distill
from autoopt.distill._loss import kd_loss, soft_target_loss
from autoopt.distill._task import DistillTask, FeatureProjection, TeacherCache, teacher_outputs
from autoopt.distill._teacher import TeacherModel, check_teacher, load_teacher, load_teacher_run

__all__ = [
    "SEARCHABLE",
    "DistillConfig",
    "DistillParams",
    "DistillResult",
    "DistillTask",
    "FeatureProjection",
    "TeacherCache",
    "TeacherModel",
    "TeacherSpec",
    "build_cache",
    "check_teacher",
    "distill",
    "kd_loss",
    "load_teacher",
    "load_teacher_run",
    "soft_target_loss",
    "teacher_outputs",
    "training_config",
]
