"""Best-epoch tracking and patience-based early stopping on the monitored validation metric."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Keeps a copy of the best weights and says when patience has run out.

    Args:
        direction: ``"maximize"`` or ``"minimize"`` the monitored metric.
        patience: epochs without improvement before stopping; ``None`` never stops.
        min_delta: the smallest change that counts as an improvement.
    """

    def __init__(
        self, direction: Literal["maximize", "minimize"], patience: int | None, min_delta: float = 0.0
    ) -> None:
        self.direction = direction
        self.patience = patience
        self.min_delta = min_delta
        self.best_value = math.nan
        self.best_epoch = -1
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0

    def is_better(self, value: float) -> bool:
        """Whether ``value`` improves on the best so far (the first finite value always does).

        Args:
            value: the monitored metric of the latest epoch.
        """
        if not math.isfinite(value):
            return False
        if self.best_epoch < 0:
            return True
        if self.direction == "maximize":
            return value > self.best_value + self.min_delta
        return value < self.best_value - self.min_delta

    def update(self, value: float, epoch: int, model: nn.Module) -> bool:
        """Record one epoch; snapshot the weights if it is the best so far.

        Args:
            value: the monitored metric of ``epoch``.
            epoch: the 0-based epoch index.
            model: the model whose weights to snapshot on improvement.

        Returns:
            True when training should stop (patience exhausted).
        """
        if self.is_better(value):
            self.best_value, self.best_epoch, self.bad_epochs = value, epoch, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.bad_epochs += 1
        # Keras/Lightning semantics: stop once `patience` epochs in a row brought no improvement
        # (0 and 1 both stop at the first epoch without improvement).
        return self.patience is not None and self.bad_epochs >= max(self.patience, 1)

    def restore(self, model: nn.Module) -> None:
        """Load the best snapshot back into ``model`` (a no-op before any improvement).

        Args:
            model: the model to restore.
        """
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
