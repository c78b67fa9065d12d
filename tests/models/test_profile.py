"""count_params and count_macs against hand computations."""

from __future__ import annotations

import torch
from torch import nn

from autoopt.data._bundle import DatasetMeta
from autoopt.models import build_model, count_macs, count_params

META = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)


def test_macs_of_a_tiny_model_by_hand() -> None:
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, groups=2),  # out 4x3x3 = 36 elements, each (2/2) * 3*3 = 9 MACs
        nn.Flatten(),
        nn.Linear(36, 5),  # 36 * 5
    )
    assert count_macs(model, (2, 5, 5)) == 36 * 9 + 36 * 5


def test_macs_of_conv1d_with_stride() -> None:
    model = nn.Sequential(nn.Conv1d(3, 2, kernel_size=4, stride=2))  # length (10-4)//2+1 = 4
    assert count_macs(model, (3, 10)) == 2 * 4 * 3 * 4


def test_macs_of_builders_by_hand() -> None:
    cnn = build_model("cnn", {"blocks": 2, "channels": 4}, META)
    # conv1: 4x8x8 outputs * 1*9; pool -> 4x4; conv2: 8x4x4 outputs * 4*9; pool -> 2x2; head 32*10
    assert count_macs(cnn, (1, 8, 8)) == 4 * 64 * 9 + 8 * 16 * 36 + 320
    mlp = build_model("mlp", {"depth": 1, "width": 16}, META)
    assert count_macs(mlp, (1, 8, 8)) == 64 * 16 + 16 * 10


def test_count_macs_restores_training_mode_and_removes_hooks() -> None:
    model = build_model("cnn", {"blocks": 1, "channels": 2}, META).train()
    count_macs(model, (1, 8, 8))
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())


def test_count_params_trainable_only() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    model[0].weight.requires_grad_(False)
    assert count_params(model) == 12 + 4 + 8 + 2
    assert count_params(model, trainable_only=True) == 4 + 8 + 2


def test_count_params_counts_shared_weights_once() -> None:
    lin = nn.Linear(3, 3)
    assert count_params(nn.Sequential(lin, lin)) == 12
    assert count_macs(nn.Sequential(lin, lin), (3,)) == 18
    assert torch.is_tensor(lin.weight)
