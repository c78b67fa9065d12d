"""The torchvision builder's adaptation logic, run against a stand-in ``torchvision.models``.

torchvision is optional and not installed in CI; the stand-in mimics the two functions the builder
uses (``list_models``, ``get_model``) and a ResNet-like layout (``conv1``/``maxpool``/``fc``).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn

from autoopt.data._bundle import DatasetMeta
from autoopt.exceptions import CheckpointError, InvalidSpecError
from autoopt.models import WrappedModel, build_model, save_checkpoint


class _TinyTvResNet(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@pytest.fixture
def fake_tv(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    tv_models = types.ModuleType("torchvision.models")
    tv_models.list_models = lambda module=None: ["tinyresnet"]  # type: ignore[attr-defined]
    tv_models.get_model = lambda name, weights=None: _TinyTvResNet()  # type: ignore[attr-defined]
    tv = types.ModuleType("torchvision")
    tv.models = tv_models  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", tv)
    monkeypatch.setitem(sys.modules, "torchvision.models", tv_models)
    return tv_models


def _meta(channels: int = 1, num_classes: int = 5) -> DatasetMeta:
    return DatasetMeta("d", "classification", (channels, 28, 28), num_classes=num_classes)


def test_adapts_channels_and_classes(fake_tv: types.ModuleType) -> None:
    model = build_model("tv:tinyresnet", {}, _meta(1, 5))
    assert isinstance(model, WrappedModel)
    assert model.model.conv1.in_channels == 1
    assert model.classifier_name == "model.fc" and model.get_classifier().out_features == 5
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 5)


def test_small_input_stem(fake_tv: types.ModuleType) -> None:
    model = build_model("torchvision", {"arch": "tinyresnet", "small_input": True}, _meta(3))
    assert model.model.conv1.kernel_size == (3, 3) and model.model.conv1.stride == (1, 1)
    assert isinstance(model.model.maxpool, nn.Identity)
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 5)


def test_unknown_arch(fake_tv: types.ModuleType) -> None:
    with pytest.raises(
        InvalidSpecError, match=r"model\.params\.arch: unknown torchvision architecture 'resnet999'"
    ):
        build_model("tv:resnet999", {}, _meta())


def test_local_weights_are_loaded_before_adapting(fake_tv: types.ModuleType, tmp_path: Path) -> None:
    pretrained = _TinyTvResNet()
    torch.save(pretrained.state_dict(), tmp_path / "tiny.pth")  # as saved from torchvision once
    model = build_model("tv:tinyresnet", {"weights": str(tmp_path / "tiny.pth")}, _meta(1, 5))
    torch.testing.assert_close(model.model.layer1[0].weight, pretrained.layer1[0].weight)
    # grayscale stem: the RGB filters summed, so a gray image gives the same response as before
    torch.testing.assert_close(model.model.conv1.weight[:, 0], pretrained.conv1.weight.sum(dim=1))
    assert model.get_classifier().out_features == 5

    save_checkpoint(_TinyTvResNet(num_classes=10), tmp_path / "wrong.safetensors")
    with pytest.raises(
        CheckpointError, match=r"shape mismatch model\.fc\.weight: checkpoint \(10, 4\) vs model \(1000, 4\)"
    ):
        build_model("tv:tinyresnet", {"weights": str(tmp_path / "wrong.safetensors")}, _meta())
