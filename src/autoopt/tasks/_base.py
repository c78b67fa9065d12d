"""The :class:`TaskKind` contract and its registry."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from autoopt._registry import Registry
from autoopt.exceptions import InvalidSpecError

__all__ = ["TaskKind", "task_kinds", "get_task", "list_tasks", "check_task"]


class TaskKind:
    """What differs between kinds of supervised task. Subclass and register to add one.

    Class attributes:
        name: the registry name (``DatasetMeta.task``, model cards, ``data.task`` in a spec).
        has_classes: targets are class indices: class names, ``num_classes``, a confusion matrix,
            a stratified split, probabilities when serving.
        score_metric: the metric stages compare by default (``autoopt.metrics`` name).
        metrics: what evaluation reports by default (``autoopt.metrics`` names).
        train_metrics: what the training loop tracks every epoch (the keys of :meth:`from_sums`).
        input_dtype: the dtype of model inputs (float32 for images and tables).
        target_dtype: the dtype of targets (int64 class index, float32 value).
    """

    name: ClassVar[str]
    has_classes: ClassVar[bool]
    score_metric: ClassVar[str]
    metrics: ClassVar[tuple[str, ...]]
    train_metrics: ClassVar[tuple[str, ...]]
    input_dtype: ClassVar[torch.dtype] = torch.float32
    target_dtype: ClassVar[torch.dtype]

    def output_dim(self, num_classes: int | None) -> int:
        """The width of the model's head.

        Args:
            num_classes: the dataset's number of classes (``None`` when it has none).

        Raises:
            InvalidSpecError: the kind needs classes and ``num_classes`` is missing or below 1.
        """
        raise NotImplementedError

    def loss(
        self, output: torch.Tensor, target: torch.Tensor, *, label_smoothing: float = 0.0
    ) -> torch.Tensor:
        """The mean loss of one batch (what training backpropagates and evaluation reports).

        Args:
            output: the model output.
            target: the batch targets.
            label_smoothing: cross-entropy label smoothing (kinds without classes refuse it in
                :meth:`check_training`).
        """
        raise NotImplementedError

    def check_training(self, label_smoothing: float) -> None:
        """Refuse training options that do not apply to this kind (``InvalidSpecError``)."""

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """One prediction per sample from raw model outputs (class index, or value)."""
        raise NotImplementedError

    def batch_sums(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-batch sums (a 1-D float64 tensor on the output's device) for :meth:`from_sums`.

        The training loop adds these up on the device and syncs once per evaluation.
        """
        raise NotImplementedError

    def from_sums(self, sums: list[float], count: int) -> dict[str, float]:
        """The :attr:`train_metrics` from the sums of :meth:`batch_sums` over ``count`` samples.

        ``sums`` is empty when no batch was seen (every metric is then 0).
        """
        raise NotImplementedError

    def example_input(self, input_shape: tuple[int, ...], batch: int = 1) -> torch.Tensor:
        """A dummy input batch (zeros of :attr:`input_dtype`) for export, latency and profiling.

        Args:
            input_shape: one sample's shape, without the batch dimension.
            batch: the batch size.
        """
        return torch.zeros((batch, *input_shape), dtype=self.input_dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


task_kinds: Registry[type[TaskKind]] = Registry("task kind")


def get_task(name: str, *, key: str | None = None) -> TaskKind:
    """The :class:`TaskKind` registered as ``name``.

    Args:
        name: a registered kind (``"classification"``, ``"regression"``, ...).
        key: the spec key the name came from, prefixed to the error message.

    Raises:
        UnknownNameError: the name is not registered; the message lists the known kinds.

    Example:
        >>> get_task("regression").output_dim(None)
        1
    """
    return task_kinds.get(name, key=key)()


def list_tasks() -> list[str]:
    """The registered task kinds, sorted."""
    return task_kinds.names()


def check_task(name: str | None, *, key: str | None = None) -> str | None:
    """``name`` if it is a registered task kind (or ``None``); for pydantic validators.

    Args:
        name: the task kind's name.
        key: the key to prefix the message with (pydantic adds its own location: leave it ``None``).

    Raises:
        UnknownNameError: the name is not registered (a ``ValueError`` listing the known kinds).
    """
    if name is not None:
        task_kinds.get(name, key=key)
    return name


def _need_classes(kind: str, num_classes: int | None) -> int:
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise InvalidSpecError(f"data: a {kind} dataset needs num_classes >= 1; got {num_classes!r}")
    return num_classes
