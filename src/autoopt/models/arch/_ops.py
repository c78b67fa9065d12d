"""Candidate operations of the architecture spaces: macro-CNN blocks and DARTS cell operations.

Macro blocks (:data:`MACRO_OPS`) follow MobileNet (Howard et al., 2017, depthwise-separable
convolutions), MobileNetV2 (Sandler et al., 2018, inverted residuals) and SENet (Hu et al., 2018,
squeeze-excitation). Cell operations (:data:`CELL_OPS`) follow DARTS (Liu et al., 2019,
``cnn/operations.py`` of the reference implementation), rewritten so odd feature-map sizes work.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "MACRO_OPS",
    "CELL_OPS",
    "ConvBNReLU",
    "DWSepConv",
    "MBConv",
    "SqueezeExcite",
    "Projection",
    "SepConv",
    "DilConv",
    "ReLUConvBN",
    "FactorizedReduce",
    "Zero",
    "make_macro_op",
    "make_cell_op",
    "downsampled",
]

#: operations a macro-CNN block may use.
MACRO_OPS = (
    "conv3x3",
    "conv5x5",
    "dwsep3x3",
    "dwsep5x5",
    "mbconv3x3_e1",
    "mbconv3x3_e3",
    "mbconv3x3_e6",
    "skip",
)

#: operations an edge of a DARTS cell may use.
CELL_OPS = (
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "none",
)


def downsampled(size: int, stride: int) -> int:
    """Side of a feature map after a ``stride`` operation with "same" padding (``ceil(size / stride)``)."""
    return -(-size // stride)


class ConvBNReLU(nn.Sequential):
    """``Conv(k, stride) -> BN -> ReLU``: the plain convolution block."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class DWSepConv(nn.Sequential):
    """Depthwise ``k x k`` then pointwise ``1 x 1`` convolution, each with BN and ReLU (MobileNet)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_in, kernel, stride, kernel // 2, groups=c_in, bias=False),
            nn.BatchNorm2d(c_in),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class MBConv(nn.Module):
    """MobileNetV2 inverted residual: ``1x1 expand -> 3x3 depthwise -> 1x1 project`` (linear bottleneck).

    The expansion convolution is left out when ``expand == 1``; the input is added to the output when
    the stride is 1 and the channel counts match.

    Args:
        c_in: input channels.
        c_out: output channels.
        expand: expansion ratio of the hidden width.
        stride: stride of the depthwise convolution.
        kernel: depthwise kernel size.
    """

    def __init__(self, c_in: int, c_out: int, expand: int, stride: int = 1, kernel: int = 3) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class Projection(nn.Sequential):
    """``1x1 conv(stride) -> BN``: the shortcut of a skip block that changes shape (ResNet option B)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


class SqueezeExcite(nn.Module):
    """Channel attention: global pool, ``1x1`` reduce, ReLU, ``1x1`` expand, sigmoid gate (Hu et al., 2018).

    Args:
        channels: channels of the gated feature map.
        reduction: ratio of ``channels`` to the bottleneck width (at least 1 channel).
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.expand = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.expand(F.relu(self.reduce(s))))


def make_macro_op(op: str, c_in: int, c_out: int, stride: int) -> nn.Module:
    """One macro-CNN block.

    Args:
        op: one of :data:`MACRO_OPS`.
        c_in: input channels.
        c_out: output channels.
        stride: 1, or 2 for the first block of a downsampling stage.
    """
    if op in ("conv3x3", "conv5x5"):
        return ConvBNReLU(c_in, c_out, int(op[4]), stride)
    if op in ("dwsep3x3", "dwsep5x5"):
        return DWSepConv(c_in, c_out, int(op[5]), stride)
    if op.startswith("mbconv3x3_e"):
        return MBConv(c_in, c_out, int(op[len("mbconv3x3_e") :]), stride)
    if op == "skip":
        return nn.Identity() if stride == 1 and c_in == c_out else Projection(c_in, c_out, stride)
    raise ValueError(f"unknown macro op {op!r}; expected one of: {', '.join(MACRO_OPS)}")


# ---- DARTS cell operations ----------------------------------------------------------------------


class ReLUConvBN(nn.Sequential):
    """``ReLU -> Conv -> BN``, the DARTS preprocessing (``1x1``) block."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class DilConv(nn.Sequential):
    """``ReLU -> dilated depthwise conv -> 1x1 conv -> BN`` (DARTS ``dil_conv``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, dilation: int) -> None:
        pad = dilation * (kernel - 1) // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride, pad, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )


class SepConv(nn.Sequential):
    """Two ``ReLU -> depthwise -> 1x1 -> BN`` units, the first with the stride (DARTS ``sep_conv``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, 1),
            DilConv(c_in, c_out, kernel, 1, 1),
        )


class FactorizedReduce(nn.Module):
    """Halve the spatial size with two ``1x1`` stride-2 convolutions on offset grids, concatenated.

    Unlike the DARTS original, the offset branch pads instead of slicing, so odd sides
    (``7 -> 4``) give both branches the same size.

    Args:
        c_in: input channels.
        c_out: output channels (split between the branches; an odd count gives the first one more).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        # One output channel: a single branch (a zero-channel convolution would not run).
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False) if c_out > 1 else None
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        if self.conv_2 is None:
            return self.bn(self.conv_1(x))
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class Zero(nn.Module):
    """The ``none`` operation: zeros of the output shape (the edge contributes nothing)."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class _Pool(nn.Sequential):
    def __init__(self, kind: str, c: int, stride: int) -> None:
        pool: nn.Module = (
            nn.MaxPool2d(3, stride, 1)
            if kind == "max"
            else nn.AvgPool2d(3, stride, 1, count_include_pad=False)
        )
        super().__init__(pool)


_CELL_BUILDERS: dict[str, Callable[[int, int], nn.Module]] = {
    "sep_conv_3x3": lambda c, s: SepConv(c, c, 3, s),
    "sep_conv_5x5": lambda c, s: SepConv(c, c, 5, s),
    "dil_conv_3x3": lambda c, s: DilConv(c, c, 3, s, 2),
    "max_pool_3x3": lambda c, s: _Pool("max", c, s),
    "avg_pool_3x3": lambda c, s: _Pool("avg", c, s),
    "skip_connect": lambda c, s: nn.Identity() if s == 1 else FactorizedReduce(c, c),
    "none": lambda c, s: Zero(s),
}


def make_cell_op(op: str, channels: int, stride: int) -> nn.Module:
    """One edge operation of a DARTS cell (channels kept, spatial size divided by ``stride``).

    Args:
        op: one of :data:`CELL_OPS`.
        channels: input and output channels.
        stride: 1, or 2 on the edges from the cell inputs of a reduction cell.
    """
    try:
        return _CELL_BUILDERS[op](channels, stride)
    except KeyError:
        raise ValueError(f"unknown cell op {op!r}; expected one of: {', '.join(CELL_OPS)}") from None
