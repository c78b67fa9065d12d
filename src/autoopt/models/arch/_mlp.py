"""``nas-mlp``: a multilayer-perceptron space for tabular data (depth, per-layer width, activation,
dropout, residual connections).

Residual MLPs for tables follow Gorishniy et al. (2021), "Revisiting Deep Learning Models for
Tabular Data". Images are flattened, so the space also works on small images.

Decisions (keys of a params dict)::

    depth                 hidden layers
    l{k}_width            width of hidden layer k (exists when depth >= k)
    activation            relu, gelu, silu or tanh
    dropout               dropout after each hidden layer
    residual              add the layer input to its output from layer 2 on (a bias-free linear
                          projection when the widths differ)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from autoopt.data import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.models._base import AutoOptModel, output_dim
from autoopt.models._factory import models
from autoopt.models._mlp import ACTIVATIONS, make_activation
from autoopt.models.arch._common import (
    ArchSpace,
    Decisions,
    arch_spaces,
    check_options,
    check_range,
    int_param,
)
from autoopt.space import Categorical, Param, Space

__all__ = ["MLPArch", "ResidualMLP", "mlp_space", "parse_mlp", "nas_mlp"]

NAME = "nas-mlp"
_PATTERNS = (r"depth", r"l\d+_width", r"activation", r"dropout", r"residual")


@dataclass(frozen=True)
class MLPArch:
    """A parsed ``nas-mlp`` architecture."""

    widths: tuple[int, ...]
    activation: str = "relu"
    dropout: float = 0.0
    residual: bool = False


def mlp_space(
    meta: DatasetMeta,
    *,
    max_depth: int = 4,
    widths: Sequence[int] = (32, 64, 128, 256),
    activations: Sequence[str] = ACTIVATIONS,
    dropouts: Sequence[float] = (0.0, 0.1, 0.2, 0.3),
) -> Space:
    """The ``nas-mlp`` search space.

    Args:
        meta: the dataset description (any input shape; images are flattened).
        max_depth: the most hidden layers (1-12).
        widths: the widths a hidden layer may have.
        activations: the activations searched (a subset of ``relu, gelu, silu, tanh``).
        dropouts: the dropout probabilities searched.
    """
    max_depth = check_range(NAME, "max_depth", max_depth, 1, 12)
    widths = check_options(NAME, "widths", widths)
    activations = check_options(NAME, "activations", activations, ACTIVATIONS)
    dropouts = tuple(dropouts)
    if not dropouts or any(isinstance(p, bool) or not 0 <= p < 1 for p in dropouts):
        raise InvalidSpecError(
            f"{NAME}.dropouts: expected a non-empty list of numbers in [0, 1); got {list(dropouts)}"
        )
    params: dict[str, Param] = {"depth": int_param(1, max_depth)}
    for k in range(1, max_depth + 1):
        when = {"depth": list(range(k, max_depth + 1))} if k > 1 else None
        params[f"l{k}_width"] = Categorical(list(widths), when=when)
    params["activation"] = Categorical(list(activations))
    params["dropout"] = Categorical([float(p) for p in dropouts])
    params["residual"] = Categorical([False, True])
    return Space(params, key=f"nas.{NAME}")


def parse_mlp(params: Mapping[str, Any]) -> MLPArch:
    """Read a ``nas-mlp`` architecture from its decisions.

    Raises:
        InvalidArchitectureError: a decision is missing or wrong, or ``depth`` is 0.
    """
    d = Decisions(params, NAME, _PATTERNS)
    depth = d.int("depth", low=0)
    if depth == 0:
        d.fail(
            "depth: 0 hidden layers; an architecture needs at least 1 (use model 'mlp' for a linear model)"
        )
    widths = [d.int(f"l{k}_width") for k in range(1, (depth or 0) + 1)]
    activation = d.choice("activation", ACTIVATIONS, default="relu")
    dropout = d.params.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        d.fail(f"dropout: expected a number in [0, 1); got {dropout!r}")
    residual = d.choice("residual", (True, False), default=False)
    d.raise_if_any()
    return MLPArch(tuple(w or 1 for w in widths), str(activation), float(dropout), bool(residual))


class ResidualMLP(AutoOptModel):
    """Flatten, then ``Linear -> activation -> [Dropout]`` per hidden layer (plus a skip from layer 2
    on when ``residual``), then a linear head.

    Args:
        arch: the parsed architecture.
        input_shape: the shape of one sample (flattened).
        num_outputs: classes, or 1 for regression.
    """

    def __init__(self, arch: MLPArch, input_shape: tuple[int, ...], num_outputs: int) -> None:
        super().__init__()
        self.arch = arch
        self.input_shape = tuple(input_shape)
        prev = math.prod(input_shape)
        self.layers = nn.ModuleList()
        self.skips = nn.ModuleList()
        for k, width in enumerate(arch.widths):
            block: list[nn.Module] = [nn.Linear(prev, width), make_activation(arch.activation)]
            if arch.dropout > 0:
                block.append(nn.Dropout(arch.dropout))
            self.layers.append(nn.Sequential(*block))
            if arch.residual and k > 0:
                self.skips.append(nn.Identity() if prev == width else nn.Linear(prev, width, bias=False))
            else:
                self.skips.append(nn.Identity())
            prev = width
        self.head = nn.Linear(prev, num_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(x, 1)
        for k, (layer, skip) in enumerate(zip(self.layers, self.skips, strict=True)):
            x = layer(x) + skip(x) if self.arch.residual and k > 0 else layer(x)
        return x

    def blocks(self) -> list[tuple[str, nn.Module]]:
        out: list[tuple[str, nn.Module]] = []
        for k, (layer, skip) in enumerate(zip(self.layers, self.skips, strict=True)):
            out.append((f"layers.{k}", layer))
            if any(True for _ in skip.parameters()):
                out.append((f"skips.{k}", skip))
        return out + [("head", self.head)]

    def summary_lines(self) -> list[str]:
        """One line per hidden layer (width, activation, dropout, skip), then the head."""
        lines = [f"input    {math.prod(self.input_shape)} features (flattened {tuple(self.input_shape)})"]
        for k, width in enumerate(self.arch.widths):
            parts = [f"linear {width}", self.arch.activation]
            if self.arch.dropout > 0:
                parts.append(f"dropout {self.arch.dropout:g}")
            if self.arch.residual and k > 0:
                proj = isinstance(self.skips[k], nn.Linear)
                parts.append("+ residual (projection)" if proj else "+ residual")
            lines.append(f"layer {k + 1}  {', '.join(parts)}")
        lines.append(f"head     linear {self.head.in_features} -> {self.head.out_features}")
        return lines


@models.register(NAME)
def nas_mlp(meta: DatasetMeta, **params: Any) -> ResidualMLP:
    """Build a ``nas-mlp`` architecture from its decisions (see :func:`mlp_space`).

    Args:
        meta: the dataset description (any input shape; images are flattened).
        **params: the decisions, e.g. a sample of :func:`mlp_space`.

    Raises:
        InvalidArchitectureError: the decisions do not describe a buildable architecture.
    """
    return ResidualMLP(parse_mlp(params), tuple(int(v) for v in meta.input_shape), output_dim(meta))


arch_spaces.register(NAME, "mlp")(
    ArchSpace(
        NAME, mlp_space, nas_mlp, "MLP for tables: depth, per-layer width, activation, dropout, residual"
    )
)
