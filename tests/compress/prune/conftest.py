"""Tiny models and the digits data for the pruning tests (CPU, seconds)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from autoopt.data import DataBundle, load_data
from autoopt.data._bundle import DatasetMeta
from autoopt.models import build_model

META = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)

#: one small configuration per builder (the resnet has a projection shortcut and identity residuals).
TINY = {
    "cnn": {"blocks": 2, "channels": 8},
    "resnet": {"stages": 2, "width": 8, "blocks": 2},
    "mlp": {"depth": 2, "width": 32, "batch_norm": True},
}


@pytest.fixture(scope="session")
def digits() -> DataBundle:
    return load_data({"name": "digits", "limit": 300})


@pytest.fixture
def tiny() -> Callable[..., nn.Module]:
    def build(name: str, seed: int = 0, **params: object) -> nn.Module:
        torch.manual_seed(seed)
        return build_model(name, {**TINY[name], **params}, META)

    return build
