"""Which measured model ships: the accuracy/latency Pareto front within ``max_accuracy_drop``.

Every model a compression run measured is a :class:`Candidate` (the fp32 baseline, each plan step,
each candidate plan, each searched plan). :func:`select` marks

- ``rejected``: an INT8 model that is not faster at batch 1 than the fp32 model it was made from
  (timed in interleaved rounds; on tiny models the quantize/dequantize overhead outweighs the
  cheaper arithmetic) -- it is never shipped;
- ``feasible``: not rejected and losing at most ``max_accuracy_drop`` points against the baseline;
- ``pareto``: not dominated in (accuracy, batch-1 latency) by another non-rejected candidate;

and selects the fastest feasible candidate at batch 1 (ties: the smaller file). The baseline is
always feasible, so a run whose every compressed model is too inaccurate or too slow ships fp32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from torch import nn

from autoopt.compress._measure import StepRow

__all__ = ["Candidate", "select", "pareto_front"]


@dataclass
class Candidate:
    """One measured model of a compression run.

    Attributes:
        row: its measured row (step name, test accuracy and drop, params, MACs, file size, batch-1
            and batch-64 latency, ONNX path).
        precision: ``fp32`` or ``int8``.
        model: the torch model (for an INT8 candidate: the fp32 model it was quantized from);
            ``None`` when it was not kept.
        source: the step name of the fp32 candidate an INT8 candidate was made from.
        plan: what made it, e.g. ``{"ratio": 0.5, "round_to": 16, "quantize": "static"}``.
        feasible: within ``max_accuracy_drop`` and not rejected.
        pareto: on the accuracy/latency Pareto front.
        selected: the one that ships.
        rejected: why it must not ship (empty when it may).
    """

    row: StepRow
    precision: Literal["fp32", "int8"] = "fp32"
    model: nn.Module | None = field(default=None, repr=False)
    source: str | None = None
    plan: dict[str, Any] = field(default_factory=dict)
    feasible: bool = False
    pareto: bool = False
    selected: bool = False
    rejected: str = ""

    @property
    def step(self) -> str:
        return self.row.step

    @property
    def accuracy(self) -> float | None:
        return self.row.accuracy

    @property
    def onnx_path(self) -> Path:
        return Path(self.row.path)

    @property
    def latency_b1_ms(self) -> float | None:
        return self.row.p50(1)

    @property
    def latency_b64_ms(self) -> float | None:
        return self.row.p50(64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (without the torch model)."""
        return {
            **self.row.to_dict(),
            "precision": self.precision,
            "source": self.source,
            "plan": self.plan,
            "feasible": self.feasible,
            "pareto": self.pareto,
            "selected": self.selected,
            "rejected": self.rejected,
        }


def _better(key: str) -> float:
    return 1.0 if key == "accuracy" else -1.0


def pareto_front(candidates: Sequence[Candidate], key: str = "accuracy") -> list[Candidate]:
    """The candidates not dominated in (score, batch-1 latency) by another one.

    ``key`` ``accuracy`` is maximized; any other score (``mse``) is minimized.
    """
    sign = _better(key)
    scored = [c for c in candidates if c.accuracy is not None and c.latency_b1_ms is not None]
    front = []
    for c in scored:
        dominated = any(
            sign * o.accuracy >= sign * c.accuracy  # type: ignore[operator]
            and o.latency_b1_ms <= c.latency_b1_ms  # type: ignore[operator]
            and (sign * o.accuracy > sign * c.accuracy or o.latency_b1_ms < c.latency_b1_ms)  # type: ignore[operator]
            for o in scored
            if o is not c
        )
        if not dominated:
            front.append(c)
    return front


def select(candidates: Sequence[Candidate], max_accuracy_drop: float, key: str = "accuracy") -> Candidate:
    """Mark ``feasible``/``pareto``/``selected`` on every candidate and return the selected one.

    ``rejected`` must already be set (INT8 slower than its fp32 source); the first candidate is the
    baseline, feasible by definition.

    Example:
        >>> from autoopt.compress._measure import StepRow
        >>> def row(name, acc, drop, ms):
        ...     return StepRow(name, acc, drop, 0, 0, 0, {"1": {"p50": ms}})
        >>> base = Candidate(row("fp32", 0.90, None, 1.0))
        >>> slow_int8 = Candidate(row("int8", 0.90, 0.0, 1.5), "int8", rejected="slower than fp32")
        >>> pruned = Candidate(row("pruned", 0.897, 0.3, 0.6))
        >>> select([base, slow_int8, pruned], max_accuracy_drop=0.5).step
        'pruned'
    """
    if not candidates:
        raise ValueError("select: no candidates")
    for i, c in enumerate(candidates):
        drop = c.row.accuracy_drop_pp
        c.feasible = not c.rejected and (i == 0 or (drop is not None and drop <= max_accuracy_drop))
        c.pareto = c.selected = False
    for c in pareto_front([c for c in candidates if not c.rejected], key):
        c.pareto = True
    feasible = [c for c in candidates if c.feasible and c.latency_b1_ms is not None]
    best = min(feasible, key=lambda c: (c.latency_b1_ms, c.row.size_bytes)) if feasible else candidates[0]
    best.selected = True
    return best
