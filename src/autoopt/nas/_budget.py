"""Hard budgets on architectures, checked before training, and latency measured once per architecture."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from autoopt.data import DatasetMeta
from autoopt.evaluate import measure_latency
from autoopt.exceptions import InvalidArchitectureError, InvalidSpecError, TrialRejected
from autoopt.io import write_json
from autoopt.models import count_macs, count_params
from autoopt.models.arch import build_architecture, nas_space, smallest_in_space

__all__ = ["ArchBudget", "LatencyCache", "check_feasible", "arch_key"]


def arch_key(arch: Mapping[str, Any]) -> str:
    """A stable key of an architecture's decisions (the latency cache's key)."""
    return json.dumps({str(k): arch[k] for k in sorted(arch, key=str)}, sort_keys=True, default=str)


class LatencyCache:
    """Measured CPU latency per architecture, measured once (median of repeats) and reused.

    Args:
        path: a JSON file to keep the measurements in across trials and runs (``None``: memory only).
        batch_size: the batch size timed.
        repeats: timed forward passes (the median is kept).
        warmup: untimed passes first.
    """

    def __init__(
        self, path: str | Path | None = None, *, batch_size: int = 1, repeats: int = 30, warmup: int = 5
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.batch_size, self.repeats, self.warmup = batch_size, repeats, warmup
        self._lock = threading.Lock()
        self._ms: dict[str, float] = {}
        self.measured = 0  # measurements made by this object (cache misses)
        if self.path is not None and self.path.is_file():
            try:
                self._ms = {str(k): float(v) for k, v in json.loads(self.path.read_text()).items()}
            except (ValueError, OSError, AttributeError):
                self._ms = {}  # a damaged cache is measured again, never trusted

    def latency_ms(self, arch: Mapping[str, Any], model: nn.Module, input_shape: Sequence[int]) -> float:
        """The median latency of ``model`` (which ``arch`` describes), from the cache or measured now."""
        key = f"b{self.batch_size}:{arch_key(arch)}"
        with self._lock:
            if key in self._ms:
                return self._ms[key]
        was_training = model.training
        model.eval()
        report = measure_latency(
            model,
            tuple(input_shape),
            batch_sizes=(self.batch_size,),
            warmup=self.warmup,
            repeats=self.repeats,
            threads=1,
        )
        model.train(was_training)
        ms = round(report.row(self.batch_size).p50_ms, 4)
        with self._lock:
            self._ms[key] = ms
            self.measured += 1
            if self.path is not None:
                # Re-read first: other worker processes may have added measurements meanwhile.
                merged = dict(self._ms)
                if self.path.is_file():
                    try:
                        merged = {**json.loads(self.path.read_text()), **merged}
                    except (ValueError, OSError):
                        pass
                write_json(self.path, merged)
        return ms

    def __len__(self) -> int:
        return len(self._ms)


@dataclass(frozen=True)
class ArchBudget:
    """Hard limits an architecture must meet before it is trained.

    Example:
        >>> from torch import nn
        >>> budget = ArchBudget(max_params=100)
        >>> budget.check(nn.Linear(4, 2), (4,))
        {'params': 10, 'macs': 8}
        >>> try:
        ...     budget.check(nn.Linear(40, 20), (40,))
        ... except TrialRejected as e:
        ...     print(e)
        params 820 > max_params 100
    """

    max_params: int | None = None
    max_macs: int | None = None
    max_latency_ms: float | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.max_params, self.max_macs, self.max_latency_ms))

    def check(
        self,
        model: nn.Module,
        input_shape: Sequence[int],
        *,
        arch: Mapping[str, Any] | None = None,
        latency: LatencyCache | None = None,
    ) -> dict[str, Any]:
        """Count (and, with ``latency``, time) ``model``; raise when a limit is broken.

        Params and MACs are checked first, so a candidate over them is never timed.

        Returns:
            ``{"params", "macs"}`` and ``"latency_ms"`` when ``latency`` is given.

        Raises:
            TrialRejected: naming each broken limit with the candidate's value.
        """
        metrics: dict[str, Any] = {"params": count_params(model), "macs": count_macs(model, input_shape)}
        broken = self._broken(metrics)
        if not broken and latency is not None:
            metrics["latency_ms"] = latency.latency_ms(arch or {"id": id(model)}, model, input_shape)
            broken = self._broken(metrics)
        if broken:
            raise TrialRejected("; ".join(broken))
        return metrics

    def _broken(self, metrics: Mapping[str, Any]) -> list[str]:
        out = []
        for name, bound in (
            ("params", self.max_params),
            ("macs", self.max_macs),
            ("latency_ms", self.max_latency_ms),
        ):
            if bound is not None and name in metrics and metrics[name] > bound:
                value = metrics[name]
                shown = f"{value:,}" if isinstance(value, int) else f"{value:g}"
                out.append(f"{name} {shown} > max_{name} {bound:g}")
        return out


def check_feasible(
    space: str,
    meta: DatasetMeta,
    budget: ArchBudget,
    *,
    limits: Mapping[str, Any] | None = None,
    n_samples: int = 200,
    seed: int = 0,
    latency: LatencyCache | None = None,
) -> dict[str, Any]:
    """Check, by sampling the space before any training, that some architecture meets the budget.

    Args:
        space: the architecture space.
        meta: the dataset description.
        budget: the hard limits.
        limits: the space's limits.
        n_samples: architectures sampled at random.
        seed: seed of the sampling.
        latency: a latency cache; with ``budget.max_latency_ms``, the architecture with the fewest
            MACs found is timed.

    Returns:
        What :func:`~autoopt.models.arch.smallest_in_space` found (plus ``latency_ms`` when timed).

    Raises:
        InvalidSpecError: a limit no sampled architecture meets, naming the smallest value found, e.g.
            ``nas.max_params: 300 cannot be met: the smallest of 200 sampled nas-macro architectures
            has 418 parameters (...)``.
    """
    found = smallest_in_space(space, meta, n_samples=n_samples, seed=seed, **dict(limits or {}))
    if found["params"] is None:
        raise InvalidSpecError(
            f"nas.space: none of {n_samples} sampled {found['space']} architectures could be built for "
            f"input {tuple(meta.input_shape)}; check nas.limits"
        )
    errors = []
    n = f"{n_samples} sampled {found['space']} architectures"
    if budget.max_params is not None and found["params"] > budget.max_params:
        errors.append(
            f"nas.max_params: {budget.max_params:,} cannot be met: the smallest of {n} has "
            f"{found['params']:,} parameters ({found['params_arch']}); raise max_params or narrow "
            "nas.limits (fewer stages, smaller widths)"
        )
    if budget.max_macs is not None and found["macs"] > budget.max_macs:
        errors.append(
            f"nas.max_macs: {budget.max_macs:,} cannot be met: the smallest of {n} has "
            f"{found['macs']:,} MACs ({found['macs_arch']}); raise max_macs or narrow nas.limits"
        )
    if not errors and budget.max_latency_ms is not None and latency is not None:
        arch = found["macs_arch"]
        try:
            model = build_architecture(space, arch, meta)
        except InvalidArchitectureError:  # pragma: no cover - it was built a moment ago
            model = None
        if model is not None:
            found["latency_ms"] = latency.latency_ms(arch, model, meta.input_shape)
            if found["latency_ms"] > budget.max_latency_ms:
                errors.append(
                    f"nas.max_latency_ms: {budget.max_latency_ms:g} cannot be met: the architecture with "
                    f"the fewest MACs of {n} takes {found['latency_ms']:g} ms at batch "
                    f"{latency.batch_size}; raise max_latency_ms or narrow nas.limits"
                )
    if errors:
        raise InvalidSpecError(errors=errors)
    return found


def arch_space_for(space: str, meta: DatasetMeta, limits: Mapping[str, Any] | None = None) -> Any:
    """The space's decisions as ``model.<decision>`` search parameters."""
    return nas_space(space, meta, **dict(limits or {})).prefixed("model.")
