"""Epoch progress of every training run, for a display (the CLI's rich bars) that the stages never see.

A display registers itself for a block of code with :func:`listen_epochs`; every :func:`~autoopt.training.fit`
inside it (a trial of the search, the distilled student, a compression step's fine-tuning, the NAS
retraining) then announces its start, each finished epoch and its end. The stages pass nothing through:
the listener lives in a context variable. It only hears training that runs in the process that
registered it (trials in worker processes of a parallel search are not shown epoch by epoch).

Example:
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from autoopt.data import DataBundle, DatasetMeta
    >>> from autoopt.training import fit, listen_epochs
    >>> class Print:
    ...     def start(self, epochs, metric): print("start", epochs, metric)
    ...     def epoch(self, epoch, epochs, record): print("epoch", epoch)
    ...     def end(self): print("end")
    >>> ds = TensorDataset(torch.randn(16, 4), torch.randint(0, 2, (16,)))
    >>> data = DataBundle(ds, ds, ds, DatasetMeta("toy", "classification", (4,), num_classes=2))
    >>> with listen_epochs(Print()):
    ...     _ = fit(torch.nn.Linear(4, 2), data, {"epochs": 2, "device": "cpu"})
    start 2 accuracy
    epoch 0
    epoch 1
    end
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

__all__ = ["EpochListener", "listen_epochs", "epoch_listener"]

logger = logging.getLogger(__name__)


class EpochListener(Protocol):
    """What a display of training progress implements."""

    def start(self, epochs: int, metric: str) -> None:
        """A training run starts: ``epochs`` at most, monitoring validation ``metric``."""

    def epoch(self, epoch: int, epochs: int, record: Mapping[str, Any]) -> None:
        """Epoch ``epoch`` (0-based) finished; ``record`` is its history row (``val_<metric>``, ...)."""

    def end(self) -> None:
        """The training run ended (finished, stopped early, pruned or failed)."""


_current: contextvars.ContextVar[tuple[EpochListener, int] | None] = contextvars.ContextVar(
    "autoopt_epoch_listener", default=None
)


@contextlib.contextmanager
def listen_epochs(listener: EpochListener | None) -> Iterator[None]:
    """Send the epochs of every ``fit`` run inside this block (in this process) to ``listener``."""
    if listener is None:
        yield
        return
    token = _current.set((listener, os.getpid()))
    try:
        yield
    finally:
        _current.reset(token)


class _Safe:
    """The registered listener, called so that a display error never stops training."""

    def __init__(self, listener: EpochListener) -> None:
        self._listener = listener

    def _call(self, name: str, *args: Any) -> None:
        try:
            getattr(self._listener, name)(*args)
        except Exception:  # a broken display must not fail a trial
            logger.debug("epoch listener %s failed", name, exc_info=True)

    def start(self, epochs: int, metric: str) -> None:
        self._call("start", epochs, metric)

    def epoch(self, epoch: int, epochs: int, record: Mapping[str, Any]) -> None:
        self._call("epoch", epoch, epochs, record)

    def end(self) -> None:
        self._call("end")


def epoch_listener() -> _Safe | None:
    """The listener registered by this process for the current context, or ``None`` (a forked worker
    inherits its parent's context, but its display belongs to the parent)."""
    entry = _current.get()
    if entry is None or entry[1] != os.getpid():
        return None
    return _Safe(entry[0])
