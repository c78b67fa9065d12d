"""The model interface on models that do not subclass AutoOptModel."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from autoopt.exceptions import InvalidSpecError
from autoopt.models import AutoOptModel, WrappedModel, as_autoopt_model


class Custom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


def test_wrapped_model_exposes_the_interface() -> None:
    bare = Custom()
    model = as_autoopt_model(bare)
    assert isinstance(model, WrappedModel) and model.model is bare
    x = torch.randn(2, 1, 6, 6)
    torch.testing.assert_close(model(x), bare(x))
    feats = model.forward_features(x)
    assert feats.shape == (2, 4)
    torch.testing.assert_close(model.forward_head(feats), bare(x))


def test_reset_classifier_replaces_the_last_linear() -> None:
    bare = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    model = as_autoopt_model(bare)
    model.reset_classifier(7)
    assert isinstance(bare[3], nn.Linear) and bare[3].out_features == 7 and bare[3].in_features == 8
    assert model(torch.randn(2, 4, 4)).shape == (2, 7)
    with pytest.raises(InvalidSpecError, match="num_classes: expected a positive integer; got 0"):
        model.reset_classifier(0)


def test_autoopt_model_is_returned_unchanged() -> None:
    class Tiny(AutoOptModel):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(2, 2)

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            return x

    tiny = Tiny()
    assert as_autoopt_model(tiny) is tiny
    assert [n for n, _ in tiny.blocks()] == ["head"]


def test_module_without_linear_cannot_be_wrapped() -> None:
    with pytest.raises(
        InvalidSpecError, match="has no nn.Linear layer; subclass autoopt.models.AutoOptModel"
    ):
        as_autoopt_model(nn.Conv2d(1, 1, 1))


def test_wrapped_blocks_expand_sequentials_and_end_with_the_head() -> None:
    model = as_autoopt_model(Custom())
    assert [n for n, _ in model.blocks()] == ["model.body.0", "model.fc"]
