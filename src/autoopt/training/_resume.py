"""Epoch checkpoints for resuming a training that was cut short (a killed worker's trial, retried).

``RESUME_NAME`` holds everything the epoch loop needs to go on after the last finished epoch: the
weights, the optimizer and LR-schedule states, the history, the early-stopping state. It is written
atomically after every epoch and read back with ``torch.load(weights_only=True)`` (tensors and plain
containers only). The data order after resuming differs from an uninterrupted run's.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from autoopt.io import atomic_write

if TYPE_CHECKING:
    from autoopt.training._loop import _Trainer

__all__ = ["RESUME_NAME", "save_resume", "load_resume"]

RESUME_NAME = "last.pt"
logger = logging.getLogger(__name__)


def save_resume(trainer: _Trainer, epoch: int) -> None:
    """Write the state after ``epoch`` to ``out_dir/last.pt`` (atomically)."""
    assert trainer.out_dir is not None
    sched = trainer.schedule.scheduler
    stopper = trainer.stopper
    state: dict[str, Any] = {
        "epoch": epoch,
        "model": {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": sched.state_dict() if sched is not None else None,
        "history": trainer.history,
        "best_epoch": stopper.best_epoch,
        "best_value": stopper.best_value if math.isfinite(stopper.best_value) else None,
        "bad_epochs": stopper.bad_epochs,
        "best_state": {k: v.cpu() for k, v in stopper.best_state.items()} if stopper.best_state else None,
        "train_time": trainer.train_time,
        "train_samples": trainer.train_samples,
    }
    atomic_write(trainer.out_dir / RESUME_NAME, lambda tmp: torch.save(state, tmp))


def load_resume(trainer: _Trainer) -> int:
    """Restore ``out_dir/last.pt`` when there is one; return the first epoch still to run (0: none)."""
    if trainer.out_dir is None:
        return 0
    path = trainer.out_dir / RESUME_NAME
    if not path.is_file():
        return 0
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        trainer.model.load_state_dict(state["model"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        if state["scheduler"] is not None and trainer.schedule.scheduler is not None:
            trainer.schedule.scheduler.load_state_dict(state["scheduler"])
    except Exception as exc:  # unreadable or from another architecture: start over, say why
        logger.warning("%s: cannot resume from it (%s); training from the first epoch", path, exc)
        return 0
    stopper = trainer.stopper
    stopper.best_epoch = int(state["best_epoch"])
    stopper.best_value = math.nan if state["best_value"] is None else float(state["best_value"])
    stopper.bad_epochs = int(state["bad_epochs"])
    stopper.best_state = state["best_state"]
    trainer.history = list(state["history"])
    trainer.train_time = float(state["train_time"])
    trainer.train_samples = int(state["train_samples"])
    logger.info("%s: resuming after epoch %d", path, state["epoch"])
    return int(state["epoch"]) + 1


def remove_resume(out_dir: Path | None) -> None:
    if out_dir is not None:
        (out_dir / RESUME_NAME).unlink(missing_ok=True)
