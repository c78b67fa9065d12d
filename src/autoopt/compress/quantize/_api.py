"""``quantize``: one entry point for a spec's ``compress.quantize`` section, dispatching on ``mode``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autoopt.compress.quantize._config import QuantizeConfig, coerce_quantize_config
from autoopt.compress.quantize._dynamic import quantize_dynamic
from autoopt.compress.quantize._qat import quantize_qat
from autoopt.compress.quantize._report import QuantizeResult
from autoopt.compress.quantize._static import quantize_static
from autoopt.data import DataBundle
from autoopt.evaluate import stack_inputs
from autoopt.exceptions import InvalidSpecError
from autoopt.export import export_onnx
from autoopt.training import TrainConfig

__all__ = ["quantize"]


def quantize(
    model: nn.Module | str | os.PathLike[str],
    onnx_out: str | os.PathLike[str],
    data: DataBundle,
    config: QuantizeConfig | dict[str, Any] | None = None,
    *,
    train_config: TrainConfig | dict[str, Any] | None = None,
    threads: int | None = 1,
) -> QuantizeResult:
    """Quantize a model as ``config.mode`` says and report on the INT8 ONNX file.

    Args:
        model: a trained torch model, or an fp32 ``.onnx`` (``static``/``dynamic`` only). A model
            is exported to ``<stem>.fp32.onnx`` next to ``onnx_out`` first.
        onnx_out: where to write the INT8 ``.onnx``.
        data: calibration (train split), fine-tuning (``qat``) and evaluation (test split) data.
        config: a :class:`QuantizeConfig` or a dict of ``compress.quantize`` keys.
        train_config: fine-tuning options of ``qat``.
        threads: intra-op threads of evaluation and latency sessions.

    Raises:
        InvalidSpecError: bad config, or ``mode: qat`` with an ONNX file.

    Example:
        >>> res = quantize(model, "out/model.int8.onnx", data, {"mode": "static"})  # doctest: +SKIP
    """
    cfg = coerce_quantize_config(config)
    out = Path(onnx_out)
    if cfg.mode == "qat":
        if not isinstance(model, nn.Module):
            raise InvalidSpecError(
                "compress.quantize.mode: 'qat' fine-tunes a torch model; got an ONNX file "
                f"({str(model)!r}); pass the trained model, or use mode 'static'"
            )
        return quantize_qat(model, data, out, cfg, train_config=train_config, threads=threads)
    if isinstance(model, nn.Module):
        x = torch.from_numpy(stack_inputs(data.train, 8))
        model = export_onnx(model, x, out.with_name(f"{out.stem}.fp32.onnx")).path
    if cfg.mode == "dynamic":
        return quantize_dynamic(model, out, cfg, eval_data=data, threads=threads)
    return quantize_static(model, out, data, cfg, threads=threads)


def quantize_onnx(
    onnx_in: str | os.PathLike[str],
    onnx_out: str | os.PathLike[str],
    data: DataBundle,
    config: QuantizeConfig | dict[str, Any] | None = None,
    *,
    threads: int | None = 1,
) -> QuantizeResult:
    """Quantize an fp32 ``.onnx`` with ``config.mode`` ``static`` or ``dynamic`` (a compression plan step).

    Raises:
        InvalidSpecError: ``mode: qat`` (it needs the torch model: use :func:`quantize`), or a bad config.

    Example:
        >>> res = quantize_onnx("a/model.onnx", "b/model.onnx", data, {"mode": "static"})  # doctest: +SKIP
    """
    return quantize(Path(onnx_in), onnx_out, data, config, threads=threads)
