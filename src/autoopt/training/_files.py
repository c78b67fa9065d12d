"""Atomic writes of the training outputs: ``model.safetensors`` and ``history.json``."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from autoopt.models._checkpoint import HASH_KEY, content_hash

__all__ = ["atomic_write", "save_state_dict", "write_history", "CHECKPOINT_NAME", "HISTORY_NAME"]

CHECKPOINT_NAME = "model.safetensors"
HISTORY_NAME = "history.json"


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Write ``path`` through a temp file in the same folder, then ``os.replace`` it into place.

    A reader never sees a half-written file; a crash leaves the old file (or none).

    Args:
        path: the destination file.
        write: writes the content to the temp path it is given.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # the rename never publishes data still only in the page cache
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_state_dict(
    state: Mapping[str, torch.Tensor], path: Path, metadata: Mapping[str, Any] | None = None
) -> None:
    """Save a state dict as safetensors, atomically.

    Tensors are copied to contiguous CPU storage first, so tied weights do not trip safetensors'
    shared-memory check.

    Args:
        state: parameter and buffer tensors by name.
        path: the destination ``.safetensors`` file.
        metadata: string-able values stored in the file header.
    """
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta[HASH_KEY] = content_hash(tensors)  # checked by autoopt.models.load_checkpoint
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def write_history(path: Path, payload: Mapping[str, Any]) -> None:
    """Write the training history as pretty JSON, atomically.

    Args:
        path: the destination ``history.json``.
        payload: JSON-serializable content (non-finite floats are written as ``null``).
    """

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(_finite(payload), fh, indent=2)
            fh.write("\n")

    atomic_write(path, write)


def _finite(value: Any) -> Any:
    """Replace NaN/inf floats by ``None`` so the file is strict JSON."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
