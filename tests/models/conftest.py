"""Shared fixtures for the model tests: dataset descriptions shaped like autoopt's built-in data."""

from __future__ import annotations

import pytest
import torch

from autoopt.data._bundle import DatasetMeta


def make_meta(shape: tuple[int, ...], num_classes: int | None = 10) -> DatasetMeta:
    task = "classification" if num_classes is not None else "regression"
    return DatasetMeta("fake", task, shape, num_classes=num_classes)


@pytest.fixture
def digits_meta() -> DatasetMeta:
    return make_meta((1, 8, 8))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
