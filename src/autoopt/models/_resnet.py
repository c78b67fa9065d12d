"""``resnet``: a small-image residual net in the CIFAR ResNet-20 style (He et al., 2016, section 4.2)."""

from __future__ import annotations

import torch
from torch import nn

from autoopt.data import DatasetMeta
from autoopt.models._base import AutoOptModel, output_dim
from autoopt.models._checks import check_float, check_int, per_layer
from autoopt.models._cnn import image_shape
from autoopt.models._factory import models
from autoopt.models._heads import spatial_pool

__all__ = ["BasicBlock", "ResNet"]


def _conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN layers with an identity shortcut, or a 1x1 conv + BN projection when the
    stride or the channel count changes.

    Args:
        in_ch: input channels.
        out_ch: output channels.
        stride: stride of the first convolution (2 halves the spatial size).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_ch, out_ch, stride)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = _conv3x3(out_ch, out_ch)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(AutoOptModel):
    """Stem (3x3 conv, BN, ReLU), stages of :class:`BasicBlock`, the pooled head
    (:func:`~autoopt.models._heads.spatial_pool`), linear classifier.

    Every stage after the first starts with a stride-2 block while both spatial sides are at least 2.

    Args:
        in_channels: input channels.
        spatial: input ``(H, W)``.
        widths: channels of each stage (the stem uses the first).
        blocks: blocks in each stage.
        num_outputs: classes, or 1 for regression.
        dropout: dropout probability before the head.
        head: ``grid`` (keep an at most 4x4 map, flattened) or ``gap`` (global average pooling).
    """

    def __init__(
        self,
        in_channels: int,
        spatial: tuple[int, int],
        widths: list[int],
        blocks: list[int],
        num_outputs: int,
        *,
        dropout: float = 0.0,
        head: str = "grid",
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            _conv3x3(in_channels, widths[0]), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)
        )
        h, w = spatial
        stages: list[nn.Module] = []
        prev = widths[0]
        for i, (width, n) in enumerate(zip(widths, blocks, strict=True)):
            stride = 2 if i > 0 and min(h, w) >= 2 else 1
            if stride == 2:
                h, w = (h + 1) // 2, (w + 1) // 2
            layers = [BasicBlock(prev, width, stride)] + [BasicBlock(width, width) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            prev = width
        self.stages = nn.ModuleList(stages)
        self.pool, features = spatial_pool(head, (h, w), prev)
        self.head_drop = nn.Dropout(dropout) if dropout > 0 else None
        self.head = nn.Linear(features, num_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return torch.flatten(self.pool(x), 1)

    def blocks(self) -> list[tuple[str, nn.Module]]:
        out: list[tuple[str, nn.Module]] = [("stem", self.stem)]
        for i, stage in enumerate(self.stages):
            out += [(f"stages.{i}.{j}", block) for j, block in enumerate(stage.children())]
        return out + [("head", self.head)]


@models.register("resnet")
def resnet(
    meta: DatasetMeta,
    *,
    stages: int = 3,
    width: int | list[int] = 16,
    blocks: int | list[int] = 3,
    dropout: float = 0.0,
    head: str = "grid",
) -> ResNet:
    """Build a :class:`ResNet`; the defaults are ResNet-20's body (3 stages of 3 blocks, widths 16/32/64;
    ``head: gap`` gives ResNet-20 exactly).

    Args:
        meta: the dataset description; ``input_shape`` must be ``(C, H, W)``.
        stages: number of stages (>= 1).
        width: an int base doubled at each stage, or a list of ``stages`` ints.
        blocks: basic blocks per stage, an int or a list of ``stages`` ints (depth = 6 * blocks + 2).
        dropout: dropout probability before the head, in ``[0, 1)``.
        head: ``grid`` (default: the last map average-pooled to at most 4x4 and flattened) or
            ``gap`` (global average pooling, the head before the grid one; old checkpoints need it).
    """
    c, h, w = image_shape(meta, "resnet")
    stages = check_int("stages", stages, low=1)
    return ResNet(
        c,
        (h, w),
        per_layer("width", width, stages, double=True),
        per_layer("blocks", blocks, stages),
        output_dim(meta),
        dropout=check_float("dropout", dropout, high=1.0),
        head=head,
    )
