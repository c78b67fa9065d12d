"""``FitResult``: what one call to ``fit`` returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FitResult"]


@dataclass
class FitResult:
    """The outcome of :func:`autoopt.training.fit`.

    Attributes:
        metric: the monitored validation metric (``training.metric`` resolved).
        direction: ``"maximize"`` or ``"minimize"``.
        best_epoch: 0-based index of the epoch whose weights were restored.
        best_value: the monitored metric at ``best_epoch``.
        val_metrics: every validation metric of the restored (best) weights.
        history: one record per epoch: ``epoch``, ``train_loss``, ``lr``, ``epoch_time_s``,
            ``train_samples_per_s`` and ``val_<metric>`` for each validation metric.
        epochs_run: epochs actually trained.
        stopped_early: True when early stopping ended training before ``training.epochs``.
        samples_per_s: training throughput over all epochs (training passes only).
        device: the device trained on.
        checkpoint_path: ``out_dir/model.safetensors`` when an ``out_dir`` was given.
    """

    metric: str
    direction: str
    best_epoch: int
    best_value: float
    val_metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    epochs_run: int = 0
    stopped_early: bool = False
    samples_per_s: float = 0.0
    device: str = "cpu"
    checkpoint_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable copy."""
        return asdict(self)
