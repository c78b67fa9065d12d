"""Hardware-aware channel targets: every pruned conv keeps a multiple of ``round_to`` channels, and
never fewer than ``min_channels``.

Why: ONNX Runtime runs fp32 convolutions in a blocked layout (16 channels per block on AVX-512, 8 on
AVX2/NEON). A conv whose channel count is not a multiple of the block falls back to a slower kernel
and adds layout conversions around it, so a ResNet-20 pruned to 11/22/44 channels runs as slowly as
the unpruned one; and INT8 convs with fewer than 16 output channels cost about twice the time per MAC.

How: Torch-Pruning's own ``round_to`` rounds the kept count *down* (``kept - kept % round_to``) and
has no floor, so a 16-channel layer asked to lose half with ``round_to=16`` would lose all 16. Here
the kept count of each conv group is computed first (the requested ratio, or Torch-Pruning's global
ranking for ``scope: global``), rounded to the *nearest* multiple, clamped to ``[min_channels,
channels]``, and handed to Torch-Pruning as an exact per-layer ratio. Groups whose root is a
``Linear`` (MLP hidden layers) keep the plain ratio: the blocked-layout effect is a conv effect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from autoopt.evaluate import vector_width

__all__ = ["ChannelTarget", "resolve_round_to", "kept_channels", "channel_targets", "exact_ratio"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def resolve_round_to(round_to: int | str | None) -> int:
    """``"auto"``: this machine's vector width (16 with AVX-512, 8 with AVX2/NEON); ``None``: 1."""
    if round_to is None:
        return 1
    if round_to == "auto":
        return vector_width()
    return int(round_to)


def kept_channels(channels: int, ratio: float, round_to: int, floor: int) -> int:
    """Channels a conv with ``channels`` outputs keeps after losing ``ratio`` of them.

    The kept count is rounded to the nearest multiple of ``round_to`` (ties upwards) and clamped to
    ``[min(floor, channels), channels]``; the floor itself is raised to a multiple of ``round_to``.

    Example:
        >>> kept_channels(64, 0.3, 16, 16), kept_channels(16, 0.5, 16, 16), kept_channels(40, 0.5, 8, 16)
        (48, 16, 24)
    """
    want = channels * (1.0 - ratio)
    kept = int(round_to * int(want / round_to + 0.5)) if round_to > 1 else int(want)
    floor = -(-floor // round_to) * round_to
    return max(min(kept, channels), min(floor, channels), 1)


def exact_ratio(channels: int, kept: int) -> float:
    """The ratio for which Torch-Pruning keeps exactly ``kept`` of ``channels``
    (it keeps ``int(channels * (1 - ratio))``)."""
    if kept >= channels:
        return 0.0
    return (channels - kept - 0.5) / channels


@dataclass
class ChannelTarget:
    """One prunable group: its root layer, its output channels, the ratio asked and the channels kept."""

    name: str
    modules: list[nn.Module]
    channels: int
    requested: float
    kept: int
    conv: bool


def channel_targets(
    pruner: Any,
    names: dict[nn.Module, str],
    requested: Callable[[list[nn.Module]], float],
    *,
    round_to: int,
    floor: int,
    global_counts: dict[nn.Module, int] | None = None,
) -> list[ChannelTarget]:
    """The kept channel count of every group Torch-Pruning would prune.

    Args:
        pruner: a Torch-Pruning pruner on the model (its graph, ignored layers and root types are used).
        names: ``{module: qualified name}``.
        requested: the requested ratio of a group, given its out-channel layers.
        round_to: keep conv channel counts a multiple of this.
        floor: never keep fewer conv channels than this.
        global_counts: ``{root module: channels removed}`` from a global ranking; when given, the
            requested ratio of a group is that count over its channels.
    """
    dg = pruner.DG
    out: list[ChannelTarget] = []
    for group in dg.get_all_groups(
        ignored_layers=pruner.ignored_layers, root_module_types=pruner.root_module_types
    ):
        root = group[0].dep.target.module
        channels = dg.get_out_channels(root)
        if not channels:
            continue
        members = [
            dep.target.module
            for dep, _ in group
            if isinstance(dep.target.module, (*_CONV, nn.Linear))
            and dg.is_out_channel_pruning_fn(dep.handler)
        ]
        members = list(dict.fromkeys([root, *members]))
        if global_counts is not None:
            ratio = global_counts.get(root, 0) / channels
        else:
            ratio = requested(members)  # type: ignore[arg-type]
        conv = isinstance(root, _CONV)
        if conv:
            kept = kept_channels(channels, ratio, round_to, floor)
        else:
            kept = max(int(channels * (1.0 - ratio)), 1)
        out.append(ChannelTarget(names.get(root, "?"), members, int(channels), ratio, kept, conv))  # type: ignore[arg-type]
    return out
