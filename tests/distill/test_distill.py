from __future__ import annotations

import copy
import math

import pytest
import torch

from autoopt.data import DataBundle, DatasetMeta
from autoopt.distill import DistillTask, FeatureProjection, distill
from autoopt.exceptions import InvalidSpecError
from autoopt.models import build_model

from .conftest import TRAIN, student_of


def _count_calls(module: torch.nn.Module) -> list[int]:
    calls = [0]

    def hook(*_: object) -> None:
        calls[0] += 1

    module.register_forward_hook(hook)
    return calls


def test_only_the_student_learns_and_the_teacher_stays_in_eval_mode(digits, trained_teacher):
    teacher = copy.deepcopy(trained_teacher)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}  # BN running stats included
    student = student_of(digits)
    start = {k: v.clone() for k, v in student.state_dict().items()}
    distill(student, teacher, digits, TRAIN, cache_teacher=False)
    after = teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in teacher.parameters())
    assert any(not torch.equal(start[k], v) for k, v in student.state_dict().items())


def test_a_backward_pass_of_the_task_reaches_the_student_only(digits, trained_teacher):
    teacher, student = copy.deepcopy(trained_teacher), student_of(digits)
    task = DistillTask(student, teacher, alpha=0.7, temperature=4.0).train()
    assert not teacher.training  # task.train() leaves the teacher in eval mode
    x = torch.stack([digits.train[i][0] for i in range(8)])
    y = torch.stack([digits.train[i][1] for i in range(8)])
    out = task(x, y)
    out["loss"].backward()
    assert out["output"].shape == (8, 10)
    assert all(p.grad is not None for p in student.parameters())
    assert all(p.grad is None for p in teacher.parameters())


@pytest.mark.parametrize("epochs", [1, 3])
def test_cached_teacher_runs_once_over_the_training_split(digits, trained_teacher, epochs):
    teacher = copy.deepcopy(trained_teacher)
    calls = _count_calls(teacher)
    result = distill(student_of(digits), teacher, digits, {**TRAIN, "epochs": epochs})
    n = len(digits.train)
    assert result.cached
    # one probe of the class count + one pass in batches of 2 x batch_size, whatever the epochs
    assert calls[0] == 1 + math.ceil(n / (2 * TRAIN["batch_size"]))


def test_augmented_data_runs_the_teacher_on_every_batch(augmented_digits, trained_teacher):
    teacher = copy.deepcopy(trained_teacher)
    calls = _count_calls(teacher)
    result = distill(student_of(augmented_digits), teacher, augmented_digits, {**TRAIN, "epochs": 2})
    n, bs = len(augmented_digits.train), TRAIN["batch_size"]
    steps = math.ceil(n / bs) - (1 if n % bs == 1 else 0)
    assert not result.cached
    assert calls[0] == 1 + 2 * steps


def test_cached_and_per_batch_teacher_train_the_same_student(digits, trained_teacher):
    """The index view of the cache hands every sample its own teacher logits and label."""
    a, b = student_of(digits), student_of(digits)
    distill(a, copy.deepcopy(trained_teacher), digits, TRAIN, temperature=3.0, cache_teacher=True)
    distill(b, copy.deepcopy(trained_teacher), digits, TRAIN, temperature=3.0, cache_teacher=False)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(va, vb, atol=1e-4), k


@pytest.mark.parametrize("cache", [True, False])
def test_feature_projection_is_trained_with_the_student(digits, trained_teacher, cache):
    student = student_of(digits)
    result = distill(
        student, copy.deepcopy(trained_teacher), digits, TRAIN, feature_weight=1.0, cache_teacher=cache
    )
    proj = result.projection
    assert isinstance(proj, FeatureProjection) and isinstance(proj.proj, torch.nn.Linear)
    # student width -> teacher features (8 channels on the grid head's 4x4 cells)
    assert (proj.proj.in_features, proj.proj.out_features) == (16, 128)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TRAIN.get("seed", 0))
        fresh = FeatureProjection((16,), (128,))  # the same seeded initialization, untrained
    assert not torch.allclose(proj.proj.weight, fresh.proj.weight)


def test_feature_maps_use_a_1x1_convolution():
    proj = FeatureProjection((4, 8, 8), (16, 4, 4))
    assert isinstance(proj.proj, torch.nn.Conv2d) and proj.proj.kernel_size == (1, 1)
    assert proj(torch.zeros(2, 4, 8, 8)).shape == (2, 16, 4, 4)
    with pytest.raises(InvalidSpecError, match="distill.feature_weight"):
        FeatureProjection((4,), (16, 4, 4))


def test_a_teacher_with_other_classes_is_refused(digits):
    meta5 = DatasetMeta("five", "classification", digits.meta.input_shape, num_classes=5)
    teacher = build_model("mlp", {"depth": 1, "width": 8}, meta5)
    with pytest.raises(InvalidSpecError, match=r"distill\.teacher: the teacher predicts 5 classes .* has 10"):
        distill(student_of(digits), teacher, digits, TRAIN)


def test_regression_data_is_refused(digits, trained_teacher):
    ds = torch.utils.data.TensorDataset(torch.randn(16, 3), torch.randn(16))
    data = DataBundle(ds, ds, ds, DatasetMeta("toy", "regression", (3,)))
    with pytest.raises(InvalidSpecError, match="needs a classification dataset"):
        distill(torch.nn.Linear(3, 1), torch.nn.Linear(3, 1), data, TRAIN)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"alpha": 1.5}, "distill.alpha"),
        ({"alpha": -0.1}, "distill.alpha"),
        ({"temperature": 0.0}, "distill.temperature"),
        ({"feature_weight": -1.0}, "distill.feature_weight"),
    ],
)
def test_bad_weights_name_their_key(digits, trained_teacher, kwargs, key):
    with pytest.raises(InvalidSpecError, match=key):
        distill(student_of(digits), trained_teacher, digits, TRAIN, **kwargs)
