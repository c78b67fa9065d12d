"""The pooling between a conv backbone and its linear classifier, chosen for the input's resolution.

``grid`` (the default) keeps a coarse spatial map: the final feature map is average-pooled to at
most :data:`GRID` x :data:`GRID` cells and flattened, and a map already that small is flattened as
it is. ``gap`` is global average pooling (one value per channel), the layout of autoopt models built
before the grid head existed: checkpoints of those models load only with ``head: gap``.

Why: at 28x28, two pooled blocks leave a 7x7 map; averaging it away throws out *where* the features
are, and 1-2 block nets then train to 35-80% on Fashion-MNIST where the same convs with a grid head
reach the high 80s. With 3+ blocks on 8x8 digits the map is 1x1 and both heads are the same.
"""

from __future__ import annotations

from torch import nn

from autoopt.models._checks import check_choice

__all__ = ["HEADS", "GRID", "spatial_pool"]

HEADS = ("grid", "gap")
#: the largest side of the grid head's pooled map.
GRID = 4


def spatial_pool(head: str, spatial: tuple[int, int], channels: int) -> tuple[nn.Module, int]:
    """The pooling module for a ``channels x H x W`` feature map and the flattened feature width.

    Args:
        head: ``grid`` (pool to at most ``GRID x GRID``, flatten) or ``gap`` (global average pooling).
        spatial: ``(H, W)`` of the final feature map.
        channels: channels of the final feature map.
    """
    head = check_choice("head", head, HEADS)
    if head == "gap":
        return nn.AdaptiveAvgPool2d(1), channels
    h, w = spatial
    grid = (min(h, GRID), min(w, GRID))
    pool: nn.Module = nn.Identity() if grid == (h, w) else nn.AdaptiveAvgPool2d(grid)
    return pool, channels * grid[0] * grid[1]
