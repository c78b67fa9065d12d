"""``cnn``: a plain convolutional net (conv blocks, a resolution-aware pooled head, linear classifier)."""

from __future__ import annotations

import torch
from torch import nn

from autoopt.data import DatasetMeta
from autoopt.models._base import AutoOptModel, output_dim
from autoopt.models._checks import ParamError, check_choice, check_float, check_int, per_layer
from autoopt.models._factory import models
from autoopt.models._heads import spatial_pool

__all__ = ["CNN", "POOLINGS", "image_shape"]

POOLINGS = ("max", "avg", "none")


def image_shape(meta: DatasetMeta, model: str) -> tuple[int, int, int]:
    """``(C, H, W)`` of ``meta``, or :class:`ParamError` saying the model needs images."""
    if len(meta.input_shape) != 3:
        raise ParamError(
            "input_shape",
            f"model {model!r} needs image inputs (C, H, W); got {tuple(meta.input_shape)}. "
            "Use 'mlp' for tables.",
        )
    c, h, w = (int(v) for v in meta.input_shape)
    return c, h, w


class CNN(AutoOptModel):
    """``[Conv -> [BN] -> ReLU] x convs_per_block -> [pool 2x2]`` per block, then the pooled head
    (see :func:`~autoopt.models._heads.spatial_pool`), dropout, linear classifier.

    A block only pools while both spatial sides are at least 2, so small inputs (8x8 digits) never
    shrink below 1x1.

    Args:
        in_channels: input channels.
        spatial: input ``(H, W)``.
        channels: output channels of each block.
        num_outputs: classes, or 1 for regression.
        kernel_size: convolution kernel size (odd sizes keep the spatial size).
        convs_per_block: convolutions in each block.
        pooling: ``max``, ``avg`` or ``none``.
        dropout: dropout probability before the head.
        batch_norm: add ``BatchNorm2d`` after each convolution.
        head: ``grid`` (keep an at most 4x4 map, flattened) or ``gap`` (global average pooling).
    """

    def __init__(
        self,
        in_channels: int,
        spatial: tuple[int, int],
        channels: list[int],
        num_outputs: int,
        *,
        kernel_size: int = 3,
        convs_per_block: int = 1,
        pooling: str = "max",
        dropout: float = 0.0,
        batch_norm: bool = True,
        head: str = "grid",
    ) -> None:
        super().__init__()
        h, w = spatial
        blocks: list[nn.Module] = []
        prev = in_channels
        for out in channels:
            layers: list[nn.Module] = []
            for _ in range(convs_per_block):
                layers.append(
                    nn.Conv2d(prev, out, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
                )
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out))
                layers.append(nn.ReLU(inplace=True))
                prev = out
            if pooling != "none" and min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2))
                h, w = h // 2, w // 2
            blocks.append(nn.Sequential(*layers))
        self.body = nn.ModuleList(blocks)
        self.pool, features = spatial_pool(head, (h, w), prev)
        self.head_drop = nn.Dropout(dropout) if dropout > 0 else None
        self.head = nn.Linear(features, num_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.body:
            x = block(x)
        return torch.flatten(self.pool(x), 1)

    def blocks(self) -> list[tuple[str, nn.Module]]:
        return [(f"body.{i}", m) for i, m in enumerate(self.body)] + [("head", self.head)]


@models.register("cnn")
def cnn(
    meta: DatasetMeta,
    *,
    blocks: int = 3,
    channels: int | list[int] = 32,
    kernel_size: int = 3,
    convs_per_block: int = 1,
    pooling: str = "max",
    dropout: float = 0.0,
    batch_norm: bool = True,
    head: str = "grid",
) -> CNN:
    """Build a :class:`CNN` for image data.

    Args:
        meta: the dataset description; ``input_shape`` must be ``(C, H, W)``.
        blocks: number of conv blocks (>= 1).
        channels: an int base doubled at each block (``32 -> 32, 64, 128``) or a list of ``blocks`` ints.
        kernel_size: convolution kernel size (odd).
        convs_per_block: convolutions per block.
        pooling: ``max``, ``avg`` or ``none`` (2x2, skipped once a side is below 2).
        dropout: dropout probability before the head, in ``[0, 1)``.
        batch_norm: batch normalization after each convolution.
        head: ``grid`` (default: average-pool the last map to at most 4x4 and flatten it, so the
            classifier sees where features are) or ``gap`` (global average pooling; the head of
            models built before autoopt had the grid head: their checkpoints need ``head: gap``).
    """
    c, h, w = image_shape(meta, "cnn")
    blocks = check_int("blocks", blocks, low=1)
    kernel_size = check_int("kernel_size", kernel_size, low=1)
    if kernel_size % 2 == 0:
        raise ParamError("kernel_size", f"expected an odd integer; got {kernel_size}")
    return CNN(
        c,
        (h, w),
        per_layer("channels", channels, blocks, double=True),
        output_dim(meta),
        kernel_size=kernel_size,
        convs_per_block=check_int("convs_per_block", convs_per_block, low=1),
        pooling=check_choice("pooling", pooling, POOLINGS),
        dropout=check_float("dropout", dropout, high=1.0),
        batch_norm=bool(batch_norm),
        head=head,
    )
