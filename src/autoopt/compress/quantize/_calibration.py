"""Calibration: real samples through the fp32 ONNX model, and the activation ranges they give.

Why autoopt runs ONNX Runtime's calibrator itself instead of letting ``quantize_static`` do it:
``quantize_static`` forwards only ``CalibTensorRangeSymmetric``, ``CalibMovingAverage(Constant)``,
``CalibMaxIntermediateOutputs`` and ``CalibPercentile`` to the calibrator, never the histogram
sizes. The entropy calibrator then keeps its defaults, ``num_bins=128`` and
``num_quantized_bins=128``, and searches thresholds ``i`` in ``range(128 // 2, 128 // 2 + 1)``:
one candidate, the whole observed range, which is exactly min-max (the "entropy model is
byte-identical to min-max" finding). Here the calibrator gets ``histogram_bins`` bins
(``histogram_bins / 2 - 127`` candidate thresholds) and 256 quantized bins (8 bits over the
symmetric histogram), and the ranges reach ``quantize_static`` through its calibration cache.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod
from onnxruntime.quantization.calibrate import TensorsData, create_calibrator, save_tensors_data
from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

from autoopt.compress.quantize._config import QuantizeConfig
from autoopt.data import DataBundle
from autoopt.evaluate import stack_inputs
from autoopt.exceptions import InvalidSpecError

__all__ = [
    "METHODS",
    "ArrayReader",
    "calibration_inputs",
    "calibrate",
    "calibrated_ranges",
    "write_calibration_cache",
]

#: spec names of the calibration methods -> ONNX Runtime's ``CalibrationMethod``.
METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}
#: quantized bins of the entropy search over a symmetric histogram: 8 bits.
ENTROPY_QUANTIZED_BINS = 256
#: samples per calibration forward pass.
CALIBRATION_BATCH = 32


class ArrayReader(CalibrationDataReader):
    """Feeds an array to ONNX Runtime's calibrator in batches (``{input_name: batch}``)."""

    def __init__(self, inputs: np.ndarray, input_name: str, batch_size: int = CALIBRATION_BATCH) -> None:
        self.inputs, self.input_name, self.batch_size = inputs, input_name, batch_size
        self._start, self._stop, self._pos = 0, len(inputs), 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._pos >= self._stop:
            return None
        batch = self.inputs[self._pos : min(self._pos + self.batch_size, self._stop)]
        self._pos += len(batch)
        dtype = np.int64 if np.issubdtype(batch.dtype, np.integer) else np.float32  # token ids stay int64
        return {self.input_name: np.ascontiguousarray(batch, dtype=dtype)}

    def __len__(self) -> int:
        return len(self.inputs)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._start, self._stop, self._pos = start_index, min(end_index, len(self.inputs)), start_index


def calibration_inputs(source: Any, config: QuantizeConfig) -> np.ndarray:
    """Up to ``config.calibration_samples`` real inputs from ``source``, as one array (``float32``;
    ``int64`` for token ids).

    Args:
        source: a :class:`DataBundle` (its training split), a dataset yielding ``(x, y)``, or a
            tensor/array of inputs (or a list of batches of them).
        config: the quantization options.

    Raises:
        InvalidSpecError: fewer samples than ``config.min_calibration_samples``; names
            ``compress.quantize.calibration_samples``.

    Example:
        >>> from autoopt.data import load_data
        >>> x = calibration_inputs(load_data({"name": "digits", "limit": 400}), QuantizeConfig())
        >>> x.shape, x.dtype
        ((256, 1, 8, 8), dtype('float32'))
    """
    if isinstance(source, DataBundle):
        source = source.train
    if isinstance(source, (list, tuple)):
        source = np.concatenate([stack_inputs(b) for b in source]) if source else np.zeros((0,))
    n_available = len(source)  # type: ignore[arg-type]
    if n_available < config.min_calibration_samples:
        raise InvalidSpecError(
            f"compress.quantize.calibration_samples: got {n_available} calibration samples; expected at "
            f"least min_calibration_samples={config.min_calibration_samples} real training samples "
            "(pass more data, or lower compress.quantize.min_calibration_samples)"
        )
    return stack_inputs(source, limit=config.calibration_samples)


def _extra_options(config: QuantizeConfig) -> dict[str, Any]:
    if config.calibration == "entropy":
        return {"num_bins": config.histogram_bins, "num_quantized_bins": ENTROPY_QUANTIZED_BINS}
    if config.calibration == "percentile":
        return {"num_bins": config.histogram_bins, "percentile": config.percentile, "symmetric": True}
    return {}


def calibrate(onnx_path: str | os.PathLike[str], inputs: np.ndarray, config: QuantizeConfig) -> TensorsData:
    """Activation ranges of every quantizable tensor of ``onnx_path`` over ``inputs``.

    Args:
        onnx_path: the fp32 model (after ``quant_pre_process``, when it was run).
        inputs: calibration samples (:func:`calibration_inputs`).
        config: ``calibration``, ``percentile`` and ``histogram_bins`` are used.

    Returns:
        ONNX Runtime's ``TensorsData`` (``range_value`` = ``(lowest, highest)`` per tensor).
    """
    import onnx

    input_name = onnx.load(str(onnx_path), load_external_data=False).graph.input[0].name
    op_types = sorted(set(QLinearOpsRegistry) | set(QDQRegistry))
    with (
        tempfile.TemporaryDirectory(prefix="autoopt-calib-") as tmp,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        calibrator = create_calibrator(
            Path(onnx_path),
            op_types,
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=METHODS[config.calibration],
            extra_options=_extra_options(config),
        )
        calibrator.collect_data(ArrayReader(inputs, input_name))
        ranges = calibrator.compute_data()
        del calibrator
    return ranges


def calibrated_ranges(ranges: TensorsData) -> dict[str, tuple[float, float]]:
    """``{tensor: (low, high)}`` of calibrated ranges, as plain floats.

    Example:
        >>> calibrated_ranges(calibrate("model.onnx", x, QuantizeConfig()))["relu"]  # doctest: +SKIP
        (0.0, 4.73)
    """
    out = {}
    for name, data in ranges.items():
        low, high = data.range_value
        out[name] = (float(np.min(low)), float(np.max(high)))
    return out


def write_calibration_cache(ranges: TensorsData, path: str | os.PathLike[str]) -> Path:
    """Save ranges where ORT's ``quantize_static(calibration_cache_path=...)`` reads them."""
    save_tensors_data(ranges, path)
    return Path(path)
