"""``DistillTask``: the training task of a student taught by a frozen teacher.

The training loop (:func:`autoopt.training.fit`) only calls ``task(x, y)``; this task adds the
teacher's soft targets (and optional feature hints) to the loss. Teacher outputs come either from
the teacher run on the batch (augmented data: every epoch shows different inputs) or from a
:class:`TeacherCache` computed once over the training split, in which case the batches carry the
sample *indices* in place of the targets and the cache holds the targets and the teacher outputs
per sample (see :func:`autoopt.distill.distill`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autoopt.distill._loss import kd_loss
from autoopt.exceptions import InvalidSpecError
from autoopt.training import TrainTask

__all__ = ["DistillTask", "FeatureProjection", "TeacherCache", "teacher_outputs"]


class FeatureProjection(nn.Module):
    """A learned map from the student's feature shape to the teacher's (the FitNets regressor).

    ``(N, D_s) -> (N, D_t)`` is a linear layer; ``(N, C_s, H, W) -> (N, C_t, H_t, W_t)`` a 1x1
    convolution followed, when the spatial sizes differ, by adaptive average pooling.

    Args:
        student_shape: shape of one sample's student features (without the batch dimension).
        teacher_shape: shape of one sample's teacher features.

    Raises:
        InvalidSpecError: the shapes are neither both vectors nor both feature maps.
    """

    def __init__(self, student_shape: tuple[int, ...], teacher_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.out_size: tuple[int, int] | None = None
        if len(student_shape) == 1 and len(teacher_shape) == 1:
            self.proj: nn.Module = nn.Linear(student_shape[0], teacher_shape[0])
        elif len(student_shape) == 3 and len(teacher_shape) == 3:
            self.proj = nn.Conv2d(student_shape[0], teacher_shape[0], kernel_size=1)
            if student_shape[1:] != teacher_shape[1:]:
                self.out_size = (teacher_shape[1], teacher_shape[2])
        else:
            raise InvalidSpecError(
                "distill.feature_weight: feature distillation needs student and teacher features that are "
                f"both vectors (D,) or both maps (C, H, W); got student {student_shape} and teacher "
                f"{teacher_shape}; set feature_weight to 0"
            )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out = self.proj(features)
        if self.out_size is not None:
            out = F.adaptive_avg_pool2d(out, self.out_size)
        return out


class TeacherCache(nn.Module):
    """The targets and the teacher outputs of every training sample, indexed by sample index.

    Buffers, so moving the task to the training device moves them too.

    Args:
        targets: ``(N,)`` class indices of the training samples, in dataset order.
        logits: ``(N, C)`` teacher logits of the same samples.
        features: ``(N, ...)`` teacher features (only with feature distillation).
    """

    targets: torch.Tensor
    logits: torch.Tensor
    features: torch.Tensor | None

    def __init__(
        self, targets: torch.Tensor, logits: torch.Tensor, features: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.register_buffer("targets", targets)
        self.register_buffer("logits", logits)
        self.register_buffer("features", features)

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def lookup(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(targets, teacher logits, teacher features or None)`` of the samples ``index``."""
        features = self.features[index] if self.features is not None else None
        return self.targets[index], self.logits[index], features


def teacher_outputs(
    teacher: nn.Module, x: torch.Tensor, *, features: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The teacher's logits (and features) of a batch, without building a graph.

    Args:
        teacher: an autoopt model (``forward_features``/``forward_head``) in eval mode.
        x: the input batch.
        features: also return ``forward_features(x)`` (one forward pass serves both).
    """
    with torch.no_grad():
        if not features:
            return teacher(x), None
        feats = teacher.forward_features(x)  # type: ignore[operator]
        return teacher.forward_head(feats), feats  # type: ignore[operator]


class DistillTask(TrainTask):
    """Student loss ``kd_loss(student, teacher, y) + feature_weight * MSE(proj(f_s), f_t)``.

    The teacher is kept in eval mode (``task.train()`` does not switch it) and runs without grad;
    only the student and the projection receive gradients.

    Args:
        model: the student being trained.
        teacher: the frozen teacher (an autoopt model).
        alpha: weight of the soft-target term in ``[0, 1]``.
        temperature: softmax temperature of the soft-target term.
        label_smoothing: label smoothing of the cross-entropy term.
        feature_weight: weight ``beta`` of the feature-hint term; ``0`` disables it.
        projection: the map from student features to teacher features (needed when
            ``feature_weight > 0``); train its parameters with the student's.
        cache: per-sample teacher outputs; batches then carry sample indices in place of targets.
    """

    def __init__(
        self,
        model: nn.Module,
        teacher: nn.Module,
        *,
        alpha: float,
        temperature: float,
        label_smoothing: float = 0.0,
        feature_weight: float = 0.0,
        projection: nn.Module | None = None,
        cache: TeacherCache | None = None,
    ) -> None:
        super().__init__(model)
        if feature_weight > 0 and projection is None:
            raise InvalidSpecError("distill.feature_weight: > 0 needs a feature projection; got none")
        if cache is not None and feature_weight > 0 and cache.features is None:
            raise InvalidSpecError("distill.feature_weight: > 0 needs cached teacher features; got none")
        self.teacher = teacher.eval()
        self.alpha = alpha
        self.temperature = temperature
        self.label_smoothing = label_smoothing
        self.feature_weight = feature_weight
        self.projection = projection
        self.cache = cache

    def train(self, mode: bool = True) -> DistillTask:
        super().train(mode)
        self.teacher.eval()  # BatchNorm statistics and dropout of the teacher stay fixed
        return self

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss and student logits of one batch.

        Args:
            x: the input batch.
            y: the targets, or the sample indices when the task has a :class:`TeacherCache`.
        """
        hint = self.feature_weight > 0
        if self.cache is not None:
            y, t_logits, t_feats = self.cache.lookup(y)
        else:
            t_logits, t_feats = teacher_outputs(self.teacher, x, features=hint)
        if hint:
            s_feats = self.model.forward_features(x)  # type: ignore[operator]
            output = self.model.forward_head(s_feats)  # type: ignore[operator]
        else:
            output = self.model(x)
        loss = kd_loss(
            output,
            t_logits,
            y,
            alpha=self.alpha,
            temperature=self.temperature,
            label_smoothing=self.label_smoothing,
        )
        result = {"output": output, "teacher_logits": t_logits}
        if hint and self.projection is not None and t_feats is not None:  # both checked in __init__
            hint_loss = F.mse_loss(self.projection(s_feats).float(), t_feats.float())
            loss = loss + self.feature_weight * hint_loss
            result["hint_loss"] = hint_loss.detach()
        result["loss"] = loss
        return result
