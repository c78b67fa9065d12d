from __future__ import annotations

import pytest
import torch

from autoopt.data import DataBundle, load_data
from autoopt.models import build_model
from autoopt.training import fit

TRAIN = {"epochs": 2, "batch_size": 32, "device": "cpu", "lr": 5e-3}


@pytest.fixture(scope="session")
def digits() -> DataBundle:
    return load_data({"name": "digits", "limit": 300})


@pytest.fixture(scope="session")
def augmented_digits() -> DataBundle:
    return load_data({"name": "digits", "limit": 300, "augment": {"random_crop": 1}})


@pytest.fixture(scope="session")
def trained_teacher(digits: DataBundle) -> torch.nn.Module:
    """A tiny CNN (with BatchNorm, so a teacher left in train mode would change its statistics)."""
    torch.manual_seed(0)
    teacher = build_model("cnn", {"blocks": 1, "channels": 8}, digits.meta)
    fit(teacher, digits, {**TRAIN, "epochs": 3})
    return teacher.eval()


def student_of(digits: DataBundle, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("mlp", {"depth": 1, "width": 16}, digits.meta)
