"""Per-layer precision (int8 or fp32) under a weight-size budget: HAQ's mixed-precision choice.

Each conv/linear layer either goes to INT8 (per-channel symmetric weights, per-tensor uint8 input
activations, as the ``quantize`` step's ONNX Runtime QDQ model does) or stays fp32 (it joins the
``quantize`` step's ``exclude``). The proxy reward simulates INT8 in torch (fake quantization with
min/max-calibrated activation ranges) and scores held-out accuracy, with no ONNX export per policy.
The size is the weight bytes of the conv/linear layers (1 byte per INT8 weight plus a 4-byte scale
per output channel, 4 bytes per fp32 weight); the budget is a fraction of the all-fp32 size, and
layers are clipped in order like AMC's pruning actions: a layer may stay fp32 only if every later
layer in INT8 still fits.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna
import torch
from torch import nn

from autoopt.compress.auto._ddpg import DDPGAgent, DDPGConfig
from autoopt.compress.auto._reward import HeldOut
from autoopt.compress.prune._graph import PRUNABLE
from autoopt.exceptions import CompressionError, InvalidSpecError
from autoopt.space import Space
from autoopt.strategies import StrategyContext, make_sampler

__all__ = ["PrecisionSearchResult", "PrecisionSpace", "search_precision"]

_STATE_DIM = 8


class PrecisionSpace:
    """The conv/linear layers of ``model``, their INT8/fp32 sizes, and the fake-quantized model.

    Args:
        model: the (pruned, fine-tuned) fp32 model; not modified.
        calibration: input batches whose min/max set each layer's activation range.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> space = PrecisionSpace(net, [torch.randn(16, 4)])
        >>> space.layers, space.size_fraction(["int8", "int8"]) < space.size_fraction(["fp32", "int8"])
        (['1', '3'], True)
    """

    def __init__(self, model: nn.Module, calibration: Sequence[torch.Tensor]) -> None:
        self.model = copy.deepcopy(model).eval()
        modules = [(n, m) for n, m in self.model.named_modules() if isinstance(m, PRUNABLE)]
        if not modules:
            raise CompressionError("compress.prune.precision: the model has no conv/linear layer to quantize")
        self.layers = [n for n, _ in modules]
        self.fp32_bytes = [4 * m.weight.numel() for _, m in modules]
        self.int8_bytes = [m.weight.numel() + 4 * m.weight.shape[0] for _, m in modules]
        self.full = sum(self.fp32_bytes)
        ranges: dict[str, list[float]] = {}
        hooks = []
        for name, m in modules:

            def hook(_m: nn.Module, args: tuple[torch.Tensor, ...], name: str = name) -> None:
                lo, hi = float(args[0].min()), float(args[0].max())
                old = ranges.get(name, [lo, hi])
                ranges[name] = [min(old[0], lo), max(old[1], hi)]

            hooks.append(m.register_forward_pre_hook(hook))
        try:
            with torch.no_grad():
                for x in calibration:
                    self.model(x)
        finally:
            for h in hooks:
                h.remove()
        self.ranges = {n: (min(lo, 0.0), max(hi, 0.0)) for n, (lo, hi) in ranges.items()}

    def size(self, precisions: Sequence[str]) -> int:
        """Weight bytes of the conv/linear layers under ``precisions``."""
        pairs = zip(precisions, self.fp32_bytes, self.int8_bytes, strict=False)
        return sum(f if p == "fp32" else q for p, f, q in pairs)

    def size_fraction(self, precisions: Sequence[str]) -> float:
        return self.size(precisions) / self.full

    def min_fraction(self) -> float:
        return self.size(["int8"] * len(self.layers)) / self.full

    def check_budget(self, size: float) -> None:
        low = self.min_fraction()
        if size < low:
            raise InvalidSpecError(
                f"compress.prune.size: {size!r} of the fp32 weight bytes cannot be reached; the smallest "
                f"achievable (every layer INT8) is {low:.4f}; raise compress.prune.size"
            )

    def clip(self, wants_fp32: Sequence[bool], size: float) -> list[str]:
        """Precisions in layer order: fp32 where wanted and the budget, with later layers INT8, allows."""
        out: list[str] = []
        cap = size * self.full
        for i, want in enumerate(wants_fp32):
            rest = sum(self.int8_bytes[i + 1 :])
            spent = self.size(out)
            out.append("fp32" if want and spent + self.fp32_bytes[i] + rest <= cap else "int8")
        return out

    def quantized(self, precisions: Sequence[str]) -> nn.Module:
        """A copy with INT8 simulated (weights and input activations) in the layers marked ``int8``."""
        model = copy.deepcopy(self.model)
        modules = dict(model.named_modules())
        for name, p in zip(self.layers, precisions, strict=False):
            if p != "int8":
                continue
            m = modules[name]
            with torch.no_grad():
                w = m.weight
                flat = w.reshape(w.shape[0], -1).abs().amax(dim=1).clamp_min(1e-12)
                scale = (flat / 127.0).float()
                m.weight.copy_(
                    torch.fake_quantize_per_channel_affine(
                        w, scale, torch.zeros_like(scale, dtype=torch.int32), 0, -127, 127
                    )
                )
            lo, hi = self.ranges.get(name, (0.0, 1.0))
            a_scale = max(hi - lo, 1e-8) / 255.0
            zero = int(round(-lo / a_scale))

            def pre(_m: nn.Module, args: tuple[torch.Tensor, ...], s: float = a_scale, z: int = zero) -> Any:
                return (torch.fake_quantize_per_tensor_affine(args[0], s, z, 0, 255), *args[1:])

            m.register_forward_pre_hook(pre)
        return model.eval()


@dataclass
class PrecisionSearchResult:
    """The best per-layer precisions and the search's history.

    Attributes:
        layers: the conv/linear layers, in order.
        precisions: ``int8`` or ``fp32`` per layer (the best policy; meets ``size``).
        reward: its proxy accuracy; ``int8_reward``: all-INT8's; ``fp32_reward``: the float model's.
        size: the budget; ``size_fraction``: the policy's weight bytes / all-fp32's.
        history: ``(precisions, reward)`` per evaluation.
    """

    agent: str
    layers: list[str]
    precisions: list[str]
    reward: float
    int8_reward: float
    fp32_reward: float
    size: float
    size_fraction: float
    evaluations: int
    seconds: float
    history: list[tuple[list[str], float]] = field(default_factory=list)

    @property
    def fp32_layers(self) -> list[str]:
        """Layers kept in float (the ``quantize`` step's ``exclude``)."""
        return [n for n, p in zip(self.layers, self.precisions, strict=False) if p == "fp32"]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fp32_layers": self.fp32_layers}


def search_precision(
    space: PrecisionSpace,
    reward: HeldOut,
    *,
    size: float,
    agent: str = "ddpg",
    episodes: int = 30,
    seed: int = 0,
) -> PrecisionSearchResult:
    """Search INT8/fp32 per layer maximizing the fake-quantized accuracy with weight bytes <= ``size``.

    Args:
        space: the precision space of the model.
        reward: the held-out samples; its ``accuracy(model)`` scores a fake-quantized model.
        size: the budget, a fraction of the all-fp32 weight bytes (an unreachable one is an error
            naming the all-INT8 fraction).
        agent: ``ddpg`` (action > 0.5 keeps the layer in fp32) or a strategy name.
        episodes: policies evaluated (all-INT8 is evaluated too, as the reference).
        seed: seeds the agent or the sampler.
    """
    space.check_budget(size)
    start = time.perf_counter()
    n = len(space.layers)
    history: list[tuple[list[str], float]] = []

    def evaluate(precisions: list[str]) -> float:
        value = reward.accuracy(space.quantized(precisions))
        history.append((list(precisions), value))
        return value

    int8 = reward.accuracy(space.quantized(["int8"] * n))
    fp32 = reward.accuracy(space.model)
    if agent == "ddpg":
        _ddpg(space, evaluate, size, episodes, seed)
    else:
        _strategy(space, evaluate, size, episodes, seed, agent)
    best_p, best_r = max(history, key=lambda h: h[1])
    if int8 >= best_r:  # all-INT8 is the smallest model; a mix must beat it to be worth its bytes
        best_p, best_r = ["int8"] * n, int8
    return PrecisionSearchResult(
        agent,
        list(space.layers),
        best_p,
        best_r,
        int8,
        fp32,
        size,
        space.size_fraction(best_p),
        len(history),
        time.perf_counter() - start,
        history,
    )


def _ddpg(
    space: PrecisionSpace, evaluate: Callable[[list[str]], float], size: float, episodes: int, seed: int
) -> None:
    n = len(space.layers)
    total = space.full
    static = torch.tensor(
        [[i / max(1, n - 1), space.fp32_bytes[i] / max(space.fp32_bytes)] for i in range(n)]
    )
    agent = DDPGAgent(_STATE_DIM, DDPGConfig(warmup=max(1, episodes // 4)), seed=seed)
    with torch.random.fork_rng(devices=[]):
        for ep in range(episodes):
            precisions: list[str] = []
            states, actions = [], []
            previous = 0.0
            for t in range(n):
                spent = space.size(precisions) / total
                rest = sum(space.int8_bytes[t + 1 :]) / total
                s = torch.cat(
                    [static[t], torch.tensor([spent, rest, size, previous, space.int8_bytes[t] / total, 1.0])]
                ).float()
                a = agent.act(s, ep)
                p = space.clip([*([p == "fp32" for p in precisions]), a > 0.5], size)[-1]
                executed = 1.0 if p == "fp32" else 0.0
                if (a > 0.5) == (p == "fp32"):
                    executed = a  # unclipped: the continuous action itself
                precisions.append(p)
                states.append(s)
                actions.append(executed)
                previous = executed
            agent.observe(states, actions, evaluate(precisions))
            agent.update(n)


def _strategy(
    space: PrecisionSpace,
    evaluate: Callable[[list[str]], float],
    size: float,
    episodes: int,
    seed: int,
    strategy: str,
) -> None:
    names = [f"precision.{n}" for n in space.layers]
    declared = Space.from_dict({n: ["int8", "fp32"] for n in names})
    ctx = StrategyContext(seed=seed, space=declared, n_trials=episodes, directions=("maximize",))
    study = optuna.create_study(
        direction="maximize", sampler=make_sampler(strategy, ctx, key="compress.prune.agent")
    )
    dists: dict[str, optuna.distributions.BaseDistribution] = {
        n: optuna.distributions.CategoricalDistribution(["int8", "fp32"]) for n in names
    }
    for _ in range(episodes):
        trial = study.ask(dists)
        precisions = space.clip([trial.params[n] == "fp32" for n in names], size)
        study.tell(trial, evaluate(precisions))
