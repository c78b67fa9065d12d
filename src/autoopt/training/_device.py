"""Device and mixed-precision choice: ``training.device`` and ``training.mixed_precision``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager

import torch

from autoopt.exceptions import InvalidSpecError

__all__ = ["resolve_device", "resolve_amp_dtype", "autocast_factory"]


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``training.device`` into a ``torch.device``.

    Args:
        name: ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    Raises:
        InvalidSpecError: the requested device is not available on this machine.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InvalidSpecError(
                f"training.device: {name!r} requested but CUDA is not available here; use 'auto' or 'cpu'"
            )
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise InvalidSpecError(
                f"training.device: {name!r} requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist"
            )
    if name == "mps" and not _mps_available():
        raise InvalidSpecError(
            "training.device: 'mps' requested but MPS is not available here; use 'auto' or 'cpu'"
        )
    return torch.device(name)


def resolve_amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``training.mixed_precision`` on ``device`` (``None`` = full precision).

    ``auto`` turns mixed precision on for CUDA only: bf16 where the GPU supports it, else fp16.

    Args:
        mode: ``auto``, ``off``, ``bf16`` or ``fp16``.
        device: the training device.

    Raises:
        InvalidSpecError: ``fp16`` was asked for on a device without fp16 autocast (CPU).
    """
    if mode == "off":
        return None
    if mode == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if mode == "fp16" and device.type == "cpu":
        raise InvalidSpecError(
            "training.mixed_precision: 'fp16' needs a CUDA (or MPS) device; got cpu; use 'bf16' or 'off'"
        )
    return torch.bfloat16 if mode == "bf16" else torch.float16


def autocast_factory(device: torch.device, dtype: torch.dtype | None) -> Callable[[], ContextManager[object]]:
    """A zero-argument callable returning the forward-pass context (autocast or a no-op).

    Args:
        device: the training device.
        dtype: the autocast dtype, ``None`` for full precision.
    """
    if dtype is None:
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)
