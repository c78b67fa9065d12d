"""fp16/bf16 casting of a torch model (ONNX fp16 needs ``onnxconverter_common``, not a dependency).

Support: CUDA runs fp16 and bf16 (bf16 needs compute capability 8.0+). CPU runs bf16 (fast only
with AVX512-BF16/AMX) and fp16 for common layers in recent torch, usually *slower* than fp32
because most CPUs lack fp16 arithmetic: measure before using it. MPS runs fp16.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from autoopt.compress.prune import CompressionError
from autoopt.exceptions import InvalidSpecError
from autoopt.training import resolve_device

__all__ = ["HalfPrecision", "to_precision", "DTYPES"]

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


class HalfPrecision(nn.Module):
    """A model cast to fp16/bf16 that takes and returns ``float32`` tensors (so every runner and
    metric of autoopt works with it unchanged)."""

    def __init__(self, model: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.to(self.dtype)).float()


def to_precision(
    model: nn.Module, dtype: str = "bf16", *, device: str = "auto", example_input: torch.Tensor | None = None
) -> HalfPrecision:
    """A copy of ``model`` in ``fp16``/``bf16`` on ``device``, checked with one forward pass.

    Args:
        model: the fp32 model (not changed).
        dtype: ``fp16`` or ``bf16``.
        device: ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        example_input: a batch to check the device runs every layer in ``dtype``.

    Raises:
        InvalidSpecError: an unknown dtype, or bf16 on a CUDA device without bf16 support.
        CompressionError: a layer has no ``dtype`` kernel on the device (the message names both).

    Example:
        >>> half = to_precision(nn.Linear(4, 2), "bf16", device="cpu", example_input=torch.zeros(2, 4))
        >>> half(torch.zeros(3, 4)).dtype
        torch.float32
    """
    if dtype not in DTYPES:
        raise InvalidSpecError(f"dtype: expected one of: {', '.join(DTYPES)}; got {dtype!r}")
    dev = resolve_device(device)
    if dtype == "bf16" and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise InvalidSpecError(f"dtype: bf16 is not supported by {torch.cuda.get_device_name(dev)}; use fp16")
    cast = HalfPrecision(copy.deepcopy(model).to(device=dev, dtype=DTYPES[dtype]).eval(), DTYPES[dtype])
    if example_input is not None:
        try:
            with torch.inference_mode():
                cast(example_input.to(dev))
        except (RuntimeError, NotImplementedError) as exc:
            raise CompressionError(f"{type(model).__name__}: {dtype} does not run on {dev}: {exc}") from exc
    return cast
