"""``mlp``: a multilayer perceptron for tables, and for images by flattening them."""

from __future__ import annotations

import math

import torch
from torch import nn

from autoopt.data import DatasetMeta
from autoopt.models._base import AutoOptModel, output_dim
from autoopt.models._checks import check_choice, check_float, check_int, per_layer
from autoopt.models._factory import models

__all__ = ["MLP", "ACTIVATIONS", "make_activation"]

ACTIVATIONS = ("relu", "gelu", "silu", "tanh")


def make_activation(name: str) -> nn.Module:
    """A fresh activation module for one of :data:`ACTIVATIONS`."""
    return {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}[name]()


class MLP(AutoOptModel):
    """Flatten, then ``Linear -> [BatchNorm] -> activation -> [Dropout]`` per hidden layer, then a head.

    Args:
        in_features: size of the flattened input.
        widths: one width per hidden layer (empty: a linear model).
        num_outputs: classes, or 1 for regression.
        activation: one of :data:`ACTIVATIONS`.
        dropout: dropout probability after each hidden layer.
        batch_norm: add ``BatchNorm1d`` after each hidden linear layer.
    """

    def __init__(
        self,
        in_features: int,
        widths: list[int],
        num_outputs: int,
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_features
        for width in widths:
            block: list[nn.Module] = [nn.Linear(prev, width)]
            if batch_norm:
                block.append(nn.BatchNorm1d(width))
            block.append(make_activation(activation))
            if dropout > 0:
                block.append(nn.Dropout(dropout))
            layers.append(nn.Sequential(*block))
            prev = width
        self.layers = nn.ModuleList(layers)
        self.head = nn.Linear(prev, num_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(x, 1)
        for layer in self.layers:
            x = layer(x)
        return x

    def blocks(self) -> list[tuple[str, nn.Module]]:
        return [(f"layers.{i}", m) for i, m in enumerate(self.layers)] + [("head", self.head)]


@models.register("mlp")
def mlp(
    meta: DatasetMeta,
    *,
    depth: int = 2,
    width: int | list[int] = 128,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> MLP:
    """Build an :class:`MLP` for ``meta`` (any input shape; images are flattened).

    Args:
        meta: the dataset description.
        depth: number of hidden layers (0: a linear model).
        width: hidden width, an int for every layer or a list of ``depth`` ints.
        activation: ``relu``, ``gelu``, ``silu`` or ``tanh``.
        dropout: dropout probability after each hidden layer, in ``[0, 1)``.
        batch_norm: add batch normalization after each hidden linear layer.
    """
    depth = check_int("depth", depth)
    return MLP(
        math.prod(meta.input_shape),
        per_layer("width", width, depth),
        output_dim(meta),
        activation=check_choice("activation", activation, ACTIVATIONS),
        dropout=check_float("dropout", dropout, high=1.0),
        batch_norm=bool(batch_norm),
    )
