"""Which measured model ships: the accuracy/latency Pareto front within ``max_accuracy_drop``.

Every model a compression run measured is an :class:`autoopt.evaluate.Candidate` (the fp32
baseline first, then each plan step, each candidate plan, each searched plan) -- the same type the
pipeline's ship guard reads. :func:`select` decides

- rejected: a candidate with a ``blocked: ...`` flag, e.g. an INT8 model that is not faster at
  batch 1 than the fp32 model it was made from (timed in interleaved rounds; on tiny models the
  quantize/dequantize overhead outweighs the cheaper arithmetic) -- it is never shipped;
- feasible: not rejected and losing at most ``max_accuracy_drop`` points against the baseline;
- pareto: not dominated in (score, batch-1 latency) by another non-rejected candidate;

and selects the fastest feasible candidate at batch 1 (ties: the smaller file). The baseline is
always feasible, so a run whose every compressed model is too inaccurate or too slow ships fp32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from autoopt.evaluate import Candidate

__all__ = ["Selection", "blocked", "compress_drop", "pareto_front", "select"]


@dataclass
class Selection:
    """What :func:`select` decided, by candidate id."""

    selected: Candidate
    feasible: list[str] = field(default_factory=list)
    pareto: list[str] = field(default_factory=list)


def blocked(c: Candidate) -> str:
    """Why ``c`` must not ship (its first ``blocked:`` flag, without the prefix); empty when it may."""
    return next((f.removeprefix("blocked: ") for f in c.flags if f.startswith("blocked:")), "")


def compress_drop(baseline: Candidate, c: Candidate) -> float | None:
    """How much worse ``c`` scores than ``baseline``: accuracy points, or the increase of the error metric."""
    if c.score is None or baseline.score is None:
        return None
    if c.higher_is_better:
        return round((baseline.score - c.score) * 100.0, 3)
    return round(c.score - baseline.score, 3)


def _b1(c: Candidate) -> float | None:
    return c.latency_ms.get("1")


def pareto_front(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates not dominated in (score, batch-1 latency) by another one (direction: the metric's)."""
    scored = [c for c in candidates if c.score is not None and _b1(c) is not None]

    def s(c: Candidate) -> float:
        return c.score if c.higher_is_better else -c.score  # type: ignore[operator,return-value]

    front = []
    for c in scored:
        dominated = any(
            s(o) >= s(c) and _b1(o) <= _b1(c) and (s(o) > s(c) or _b1(o) < _b1(c))  # type: ignore[operator]
            for o in scored
            if o is not c
        )
        if not dominated:
            front.append(c)
    return front


def select(candidates: Sequence[Candidate], max_accuracy_drop: float) -> Selection:
    """Decide feasible / Pareto / selected over ``candidates`` (the first is the baseline).

    Rejections must already be flagged (``blocked: ...``); the baseline is feasible by definition.

    Example:
        >>> def cand(cid, acc, ms, flags=()):
        ...     return Candidate(cid, cid, "compress", f"{cid}.onnx", acc, "accuracy", True, 0, 0, 100,
        ...                      latency_ms={"1": ms}, flags=list(flags))
        >>> base, pruned = cand("fp32", 0.90, 1.0), cand("pruned", 0.897, 0.6)
        >>> slow_int8 = cand("int8", 0.90, 1.5, ["blocked: slower than fp32"])
        >>> select([base, slow_int8, pruned], max_accuracy_drop=0.5).selected.id
        'pruned'
    """
    if not candidates:
        raise ValueError("select: no candidates")
    base = candidates[0]
    feasible = []
    for i, c in enumerate(candidates):
        drop = compress_drop(base, c)
        if not blocked(c) and (i == 0 or (drop is not None and drop <= max_accuracy_drop)):
            feasible.append(c)
    pareto = pareto_front([c for c in candidates if not blocked(c)])
    timed = [c for c in feasible if _b1(c) is not None]
    best = min(timed, key=lambda c: (_b1(c), c.size_bytes)) if timed else base
    return Selection(best, [c.id for c in feasible], [c.id for c in pareto])
