"""The knowledge-distillation loss of Hinton et al. (2015), "Distilling the Knowledge in a Neural Network"."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["kd_loss", "soft_target_loss"]


def soft_target_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    """``T^2 * KL(softmax(teacher / T) || softmax(student / T))``, averaged over the batch.

    The ``T^2`` factor keeps the gradient of the soft term on the scale of the hard term when the
    temperature changes (Hinton et al., section 2).

    Args:
        student_logits: ``(N, C)`` logits of the student.
        teacher_logits: ``(N, C)`` logits of the teacher (no gradient is taken through them).
        temperature: the softmax temperature ``T > 0``.
    """
    s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    t = F.log_softmax(teacher_logits.detach().float() / temperature, dim=-1)
    return temperature**2 * F.kl_div(s, t, log_target=True, reduction="batchmean")


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float,
    temperature: float,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """``alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE(student, target)``.

    Example:
        >>> import torch
        >>> s, t, y = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([0])
        >>> float(kd_loss(s, t, y, alpha=1.0, temperature=4.0))  # same logits: no soft loss
        0.0

    Args:
        student_logits: ``(N, C)`` logits of the student.
        teacher_logits: ``(N, C)`` logits of the teacher.
        target: ``(N,)`` class indices.
        alpha: weight of the soft (teacher) term in ``[0, 1]``; ``0`` is plain cross-entropy.
        temperature: the softmax temperature ``T > 0`` of the soft term.
        label_smoothing: label smoothing of the cross-entropy (hard) term.
    """
    # A zero weight skips its term, so alpha = 0 / 1 is exactly CE / KD even with odd logits.
    loss = student_logits.new_zeros((), dtype=torch.float32)
    if alpha > 0:
        loss = loss + alpha * soft_target_loss(student_logits, teacher_logits, temperature)
    if alpha < 1:
        hard = F.cross_entropy(student_logits.float(), target, label_smoothing=label_smoothing)
        loss = loss + (1 - alpha) * hard
    return loss
