from __future__ import annotations

import math

import pytest
import torch

from autoopt.distill import kd_loss, soft_target_loss

STUDENT = [[1.0, -0.5, 2.0], [0.3, 0.8, -1.2]]
TEACHER = [[2.5, 0.1, -0.7], [-0.4, 1.9, 0.6]]
TARGET = [2, 1]


def _softmax(row: list[float], t: float) -> list[float]:
    exps = [math.exp(v / t) for v in row]
    return [e / sum(exps) for e in exps]


def by_hand(alpha: float, t: float, smoothing: float = 0.0) -> float:
    """The formula written out sample by sample, in plain Python floats."""
    kl = ce = 0.0
    for s, te, y in zip(STUDENT, TEACHER, TARGET, strict=True):
        p_t, p_s = _softmax(te, t), _softmax(s, t)
        kl += sum(pt * (math.log(pt) - math.log(ps)) for pt, ps in zip(p_t, p_s, strict=True))
        q = _softmax(s, 1.0)
        k = len(s)
        soft_labels = [(1 - smoothing) * (c == y) + smoothing / k for c in range(k)]
        ce += -sum(w * math.log(qc) for w, qc in zip(soft_labels, q, strict=True))
    n = len(STUDENT)
    return alpha * t * t * kl / n + (1 - alpha) * ce / n


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.75, 1.0])
@pytest.mark.parametrize("temperature", [1.0, 2.5, 8.0])
def test_kd_loss_equals_the_formula_computed_by_hand(alpha, temperature):
    got = kd_loss(
        torch.tensor(STUDENT),
        torch.tensor(TEACHER),
        torch.tensor(TARGET),
        alpha=alpha,
        temperature=temperature,
    )
    assert float(got) == pytest.approx(by_hand(alpha, temperature), rel=1e-5)


def test_alpha_zero_is_cross_entropy_and_alpha_one_is_the_soft_term_alone():
    s, t, y = torch.tensor(STUDENT), torch.tensor(TEACHER), torch.tensor(TARGET)
    ce = torch.nn.functional.cross_entropy(s, y)
    assert torch.allclose(kd_loss(s, t, y, alpha=0.0, temperature=4.0), ce)
    assert torch.allclose(kd_loss(s, t, y, alpha=1.0, temperature=4.0), soft_target_loss(s, t, 4.0))
    # Identical logits: nothing left to learn from the teacher.
    assert float(kd_loss(s, s.clone(), y, alpha=1.0, temperature=3.0)) == pytest.approx(0.0, abs=1e-6)


def test_label_smoothing_applies_to_the_cross_entropy_part_only():
    s, t, y = torch.tensor(STUDENT), torch.tensor(TEACHER), torch.tensor(TARGET)
    got = kd_loss(s, t, y, alpha=0.4, temperature=2.0, label_smoothing=0.1)
    assert float(got) == pytest.approx(by_hand(0.4, 2.0, smoothing=0.1), rel=1e-5)
    soft_only = kd_loss(s, t, y, alpha=1.0, temperature=2.0, label_smoothing=0.1)
    assert torch.allclose(soft_only, kd_loss(s, t, y, alpha=1.0, temperature=2.0))


def test_no_gradient_reaches_the_teacher_logits():
    s = torch.tensor(STUDENT, requires_grad=True)
    t = torch.tensor(TEACHER, requires_grad=True)
    kd_loss(s, t, torch.tensor(TARGET), alpha=0.5, temperature=2.0).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None
