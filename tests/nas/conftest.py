"""Shared fixtures of the NAS tests: digits-shaped and CIFAR-shaped dataset descriptions."""

from __future__ import annotations

import pytest
import torch

from autoopt.data._bundle import DatasetMeta

DIGITS = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
CIFAR = DatasetMeta("cifar-shaped", "classification", (3, 32, 32), num_classes=10)
TABLE = DatasetMeta("table", "regression", (12,))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
