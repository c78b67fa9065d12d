"""Thin, quiet wrappers of ONNX Runtime's quantizers (QDQ static with cached ranges, dynamic)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from onnxruntime.quantization import QuantFormat, QuantType
from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic
from onnxruntime.quantization import quantize_static as ort_quantize_static

from autoopt.compress.quantize._calibration import METHODS
from autoopt.compress.quantize._config import QUANT_TYPES, QuantizeConfig

__all__ = ["quiet", "static_qdq", "dynamic"]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence ONNX Runtime's quantization prints and root-logger warnings ("consider pre-processing")."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def _qtype(name: str) -> QuantType:
    return getattr(QuantType, QUANT_TYPES[name])


def static_qdq(
    fp32: str | os.PathLike[str],
    out: str | os.PathLike[str],
    cache: str | os.PathLike[str],
    config: QuantizeConfig,
    *,
    nodes_to_exclude: Sequence[str] = (),
    nodes_to_quantize: Sequence[str] = (),
) -> Path:
    """QDQ static quantization of ``fp32`` with the ranges saved in ``cache`` (no calibration here)."""
    with quiet():
        ort_quantize_static(
            str(fp32),
            str(out),
            calibration_data_reader=None,
            quant_format=QuantFormat.QDQ,
            per_channel=config.per_channel,
            reduce_range=config.reduce_range,
            activation_type=_qtype(config.activation_type),
            weight_type=_qtype(config.weight_type),
            nodes_to_exclude=list(nodes_to_exclude),
            nodes_to_quantize=list(nodes_to_quantize),
            calibrate_method=METHODS[config.calibration],
            calibration_cache_path=str(cache),
        )
    return Path(out)


def dynamic(
    fp32: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: QuantizeConfig,
    *,
    nodes_to_exclude: Sequence[str] = (),
) -> Path:
    """Dynamic quantization: int8 weights, activation ranges computed at run time."""
    with quiet():
        ort_quantize_dynamic(
            str(fp32),
            str(out),
            per_channel=config.per_channel,
            reduce_range=config.reduce_range,
            weight_type=_qtype(config.weight_type),
            nodes_to_exclude=list(nodes_to_exclude),
        )
    return Path(out)
