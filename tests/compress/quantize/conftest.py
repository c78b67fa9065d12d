"""Tiny trained models on digits, exported to ONNX, for the quantization tests (CPU, seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from autoopt.data import DataBundle, load_data
from autoopt.evaluate import stack_inputs
from autoopt.export import export_onnx
from autoopt.models import build_model
from autoopt.training import fit

#: a CNN with enough weights that they dominate the file (the int8 file is ~4x smaller), and a ResNet
#: with identity and projection residuals.
CONFIGS = {
    "cnn": {"blocks": 3, "channels": 32},
    "resnet": {"stages": 2, "width": 8, "blocks": 1},
}


@pytest.fixture(scope="session")
def digits() -> DataBundle:
    return load_data({"name": "digits", "limit": 400})


def _trained(name: str, data: DataBundle) -> nn.Module:
    torch.manual_seed(0)
    model = build_model(name, CONFIGS[name], data.meta)
    fit(model, data, {"epochs": 5, "lr": 1e-2, "device": "cpu", "seed": 0})
    return model.eval()


@pytest.fixture(scope="session")
def trained(digits: DataBundle) -> dict[str, nn.Module]:
    return {name: _trained(name, digits) for name in CONFIGS}


@pytest.fixture(scope="session")
def fp32_onnx(
    trained: dict[str, nn.Module], digits: DataBundle, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("fp32")
    x = torch.from_numpy(stack_inputs(digits.train, 8))
    return {name: export_onnx(model, x, out / f"{name}.onnx").path for name, model in trained.items()}
