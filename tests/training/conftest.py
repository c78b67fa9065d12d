"""Tiny data and models for the training tests (CPU, milliseconds)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from autoopt.data._bundle import DataBundle, DatasetMeta


def blobs(n: int, seed: int, features: int = 4, classes: int = 3) -> TensorDataset:
    """Separable Gaussian blobs: a problem a linear model learns in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    centers = 4.0 * torch.eye(classes, features)
    x = centers[y] + torch.randn(n, features, generator=g)
    return TensorDataset(x, y)


def make_bundle(train: Dataset, val: Dataset, task: str = "classification", features: int = 4) -> DataBundle:
    meta = DatasetMeta(
        "toy",
        task,
        (features,),
        num_classes=3 if task == "classification" else None,  # type: ignore[arg-type]
    )
    return DataBundle(train=train, val=val, test=val, meta=meta)


class PerSample(Dataset):
    """A dataset with its own ``__getitem__`` (like augmentation): forces the DataLoader path."""

    def __init__(self, base: TensorDataset) -> None:
        self.base = base
        self.calls = 0

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        return self.base[i]


@pytest.fixture
def bundle() -> DataBundle:
    return make_bundle(blobs(96, seed=0), blobs(48, seed=1))


@pytest.fixture
def linear() -> Callable[[], nn.Module]:
    def build(seed: int = 0) -> nn.Module:
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))

    return build


class Toy:
    """The helpers above as a fixture: ``--import-mode=importlib`` cannot import conftest."""

    blobs = staticmethod(blobs)
    make_bundle = staticmethod(make_bundle)
    PerSample = PerSample


@pytest.fixture
def toy() -> type[Toy]:
    return Toy
