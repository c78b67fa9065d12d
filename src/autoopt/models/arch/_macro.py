"""``nas-macro``: a chain-structured CNN space for small images (stages of blocks, one op per block).

The space follows the macro search spaces of MnasNet (Tan et al., 2019) and ProxylessNAS (Cai et al.,
2019), scaled down for 8x8 to 32x32 inputs: a stem convolution, 1-4 stages of 1-3 blocks each, a
width, an optional stride-2 start and an optional squeeze-excitation per stage, and one operation
per block from :data:`~autoopt.models.arch._ops.MACRO_OPS`.

Decisions (keys of a params dict)::

    stem_width                       width of the 3x3 stem convolution
    stages                           number of stages
    s{k}_width, s{k}_blocks          per stage k (exist when stages >= k)
    s{k}_downsample, s{k}_se         stride 2 at the stage start; squeeze-excitation at its end
    s{k}_b{j}_op                     operation of block j (exists when s{k}_blocks >= j)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from autoopt.data._bundle import DatasetMeta
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
from autoopt.models.arch._ops import MACRO_OPS, ConvBNReLU, SqueezeExcite, downsampled, make_macro_op
from autoopt.space import Categorical, Fixed, Param, Space

__all__ = ["StageSpec", "MacroArch", "MacroNet", "macro_space", "parse_macro", "nas_macro"]

NAME = "nas-macro"
_PATTERNS = (
    r"stem_width",
    r"stages",
    r"s\d+_(width|blocks|downsample|se)",
    r"s\d+_b\d+_op",
)


@dataclass(frozen=True)
class StageSpec:
    """One stage: ``ops`` (one per block) at ``width`` channels, optionally stride 2 and SE."""

    width: int
    ops: tuple[str, ...]
    downsample: bool = False
    se: bool = False


@dataclass(frozen=True)
class MacroArch:
    """A parsed ``nas-macro`` architecture."""

    stem_width: int
    stages: tuple[StageSpec, ...]


def macro_space(
    meta: DatasetMeta,
    *,
    max_stages: int = 4,
    max_blocks: int = 3,
    widths: Sequence[int] = (16, 32, 64, 96),
    stem_widths: Sequence[int] = (8, 16, 32),
    ops: Sequence[str] = MACRO_OPS,
    se: bool = True,
) -> Space:
    """The ``nas-macro`` search space for ``meta``'s image size.

    A stage may only start with stride 2 while the input still allows it (``s4_downsample`` is fixed
    to false on 8x8 inputs, which take 3 halvings), so every architecture in the space builds.

    Args:
        meta: the dataset description (``input_shape`` must be ``(C, H, W)``).
        max_stages: the largest number of stages (1-8).
        max_blocks: the largest number of blocks per stage (1-6).
        widths: the widths a stage may have.
        stem_widths: the widths the stem may have.
        ops: the operations a block may use (a subset of ``MACRO_OPS``).
        se: whether squeeze-excitation is searched (otherwise never used).
    """
    _, h, w = image_shape(meta, NAME)
    max_stages = check_range(NAME, "max_stages", max_stages, 1, 8)
    max_blocks = check_range(NAME, "max_blocks", max_blocks, 1, 6)
    widths = check_options(NAME, "widths", widths)
    stem_widths = check_options(NAME, "stem_widths", stem_widths)
    ops = check_options(NAME, "ops", ops, MACRO_OPS)
    halvings = max_halvings(min(h, w))
    params: dict[str, Param] = {
        "stem_width": Categorical(list(stem_widths)),
        "stages": int_param(1, max_stages),
    }
    for k in range(1, max_stages + 1):
        when = {"stages": list(range(k, max_stages + 1))} if k > 1 else None
        params[f"s{k}_width"] = Categorical(list(widths), when=when)
        params[f"s{k}_blocks"] = int_param(1, max_blocks, when=when)
        params[f"s{k}_downsample"] = (
            Categorical([True, False], when=when) if k <= halvings else Fixed(False, when=when)
        )
        params[f"s{k}_se"] = Categorical([False, True], when=when) if se else Fixed(False, when=when)
        for j in range(1, max_blocks + 1):
            block_when = {f"s{k}_blocks": list(range(j, max_blocks + 1))} if j > 1 else when
            params[f"s{k}_b{j}_op"] = Categorical(list(ops), when=block_when)
    return Space(params, key=f"nas.{NAME}")


def parse_macro(params: Mapping[str, Any], meta: DatasetMeta | None = None) -> MacroArch:
    """Read a ``nas-macro`` architecture from its decisions and check it fits ``meta``'s input.

    Decisions of stages and blocks beyond ``stages``/``s{k}_blocks`` are ignored.

    Raises:
        InvalidArchitectureError: a decision is missing or wrong, there are zero stages, or the
            stride-2 stages would shrink the input below 1x1; every problem is listed.
    """
    d = Decisions(params, NAME, _PATTERNS)
    stem = d.int("stem_width")
    n = d.int("stages", low=0)
    if n == 0:
        d.fail("stages: 0 stages; an architecture needs at least 1")
    stages: list[StageSpec] = []
    for k in range(1, (n or 0) + 1):
        width = d.int(f"s{k}_width")
        blocks = d.int(f"s{k}_blocks")
        ops = [d.choice(f"s{k}_b{j}_op", MACRO_OPS) for j in range(1, (blocks or 0) + 1)]
        down = d.choice(f"s{k}_downsample", (True, False), default=False)
        se = d.choice(f"s{k}_se", (True, False), default=False)
        stages.append(StageSpec(width or 1, tuple(o or "" for o in ops), bool(down), bool(se)))
    if meta is not None and not d.errors:
        _, h, w = image_shape(meta, NAME)
        side = min(h, w)
        for k, stage in enumerate(stages, 1):
            if stage.downsample:
                if side == 1:
                    allowed = max_halvings(min(h, w))
                    d.fail(
                        f"s{k}_downsample: stage {k} would downsample a 1x1 feature map; a {h}x{w} "
                        f"input allows at most {allowed} stride-2 stages. Set s{k}_downsample to false "
                        "for some stages."
                    )
                    break
                side = downsampled(side, 2)
    d.raise_if_any()
    return MacroArch(int(stem or 1), tuple(stages))


class MacroNet(AutoOptModel):
    """A ``nas-macro`` network: stem, stages of blocks, global average pooling, linear head.

    Args:
        arch: the parsed architecture.
        input_shape: ``(C, H, W)`` of one sample.
        num_outputs: classes, or 1 for regression.
    """

    def __init__(self, arch: MacroArch, input_shape: tuple[int, int, int], num_outputs: int) -> None:
        super().__init__()
        self.arch = arch
        self.input_shape = tuple(input_shape)
        self.stem = ConvBNReLU(input_shape[0], arch.stem_width, 3)
        stages: list[nn.Module] = []
        prev = arch.stem_width
        for stage in arch.stages:
            blocks: list[nn.Module] = []
            for i, op in enumerate(stage.ops):
                stride = 2 if i == 0 and stage.downsample else 1
                blocks.append(make_macro_op(op, prev, stage.width, stride))
                prev = stage.width
            if stage.se:
                blocks.append(SqueezeExcite(stage.width))
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(prev, num_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return torch.flatten(self.pool(x), 1)

    def blocks(self) -> list[tuple[str, nn.Module]]:
        return (
            [("stem", self.stem)]
            + [(f"stages.{i}", m) for i, m in enumerate(self.stages)]
            + [("head", self.head)]
        )

    def summary_lines(self) -> list[str]:
        """One line per layer group: stem, each stage (width, stride, ops, SE, output size), head."""
        _, h, w = self.input_shape
        lines = [f"stem     conv3x3 -> {self.arch.stem_width} ch, {h}x{w}"]
        for k, stage in enumerate(self.arch.stages, 1):
            if stage.downsample:
                h, w = downsampled(h, 2), downsampled(w, 2)
            extra = ", SE" if stage.se else ""
            stride = 2 if stage.downsample else 1
            lines.append(
                f"stage {k}  {stage.width} ch, stride {stride}{extra}, {h}x{w}: {', '.join(stage.ops)}"
            )
        lines.append(f"head     global avg pool, linear {self.head.in_features} -> {self.head.out_features}")
        return lines


#: the registered model builder of this space.
nas_macro = models.register(NAME)(image_builder(NAME, parse_macro, MacroNet))

arch_spaces.register(NAME, "macro")(
    ArchSpace(NAME, macro_space, nas_macro, "chain-structured CNN: stages x blocks x op, width, stride, SE")
)
