"""``evaluate_artifact``: metrics and size of any artifact on a split of the data."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from autoopt.data import DataBundle
from autoopt.evaluate._artifacts import load_artifact
from autoopt.evaluate._predict import evaluate_runner
from autoopt.exceptions import InvalidSpecError

__all__ = ["evaluate_artifact", "SPLITS"]

SPLITS = ("train", "val", "test")


def evaluate_artifact(
    path: str | os.PathLike[str],
    data: DataBundle,
    *,
    batch_size: int = 256,
    split: str = "test",
    threads: int | None = None,
    metrics: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Metrics of an artifact on one split, plus its size on disk.

    Works the same on a checkpoint (rebuilt from the ``model.json`` of its model dir or from its run
    dir), a ``.pt2`` program and an ``.onnx`` file (fp32 or quantized).

    Args:
        path: a ``.onnx``/``.pt2`` file, a checkpoint, a model dir (with ``model.json``) or a run dir.
        data: the data (its ``meta`` rebuilds checkpoints' models).
        batch_size: samples per forward pass.
        split: ``"test"``, ``"val"`` or ``"train"``.
        threads: intra-op threads (``None``: the backend's default).
        metrics: names registered in :mod:`autoopt.metrics` (``None``: the task's defaults).

    Returns:
        ``{"loss", <metrics>..., "samples", "size_bytes", "format"}``; ``format`` is ``checkpoint``,
        ``pt2`` or ``onnx``; ``size_bytes`` counts every file the artifact needs (external ONNX data too).

    Raises:
        InvalidSpecError: unknown split or artifact kind.

    Example:
        >>> from autoopt.data import load_data
        >>> data = load_data({"name": "digits", "limit": 300})
        >>> evaluate_artifact("runs/tiny/final/model.onnx", data)["accuracy"]  # doctest: +SKIP
        0.93
    """
    if split not in SPLITS:
        raise InvalidSpecError(f"split: expected one of: {', '.join(SPLITS)}; got {split!r}")
    artifact = load_artifact(path, data.meta, threads=threads)
    dataset = getattr(data, split)
    out: dict[str, Any] = evaluate_runner(
        artifact.runner, dataset, data.meta.task, batch_size=batch_size, threads=threads, metrics=metrics
    )
    out.update(samples=len(dataset), size_bytes=artifact.size_bytes, format=artifact.kind)
    return out
