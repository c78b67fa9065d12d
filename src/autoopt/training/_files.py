"""Atomic writes of the training outputs: ``model.safetensors`` and ``history.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from autoopt.io import atomic_write
from autoopt.models._checkpoint import HASH_KEY, content_hash

__all__ = ["save_state_dict", "write_history", "CHECKPOINT_NAME", "HISTORY_NAME"]

CHECKPOINT_NAME = "model.safetensors"
HISTORY_NAME = "history.json"


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
