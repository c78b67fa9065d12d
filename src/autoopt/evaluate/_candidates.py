"""Candidate models of a run, measured alike, and the guard that picks the one to ship.

A run makes several models that could be deployed: the searched best model, a distilled student, the
same student trained alone, each compression step (fp32 and INT8). Each is a :class:`Candidate`: its
deployable ONNX file, accuracy on the test split, size, params and MACs. :func:`measure_latencies`
times every candidate's ONNX file with the one latency harness in interleaved rounds (so background
load hits all of them alike) and keeps the median of the rounds. :func:`choose` then applies the guard:
a candidate ships only when it is not worse than the reference (the searched model) by more than the
allowed drop, not slower at any measured batch size, and meets the targets; every other candidate
keeps the reasons it was turned down.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autoopt.evaluate.latency import measure_latency

#: Candidates within this fraction of the best latency (or size) count as tied.
TIE = 0.05


def fingerprint_file(path: str | Path) -> str:
    """sha256 of a file (the identity of a candidate's artifact)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Candidate:
    """One model the run could ship.

    Attributes:
        id: a short unique key (``searched``, ``distilled``, ``student_alone``, ``compress_2_finetune``).
        label: what a person reads (``searched best model``, ``2. finetune (fp32)``).
        stage: the stage that made it.
        onnx: the deployable ONNX file.
        score: the test metric (accuracy for classification, mse for regression) of ``onnx`` itself.
        metric: the name of ``score``.
        higher_is_better: direction of ``score``.
        params: parameters of the model (of its fp32 source for an INT8 file).
        macs: multiply-accumulates per sample.
        size_bytes: size of ``onnx``.
        precision: ``fp32`` or ``int8``.
        model_dir: a folder with ``model.onnx`` and, for a rebuildable PyTorch model, ``model.pt2``,
            ``model.safetensors`` and ``model.json``; ``None``: the ONNX file is the only artifact.
        builder: ``{"name", "config"}`` when the weights can be rebuilt from a registered builder.
        derived_from: the id of the candidate it was made from.
        fingerprint: sha256 of ``onnx``.
        latency_ms: batch size (as a string) -> p50 ms, filled by :func:`measure_latencies`.
        latency_settings: the conditions of that measurement.
        flags: why it may not ship (filled by :func:`choose` and by the stage that made it).
        notes: other facts (e.g. ``teacher test accuracy 0.98``).
    """

    id: str
    label: str
    stage: str
    onnx: str
    score: float | None
    metric: str
    higher_is_better: bool
    params: int
    macs: int
    size_bytes: int
    precision: str = "fp32"
    model_dir: str | None = None
    builder: dict[str, Any] | None = None
    derived_from: str | None = None
    fingerprint: str = ""
    latency_ms: dict[str, float] = field(default_factory=dict)
    latency_settings: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.fingerprint and Path(self.onnx).is_file():
            self.fingerprint = fingerprint_file(self.onnx)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Candidate:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class GuardConfig:
    """What a candidate must meet to ship (see the ``ship:`` spec section)."""

    max_accuracy_drop: float = 1.0
    max_latency_ms: float | None = None
    max_size_bytes: int | None = None
    prefer: str = "latency"
    latency_tolerance: float = 0.05


@dataclass
class ShipDecision:
    """The guard's verdict: the candidate to ship, the reference, every candidate with its flags."""

    shipped: Candidate
    reference: Candidate
    candidates: list[Candidate]

    def rejected(self) -> list[Candidate]:
        return [c for c in self.candidates if c.flags and c.id != self.shipped.id]

    def comparison(self) -> dict[str, Any]:
        """The shipped model against the reference: drop, speed-ups, size ratio."""
        s, r = self.shipped, self.reference
        out: dict[str, Any] = {
            "reference": r.id,
            "accuracy_drop": _drop(r, s),
            "size_ratio": round(r.size_bytes / s.size_bytes, 3) if s.size_bytes else None,
            "params_ratio": round(r.params / s.params, 3) if s.params else None,
            "speedup": {
                b: round(r.latency_ms[b] / v, 3)
                for b, v in s.latency_ms.items()
                if v > 0 and r.latency_ms.get(b)
            },
        }
        return out


def _drop(reference: Candidate, c: Candidate) -> float | None:
    """How much worse ``c`` is than ``reference``: points of accuracy, or % more error (regression)."""
    if c.score is None or reference.score is None:
        return None
    if c.higher_is_better:
        return round((reference.score - c.score) * 100.0, 3)
    if reference.score == 0:
        return 0.0 if c.score == 0 else float("inf")
    return round((c.score - reference.score) / abs(reference.score) * 100.0, 3)


def measure_latencies(
    candidates: Sequence[Candidate],
    *,
    batch_sizes: Sequence[int] = (1, 64),
    repeats: int = 30,
    rounds: int = 3,
    threads: int = 1,
) -> None:
    """Time every candidate's ONNX file in interleaved rounds; store the median p50 of the rounds.

    One file after the other, ``rounds`` times, through :func:`autoopt.evaluate.measure_latency`: a
    burst of background load then slows every candidate of that round, not one of them. Candidates
    with the same file (same fingerprint) are timed once.
    """
    by_file: dict[str, list[dict[str, float]]] = {}
    settings: dict[str, dict[str, Any]] = {}
    unique: dict[str, Candidate] = {}
    for c in candidates:
        unique.setdefault(c.fingerprint or c.onnx, c)
    for _ in range(rounds):
        for key, c in unique.items():
            rep = measure_latency(c.onnx, batch_sizes=list(batch_sizes), repeats=repeats, threads=threads)
            by_file.setdefault(key, []).append({str(r.batch_size): r.p50_ms for r in rep.rows})
            if key not in settings:
                d = rep.to_dict()
                settings[key] = {
                    k: v for k, v in d.items() if k not in ("rows",) and not isinstance(v, (list, dict))
                } | {"rounds": rounds, "statistic": "median over rounds of the p50"}
    for c in candidates:
        key = c.fingerprint or c.onnx
        runs = by_file[key]
        c.latency_ms = {b: round(statistics.median(r[b] for r in runs), 5) for b in runs[0]}
        c.latency_settings = settings[key]


def _slower(c: Candidate, reference: Candidate, tolerance: float) -> list[str]:
    out = []
    for b, ref in reference.latency_ms.items():
        v = c.latency_ms.get(b)
        if v is not None and ref > 0 and v > ref * (1.0 + tolerance):
            out.append(
                f"slower than the searched model at batch {b} ({v:.4g} vs {ref:.4g} ms, {ref / v:.2f}x)"
            )
    return out


def flag_slower_than_source(candidates: Sequence[Candidate], tolerance: float = 0.05) -> None:
    """Block every candidate that is slower than the model it was made from (e.g. an INT8 file slower
    than its fp32 source): a compression step that slows the model down never ships.

    Candidates with the same compute as their source (same params and precision, e.g. a fine-tuning
    step) are not compared: their difference is timer noise.
    """
    by_id = {c.id: c for c in candidates}
    for c in candidates:
        src = by_id.get(c.derived_from or "")
        if src is None or (src.params == c.params and src.precision == c.precision):
            continue
        c.flags = [f for f in c.flags if not f.startswith("blocked: slower")]
        for b, ref in src.latency_ms.items():
            v = c.latency_ms.get(b)
            if v is not None and ref > 0 and v > ref * (1.0 + tolerance):
                c.flags.append(f"blocked: slower than its source '{src.label}' at batch {b} ({ref / v:.2f}x)")


def choose(candidates: Sequence[Candidate], reference_id: str, config: GuardConfig) -> ShipDecision:
    """Flag every candidate that may not ship and pick the one that ships.

    The reference (the searched model) is always allowed unless it misses an explicit target; when
    every candidate misses a target, the reference ships and keeps its flag.

    Raises:
        KeyError: ``reference_id`` is not a candidate.
    """
    by_id = {c.id: c for c in candidates}
    ref = by_id[reference_id]
    allowed: list[Candidate] = []
    for c in candidates:
        reasons = [f for f in c.flags if not f.startswith("guard:")]  # a stage's own findings stay
        if c.id != ref.id:
            drop = _drop(ref, c)
            if c.score is None:
                reasons.append("guard: no test score")
            elif drop is not None and drop > config.max_accuracy_drop:
                unit = "points" if c.higher_is_better else "% more error"
                reasons.append(
                    f"guard: {drop:.2f} {unit} worse than the searched model "
                    f"(allowed {config.max_accuracy_drop:g})"
                )
            reasons += [f"guard: {r}" for r in _slower(c, ref, config.latency_tolerance)]
        b1 = c.latency_ms.get("1")
        if config.max_latency_ms is not None and b1 is not None and b1 > config.max_latency_ms:
            reasons.append(
                f"guard: batch-1 latency {b1:.4g} ms above the target {config.max_latency_ms:g} ms"
            )
        if config.max_size_bytes is not None and c.size_bytes > config.max_size_bytes:
            reasons.append(f"guard: {c.size_bytes} bytes above the target {config.max_size_bytes}")
        c.flags = reasons
        if not any(r.startswith("guard:") for r in reasons) and not _blocking(reasons):
            allowed.append(c)
    shipped = _prefer(allowed, config.prefer) if allowed else ref
    return ShipDecision(shipped=shipped, reference=ref, candidates=list(candidates))


def _blocking(reasons: Sequence[str]) -> bool:
    """A stage's own finding that forbids shipping (e.g. a student worse than the student alone)."""
    return any(r.startswith("blocked:") for r in reasons)


def _prefer(allowed: Sequence[Candidate], prefer: str) -> Candidate:
    def acc(c: Candidate) -> float:
        s = c.score if c.score is not None else float("-inf")
        return s if c.higher_is_better else -s

    if prefer == "accuracy":
        return max(allowed, key=lambda c: (acc(c), -c.size_bytes))
    best: float
    if prefer == "size":
        best = min(c.size_bytes for c in allowed)
        tied = [c for c in allowed if c.size_bytes <= best * (1.0 + TIE)]
    else:
        # The fastest at batch 1; among those tied there, the fastest at the largest batch size.
        tied = list(allowed)
        sizes = sorted({b for c in allowed for b in c.latency_ms}, key=int)
        for b in dict.fromkeys(["1", *sizes[-1:]]):
            best = min(c.latency_ms.get(b, float("inf")) for c in tied)
            tied = [c for c in tied if c.latency_ms.get(b, float("inf")) <= best * (1.0 + TIE)]
    return max(tied, key=lambda c: (acc(c), -c.size_bytes))
