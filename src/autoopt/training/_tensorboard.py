"""Optional TensorBoard scalars (``training.tensorboard``), imported only when asked for."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autoopt.exceptions import InvalidSpecError

__all__ = ["TensorBoardLogger", "open_tensorboard"]


class TensorBoardLogger:
    """Writes one scalar per history field per epoch.

    Args:
        writer: a ``torch.utils.tensorboard.SummaryWriter``.
    """

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def log_epoch(self, record: Mapping[str, Any]) -> None:
        """Write every numeric field of one history record at step ``record['epoch']``.

        Args:
            record: one epoch's history record.
        """
        epoch = int(record["epoch"])
        for key, value in record.items():
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(
                    key.replace("_", "/", 1) if key.startswith("val_") else key, value, epoch
                )
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()


def open_tensorboard(log_dir: Path) -> TensorBoardLogger:
    """Open a TensorBoard writer in ``log_dir``.

    Args:
        log_dir: the folder for the event files.

    Raises:
        InvalidSpecError: the ``tensorboard`` package is not installed.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise InvalidSpecError(
            "training.tensorboard: true needs the 'tensorboard' package, which is not installed; "
            "install it with pip install 'autoopt[tensorboard]' or set training.tensorboard: false"
        ) from exc
    return TensorBoardLogger(SummaryWriter(log_dir=str(log_dir)))
