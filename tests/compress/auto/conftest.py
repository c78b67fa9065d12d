"""A briefly trained tiny ResNet on digits (8x8) for the policy-search tests (CPU, seconds)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from autoopt.data import DataBundle, load_data
from autoopt.evaluate import stack_inputs
from autoopt.models import build_model

#: 3 stages of one block: 6 searchable groups (residual-coupled convolutions share one).
RESNET = {"stages": 3, "width": 8, "blocks": 1}


@pytest.fixture(scope="session")
def digits_full() -> DataBundle:
    return load_data({"name": "digits", "seed": 0})


@pytest.fixture(scope="session")
def tiny_resnet(digits_full: DataBundle) -> nn.Module:
    torch.manual_seed(0)
    model = build_model("resnet", RESNET, digits_full.meta)
    x = torch.from_numpy(stack_inputs(digits_full.train))
    y = torch.stack([digits_full.train[i][1] for i in range(len(digits_full.train))])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(6):
        for xb, yb in zip(torch.split(x, 128), torch.split(y, 128), strict=False):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    return model.eval()
