"""One-shot NAS: a weight-sharing supernet over the ``nas-macro`` space (single-path, uniform sampling).

Following single-path one-shot NAS (Guo et al., 2020), the supernet holds, for every block position,
one instance of every operation (and of both strides where a stage may downsample), all at the widest
width. Each training step samples one architecture uniformly from the space and trains only its path.
A candidate is then scored with the inherited weights: its path is selected, the batch-norm statistics
are recalibrated on a few training batches (they were averaged over all paths), and it is evaluated on
the validation split. No candidate is trained; the best few are retrained from scratch afterwards.

Narrower widths are taken as the first channels of the widest layers: the other channels are zeroed
after every block. For full convolutions and skips this is exact (a path computes what the stand-alone
network with the sliced weights computes; a test checks it). Inside depthwise-separable and inverted
residual blocks the intermediate channels beyond the candidate's width are not zeroed, so there a path
only approximates its stand-alone network; the rank correlation the supernet achieves is measured
(``benchmarks/nas_oneshot.py``), not assumed.

Example:
    >>> from autoopt.data import DataConfig, load_data
    >>> data = load_data(DataConfig(name="digits"))
    >>> net = SuperNet(data.meta, max_stages=2, widths=(16, 32))
    >>> stats = train_supernet(net, data, epochs=1, batch_size=128)
    >>> arch = {"stem_width": 8, "stages": 1, "s1_width": 16, "s1_blocks": 1, "s1_b1_op": "conv3x3"}
    >>> 0.0 <= net.score(arch, data)["val_accuracy"] <= 1.0
    True
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from autoopt.data import DataBundle
from autoopt.data._bundle import DatasetMeta
from autoopt.models._base import output_dim
from autoopt.models.arch._common import image_shape
from autoopt.models.arch._macro import MacroArch, macro_space, parse_macro
from autoopt.models.arch._ops import MACRO_OPS, ConvBNReLU, Projection, SqueezeExcite, make_macro_op
from autoopt.space import Space
from autoopt.training import evaluate_model

__all__ = ["SuperNet", "SupernetStats", "train_supernet", "UniformSampler"]


class UniformSampler:
    """Draws architectures of a :class:`Space` uniformly, without an Optuna study (one per step).

    It offers the three ``suggest_*`` calls :meth:`Space.sample` makes.
    """

    def __init__(self, space: Space, seed: int = 0) -> None:
        self.space = space
        self.rng = random.Random(seed)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return choices[self.rng.randrange(len(choices))]

    def suggest_int(self, name: str, low: int, high: int, log: bool = False, step: int | None = 1) -> int:
        step = step or 1
        return low + step * self.rng.randrange((high - low) // step + 1)

    def suggest_float(
        self, name: str, low: float, high: float, log: bool = False, step: float | None = None
    ) -> float:
        if log:
            return math.exp(self.rng.uniform(math.log(low), math.log(high)))
        return self.rng.uniform(low, high)

    def sample(self) -> dict[str, Any]:
        return self.space.sample(self)  # type: ignore[arg-type]


class _PadChannels(nn.Module):
    """An identity that zero-pads the channels to the supernet's width (the stem may be narrower)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        missing = self.width - x.shape[1]
        return F.pad(x, (0, 0, 0, 0, 0, missing)) if missing > 0 else x


