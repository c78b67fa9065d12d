"""``nas-cell``: a NASNet/DARTS cell space (a normal and a reduction cell, stacked).

Each cell has two inputs (the outputs of the two previous cells, ``c_{k-2}`` and ``c_{k-1}``, brought
to ``C`` channels by ``1x1`` preprocessing) and ``nodes`` intermediate nodes; node ``i`` adds two
operations, each applied to one earlier state (a cell input or an earlier node). The cell output
concatenates the intermediate nodes no other node reads, as in NASNet (Zoph et al., 2018); operations
and stacking follow DARTS (Liu et al., 2019): ``layers`` cells, reduction cells (stride 2, twice the
channels) at 1/3 and 2/3 of the depth.

Decisions (keys of a params dict)::

    layers, init_channels, nodes            cells stacked, channels of the first cells, nodes per cell
    {normal,reduce}_n{i}_in{j}              input j (0, 1) of node i: 0 = c_{k-2}, 1 = c_{k-1}, 2+i' = node i'
    {normal,reduce}_n{i}_op{j}              the operation applied to that input
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from autoopt.data._bundle import DatasetMeta
from autoopt.exceptions import InvalidArchitectureError
from autoopt.models._base import AutoOptModel
from autoopt.models._factory import models
from autoopt.models.arch._common import (
    ArchSpace,
    Decisions,
    arch_spaces,
    check_options,
    check_range,
    image_builder,
    image_shape,
    int_param,
    max_halvings,
)
from autoopt.models.arch._ops import CELL_OPS, FactorizedReduce, ReLUConvBN, downsampled, make_cell_op
from autoopt.space import Categorical, Fixed, Param, Space

__all__ = ["NodeSpec", "Genotype", "CellArch", "Cell", "CellNet", "cell_space", "parse_cell", "nas_cell"]

NAME = "nas-cell"
CELL_TYPES = ("normal", "reduce")
STEM_MULTIPLIER = 3
_PATTERNS = (r"layers", r"init_channels", r"nodes", r"(normal|reduce)_n\d+_(in|op)[01]")


@dataclass(frozen=True)
class NodeSpec:
    """An intermediate node: ``ops[0](state[inputs[0]]) + ops[1](state[inputs[1]])``."""

    inputs: tuple[int, int]
    ops: tuple[str, str]


@dataclass(frozen=True)
class Genotype:
    """The nodes of one cell type."""

    nodes: tuple[NodeSpec, ...]

    @property
    def concat(self) -> tuple[int, ...]:
        """State indices (``2 + node``) of the intermediate nodes no other node reads: the cell output."""
        used = {i for node in self.nodes for i in node.inputs}
        return tuple(i for i in range(2, 2 + len(self.nodes)) if i not in used)


@dataclass(frozen=True)
class CellArch:
    """A parsed ``nas-cell`` architecture."""

    layers: int
    init_channels: int
    normal: Genotype
    reduce: Genotype

    @property
    def reductions(self) -> tuple[int, ...]:
        """Indices of the reduction cells: ``layers // 3`` and ``2 * layers // 3``."""
        return tuple(sorted({self.layers // 3, 2 * self.layers // 3}))


def cell_space(
    meta: DatasetMeta,
    *,
    min_layers: int = 3,
    max_layers: int = 8,
    init_channels: Sequence[int] = (8, 16, 24),
    nodes: int = 4,
    ops: Sequence[str] = CELL_OPS,
) -> Space:
    """The ``nas-cell`` search space.

    Args:
        meta: the dataset description (``input_shape`` must be ``(C, H, W)``).
        min_layers: the fewest cells stacked (>= 1).
        max_layers: the most cells stacked.
        init_channels: the channel counts the first cells may have (doubled at each reduction).
        nodes: intermediate nodes per cell (fixed, not searched).
        ops: the operations an edge may use (a subset of ``CELL_OPS``).
    """
    _, h, w = image_shape(meta, NAME)
    min_layers = check_range(NAME, "min_layers", min_layers, 1, 30)
    max_layers = check_range(NAME, "max_layers", max_layers, min_layers, 30)
    init_channels = check_options(NAME, "init_channels", init_channels)
    nodes = check_range(NAME, "nodes", nodes, 1, 8)
    ops = check_options(NAME, "ops", ops, CELL_OPS)
    if max_halvings(min(h, w)) < 2:
        raise_small(h, w, 2)
    params: dict[str, Param] = {
        "layers": int_param(min_layers, max_layers),
        "init_channels": Categorical(list(init_channels)),
        "nodes": Fixed(nodes),
    }
    for kind in CELL_TYPES:
        for i in range(nodes):
            for j in (0, 1):
                params[f"{kind}_n{i}_in{j}"] = Categorical(list(range(i + 2)))
                params[f"{kind}_n{i}_op{j}"] = Categorical(list(ops))
    return Space(params, key=f"nas.{NAME}")


def raise_small(h: int, w: int, reductions: int) -> None:
    """Raise :class:`InvalidArchitectureError`: the input is too small for ``reductions`` reductions."""
    raise InvalidArchitectureError(
        f"{NAME}: layers: {reductions} reduction cells need an input of at least "
        f"{2 ** (reductions - 1) + 1}x{2 ** (reductions - 1) + 1}; got {h}x{w}"
    )


def parse_cell(params: Mapping[str, Any], meta: DatasetMeta | None = None) -> CellArch:
    """Read a ``nas-cell`` architecture from its decisions and check it fits ``meta``'s input.

    Raises:
        InvalidArchitectureError: a decision is missing or wrong (an input index must name an
            earlier state), or the reductions would shrink the input below 1x1.
    """
    d = Decisions(params, NAME, _PATTERNS)
    layers = d.int("layers", low=0)
    if layers == 0:
        d.fail("layers: 0 cells; an architecture needs at least 1")
    channels = d.int("init_channels")
    n = d.int("nodes")
    genotypes: dict[str, Genotype] = {}
    for kind in CELL_TYPES:
        nodes = []
        for i in range(n or 0):
            inputs = tuple(d.choice(f"{kind}_n{i}_in{j}", list(range(i + 2))) for j in (0, 1))
            ops = tuple(d.choice(f"{kind}_n{i}_op{j}", CELL_OPS) for j in (0, 1))
            nodes.append(NodeSpec((inputs[0] or 0, inputs[1] or 0), (ops[0] or "", ops[1] or "")))
        genotypes[kind] = Genotype(tuple(nodes))
    arch = CellArch(layers or 1, channels or 1, genotypes["normal"], genotypes["reduce"])
    if meta is not None and not d.errors:
        _, h, w = image_shape(meta, NAME)
        if len(arch.reductions) > max_halvings(min(h, w)):
            d.fail(
                f"layers: {len(arch.reductions)} reduction cells would downsample a 1x1 feature map "
                f"of the {h}x{w} input; use at least 3 layers on larger inputs"
            )
    d.raise_if_any()
    return arch


class Cell(nn.Module):
    """One cell: preprocess both inputs to ``channels``, compute the nodes, concatenate the unused ones.

    Args:
        genotype: the nodes.
        c_prev_prev: channels of ``c_{k-2}``.
        c_prev: channels of ``c_{k-1}``.
        channels: the cell's channel count ``C``.
        reduction: a reduction cell (stride 2 on the edges from the cell inputs).
        reduction_prev: the previous cell was a reduction (``c_{k-2}`` is twice as large; it is
            reduced by a :class:`FactorizedReduce`).
    """

    def __init__(
        self,
        genotype: Genotype,
        c_prev_prev: int,
        c_prev: int,
        channels: int,
        *,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.genotype = genotype
        self.reduction = reduction
        self.pre0 = (
            FactorizedReduce(c_prev_prev, channels) if reduction_prev else ReLUConvBN(c_prev_prev, channels)
        )
        self.pre1 = ReLUConvBN(c_prev, channels)
        self.edges = nn.ModuleList()
        for node in genotype.nodes:
            for idx, op in zip(node.inputs, node.ops, strict=True):
                self.edges.append(make_cell_op(op, channels, 2 if reduction and idx < 2 else 1))
        self.out_channels = channels * len(genotype.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for i, node in enumerate(self.genotype.nodes):
            a, b = self.edges[2 * i], self.edges[2 * i + 1]
            states.append(a(states[node.inputs[0]]) + b(states[node.inputs[1]]))
        return torch.cat([states[i] for i in self.genotype.concat], dim=1)


class CellNet(AutoOptModel):
    """A ``nas-cell`` network: ``3x3`` stem, ``layers`` cells, global average pooling, linear head.

    Args:
        arch: the parsed architecture.
        input_shape: ``(C, H, W)`` of one sample.
        num_outputs: classes, or 1 for regression.
    """

    def __init__(self, arch: CellArch, input_shape: tuple[int, int, int], num_outputs: int) -> None:
        super().__init__()
        self.arch = arch
        self.input_shape = tuple(input_shape)
        c = arch.init_channels
        c_stem = STEM_MULTIPLIER * c
        self.stem = nn.Sequential(
            nn.Conv2d(input_shape[0], c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)
        )
        c_pp, c_p, c_cur = c_stem, c_stem, c
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(arch.layers):
            reduction = i in arch.reductions
            if reduction:
                c_cur *= 2
            genotype = arch.reduce if reduction else arch.normal
            cell = Cell(genotype, c_pp, c_p, c_cur, reduction=reduction, reduction_prev=reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.out_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(c_p, num_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return torch.flatten(self.pool(s1), 1)

    def blocks(self) -> list[tuple[str, nn.Module]]:
        return (
            [("stem", self.stem)]
            + [(f"cells.{i}", m) for i, m in enumerate(self.cells)]
            + [("head", self.head)]
        )

    def summary_lines(self) -> list[str]:
        """The stacking (cell kinds, channels, sizes) and each cell type's nodes."""
        _, h, w = self.input_shape
        stack = []
        for cell in self.cells:
            if cell.reduction:
                h, w = downsampled(h, 2), downsampled(w, 2)
            kind = "R" if cell.reduction else "N"
            stack.append(f"{kind}{cell.out_channels}@{h}x{w}")
        lines = [
            f"stem     conv3x3 -> {STEM_MULTIPLIER * self.arch.init_channels} ch",
            f"cells    {self.arch.layers} ({' '.join(stack)}; N normal, R reduction, output channels@size)",
        ]
        for kind, genotype in (("normal", self.arch.normal), ("reduce", self.arch.reduce)):
            lines.append(f"{kind} cell:")
            for i, node in enumerate(genotype.nodes):
                terms = " + ".join(
                    f"{op}({_state(idx)})" for idx, op in zip(node.inputs, node.ops, strict=True)
                )
                lines.append(f"  n{i} = {terms}")
            lines.append(f"  output = concat({', '.join(_state(i) for i in genotype.concat)})")
        lines.append(f"head     global avg pool, linear {self.head.in_features} -> {self.head.out_features}")
        return lines


def _state(idx: int) -> str:
    return ("c_{k-2}", "c_{k-1}")[idx] if idx < 2 else f"n{idx - 2}"


#: the registered model builder of this space.
nas_cell = models.register(NAME)(image_builder(NAME, parse_cell, CellNet))

arch_spaces.register(NAME, "cell")(
    ArchSpace(NAME, cell_space, nas_cell, "NASNet/DARTS cells: per node two inputs and two ops, stacked")
)
