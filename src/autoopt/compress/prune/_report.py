"""What a pruning step did: ``PruneReport`` (structured) and ``SparsityReport`` (unstructured)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PruneReport", "SparsityReport", "Sparsity", "StepRecord"]


@dataclass
class StepRecord:
    """One pruning step of an iterative run.

    Attributes:
        step: 1-based step number.
        ratio: the cumulative target ratio after this step.
        params: parameters after the step.
        macs: MACs per sample after the step.
        val_metrics: validation metrics after this step's fine-tuning (empty without fine-tuning).
    """

    step: int
    ratio: float
    params: int
    macs: int
    val_metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class PruneReport:
    """Sizes before and after structured pruning, per-layer channels, and what was left out.

    ``skipped`` is set whenever the returned model is not smaller (an error with ``on_error:
    skip``, or nothing could be pruned): a report never claims pruning that did not happen.

    Attributes:
        criterion: the importance criterion.
        ratio: the channel ratio asked for.
        effective_ratio: the fraction of prunable channels really removed, after rounding to
            ``round_to`` and the ``min_channels`` floor.
        round_to: conv channel counts were kept a multiple of this (1: any).
        min_channels: no conv was pruned below this many channels.
        scope: ``layer`` or ``global``.
        steps: pruning steps.
        params_before: parameters of the input model.
        params_after: parameters of the returned model.
        macs_before: MACs per sample of the input model.
        macs_after: MACs per sample of the returned model.
        channels: ``{layer: (before, after)}`` output channels of every conv/linear layer.
        ignored: layers kept whole on purpose (the classifier and ``ignore``).
        excluded: ``{layer: reason}`` layers left whole because pruning them breaks the graph.
        skipped: why the model was returned unpruned; ``None`` when it was pruned.
        finetune: ``plain``, ``distill``, ``custom`` or ``none``: how fine-tuning ran.
        history: one :class:`StepRecord` per step.
        notes: anything else worth knowing (fallbacks, layers a criterion could not score).
    """

    criterion: str
    ratio: float
    scope: str
    steps: int
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int
    effective_ratio: float | None = None
    round_to: int = 1
    min_channels: int = 1
    channels: dict[str, tuple[int, int]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None
    finetune: str = "none"
    history: list[StepRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.skipped is None and self.params_after >= self.params_before:
            self.skipped = (
                f"nothing was pruned: the model still has {self.params_after} parameters "
                f"(before: {self.params_before})"
            )

    @property
    def pruned(self) -> bool:
        """Whether the returned model is really smaller than the input model."""
        return self.skipped is None and self.params_after < self.params_before

    @property
    def params_ratio(self) -> float:
        """``params_after / params_before``."""
        return self.params_after / self.params_before if self.params_before else 1.0

    @property
    def macs_ratio(self) -> float:
        """``macs_after / macs_before``."""
        return self.macs_after / self.macs_before if self.macs_before else 1.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict (for ``metrics.json``)."""
        out = asdict(self)
        out["channels"] = {k: list(v) for k, v in self.channels.items()}
        out["pruned"] = self.pruned
        return out

    def summary(self) -> str:
        """One line: ``l2 layer 0.5: params 5122 -> 1382 (27.0%), MACs ...`` or ``SKIPPED: reason``."""
        head = f"{self.criterion} {self.scope} {self.ratio:g}"
        if self.effective_ratio is not None:
            head += (
                f" (effective {self.effective_ratio:.3g}, round_to {self.round_to}, min {self.min_channels})"
            )
        if self.skipped is not None:
            return f"{head}: SKIPPED: {self.skipped}"
        return (
            f"{head}: params {self.params_before} -> {self.params_after} ({self.params_ratio:.1%}), "
            f"MACs {self.macs_before} -> {self.macs_after} ({self.macs_ratio:.1%})"
        )


@dataclass
class Sparsity:
    """Real sparsity: the fraction of weights that are exactly zero.

    Attributes:
        overall: zeros / total over every counted weight.
        per_layer: ``{layer: fraction of zeros}`` of each conv/linear weight.
        zeros: number of zero weights.
        total: number of counted weights.
    """

    overall: float
    per_layer: dict[str, float]
    zeros: int
    total: int


@dataclass
class SparsityReport:
    """What unstructured pruning did.

    Attributes:
        target: the final sparsity asked for.
        sparsity: the measured real sparsity of the returned model's prunable weights.
        schedule: ``(step, sparsity)`` at every mask update (one entry for one-shot pruning).
        finetune: ``plain``, ``distill``, ``custom`` or ``none``.
        val_metrics: validation metrics of the returned model (empty without data).
    """

    target: float
    sparsity: Sparsity
    schedule: list[tuple[int, float]] = field(default_factory=list)
    finetune: str = "none"
    val_metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict."""
        out = asdict(self)
        out["schedule"] = [list(p) for p in self.schedule]
        return out