class SuperNet(nn.Module):
    """Every architecture of a ``nas-macro`` space, sharing weights.

    Args:
        meta: the dataset description (image inputs).
        **limits: the ``nas-macro`` limits (``max_stages``, ``max_blocks``, ``widths``,
            ``stem_widths``, ``ops``, ``se``), as for :func:`~autoopt.models.arch.macro_space`.
    """

    def __init__(self, meta: DatasetMeta, **limits: Any) -> None:
        super().__init__()
        self.meta = meta
        self.limits = dict(limits)
        self.space = macro_space(meta, **limits)
        c, _, _ = image_shape(meta, "nas-macro")
        self.input_shape = tuple(int(v) for v in meta.input_shape)
        stage_widths = [n for n in self.space.names if n.endswith("_width") and n != "stem_width"]
        stem_w = max(int(v) for v in _options(self.space["stem_width"]))
        width = max(int(v) for n in stage_widths for v in _options(self.space[n]))
        self.width, self.stem_width = width, stem_w
        self.max_stages = len(stage_widths)
        self.stem = ConvBNReLU(c, stem_w, 3)
        self.choice = nn.ModuleDict()
        self.se = nn.ModuleDict()
        op_names = [n for n in self.space.names if n.endswith("_op")]
        ops = [o for o in MACRO_OPS if any(o in _options(self.space[n]) for n in op_names)]
        for name in op_names:
            stage, block = name.split("_")[0], name.split("_")[1]  # "s1", "b1"
            first = block == "b1"
            c_in = stem_w if (stage == "s1" and first) else width
            strides = (1, 2) if first else (1,)
            for op in ops:
                for stride in strides:
                    self.choice[f"{stage}_{block}_{op}_{stride}"] = make_macro_op(op, c_in, width, stride)
            if first and "skip" in ops:
                # A skip is an identity only when the candidate keeps its width at stride 1; otherwise
                # the stand-alone network projects (1x1 conv + BN), so the supernet holds both.
                self.choice[f"{stage}_{block}_skip_1"] = _PadChannels(width)
                self.choice[f"{stage}_{block}_skipproj_1"] = Projection(c_in, width, 1)
        for k in range(1, self.max_stages + 1):
            self.se[f"s{k}"] = SqueezeExcite(width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(width, output_dim(meta))
        self._arch: MacroArch | None = None

    def parse(self, arch: Mapping[str, Any]) -> MacroArch:
        """The architecture of decisions ``arch`` (keys with or without the ``model.`` prefix)."""
        plain = {str(k).removeprefix("model."): v for k, v in arch.items()}
        return parse_macro(plain, self.meta)

    def set_path(self, arch: Mapping[str, Any] | MacroArch) -> MacroArch:
        """Select the path of one architecture for the next forward passes."""
        self._arch = arch if isinstance(arch, MacroArch) else self.parse(arch)
        return self._arch

    def _mask(self, x: torch.Tensor, width: int) -> torch.Tensor:
        if width >= x.shape[1]:
            return x
        keep = torch.zeros(1, x.shape[1], 1, 1, dtype=x.dtype, device=x.device)
        keep[:, :width] = 1
        return x * keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arch = self._arch
        if arch is None:
            raise RuntimeError("SuperNet: select a path with set_path(arch) before calling it")
        x = self._mask(self.stem(x), arch.stem_width)
        prev = arch.stem_width
        for k, stage in enumerate(arch.stages, 1):
            for j, op in enumerate(stage.ops, 1):
                stride = 2 if j == 1 and stage.downsample else 1
                if op == "skip" and stride == 1 and prev != stage.width:
                    op = "skipproj"
                x = self._mask(self.choice[f"s{k}_b{j}_{op}_{stride}"](x), stage.width)
                prev = stage.width
            if stage.se:
                x = self._mask(self.se[f"s{k}"](x), stage.width)
        return self.head(torch.flatten(self.pool(x), 1))

    @torch.no_grad()
    def recalibrate(self, loader: DataLoader, batches: int) -> None:
        """Recompute batch-norm statistics of the selected path from ``batches`` training batches."""
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over the calibration batches
        self.train()
        for i, (x, _) in enumerate(loader):
            if i >= batches:
                break
            self(x)
        self.eval()

    @torch.no_grad()
    def score(
        self,
        arch: Mapping[str, Any],
        data: DataBundle,
        *,
        calibration_batches: int = 8,
        batch_size: int = 128,
        seed: int = 0,
    ) -> dict[str, float]:
        """Validation metrics of ``arch`` with inherited weights and recalibrated batch norm.

        Returns:
            ``{"val_loss", "val_accuracy"}`` for classification, ``{"val_loss", "val_mse"}`` otherwise.
        """
        self.set_path(arch)
        g = torch.Generator().manual_seed(seed)
        self.recalibrate(
            DataLoader(data.train, batch_size=batch_size, shuffle=True, generator=g), calibration_batches
        )
        # The training stage's evaluation: the same loss and metrics as every trained candidate's.
        metric = data.meta.kind.score_metric
        scores = evaluate_model(self, data.val, batch_size, "cpu", task=data.meta.task, metrics=[metric])
        return {f"val_{k}": v for k, v in scores.items()}


def _options(param: Any) -> tuple[Any, ...]:
    """The values a categorical (or fixed) parameter may take."""
    return tuple(param.choices) if hasattr(param, "choices") else (param.value,)


@dataclass
class SupernetStats:
    """What supernet training cost: epochs, optimizer steps, seconds, the last epoch's mean loss."""

    epochs: int
    steps: int
    seconds: float
    final_loss: float


def _loss(out: torch.Tensor, y: torch.Tensor, meta: DatasetMeta) -> torch.Tensor:
    return meta.kind.loss(out, y)


def train_supernet(
    net: SuperNet,
    data: DataBundle,
    *,
    epochs: int = 30,
    lr: float = 0.05,
    batch_size: int = 64,
    weight_decay: float = 4e-5,
    seed: int = 0,
    train_set: Dataset | None = None,
) -> SupernetStats:
    """Train the supernet once: every step trains one uniformly sampled path (SGD, cosine schedule).

    Args:
        net: the supernet.
        data: the dataset (its training split, unless ``train_set`` is given).
        epochs: passes over the training data.
        lr: SGD learning rate (momentum 0.9, cosine decay to 0).
        batch_size: batch size.
        weight_decay: SGD weight decay.
        seed: seed of the weights' sampling order, the data order and the paths.
        train_set: a subset of the training split to train on instead.
    """
    torch.manual_seed(seed)
    sampler = UniformSampler(net.space, seed)
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(train_set or data.train, batch_size=batch_size, shuffle=True, generator=g)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay, nesterov=True)
    total = max(1, epochs * len(loader))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)
    start, steps, last = time.perf_counter(), 0, float("nan")
    for _ in range(epochs):
        net.train()
        losses = []
        for x, y in loader:
            net.set_path(sampler.sample())
            loss = _loss(net(x), y, data.meta)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            steps += 1
        last = sum(losses) / max(1, len(losses))
    return SupernetStats(epochs, steps, time.perf_counter() - start, last)
