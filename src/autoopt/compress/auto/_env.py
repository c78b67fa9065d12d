"""The layer-by-layer episode of AMC: one state per layer, one ratio per action, clipped to the budget.

The state of layer ``t`` follows He et al. (2018), section 3.1: ``(t, type, in channels, out
channels, kernel, stride, spatial size, MACs of the layer, MACs reduced so far, MACs of the layers
still to decide, previous action)``; the static features are scaled to ``[0, 1]`` by their maximum
over the layers, the dynamic ones are fractions of the unpruned MACs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from autoopt.compress.auto._space import PolicySpace

__all__ = ["STATE_DIM", "Episode", "LayerStates"]

STATE_DIM = 11


class LayerStates:
    """Static per-layer features of a :class:`PolicySpace` and the dynamic part of each state."""

    def __init__(self, space: PolicySpace) -> None:
        self.space = space
        modules = dict(space.model.named_modules())
        rows = []
        spatial = _spatial_sizes(space)
        for g in space.groups:
            m = modules[g.name]
            kernel = float(m.weight[0, 0].numel()) if m.weight.dim() > 2 else 1.0
            stride = float(getattr(m, "stride", (1,))[0])
            cin = float(m.in_features if isinstance(m, nn.Linear) else m.in_channels)
            rows.append(
                [
                    float(g.order),
                    1.0 if isinstance(m, nn.Linear) else 0.0,
                    cin,
                    float(g.channels),
                    kernel,
                    stride,
                    float(spatial.get(g.name, 1)),
                ]
            )
        static = torch.tensor(rows)
        scale = static.abs().max(dim=0).values.clamp_min(1e-12)
        self.static = static / scale
        full = space.full_cost("macs")
        n = len(space.groups)
        # each layer's own share: MACs removed when it alone goes from keeping all to keeping none.
        self.layer_macs = []
        for i in range(n):
            keeps = [g.channels for g in space.groups]
            keeps[i] = 0
            self.layer_macs.append((full - space.cost((), "macs", keeps=keeps)) / full)

    def state(self, t: int, decided: list[float], previous: float) -> torch.Tensor:
        """The state of layer ``t`` given the ratios ``decided`` for the layers before it."""
        space = self.space
        full = space.full_cost("macs")
        keeps = [*space.keeps(decided), *[g.channels for g in space.groups[t:]]]
        reduced = (full - space.cost((), "macs", keeps=keeps)) / full
        rest = sum(self.layer_macs[t + 1 :])
        dynamic = torch.tensor([self.layer_macs[t], reduced, rest, previous])
        return torch.cat([self.static[t], dynamic]).float()


def _spatial_sizes(space: PolicySpace) -> dict[str, int]:
    sizes: dict[str, int] = {}
    modules = dict(space.model.named_modules())
    hooks = []
    for g in space.groups:

        def hook(_m: nn.Module, _i: object, out: torch.Tensor, name: str = g.name) -> None:
            sizes[name] = int(out[0, 0].numel()) if out.dim() > 2 else 1

        hooks.append(modules[g.name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            space.model.eval()(space.example[:1])
    finally:
        for h in hooks:
            h.remove()
    return sizes


@dataclass
class Episode:
    """One walk over the layers: states, clipped actions (in ``[0, 1]`` of ``max_ratio``), the policy."""

    states: list[torch.Tensor] = field(default_factory=list)
    actions: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    reward: float = 0.0
