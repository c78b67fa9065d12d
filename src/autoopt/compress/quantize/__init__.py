"""Quantization: INT8 ONNX models for ONNX Runtime (static, dynamic, QAT) and fp16/bf16 casting.

- :func:`quantize_static`: post-training QDQ quantization calibrated on real samples (``minmax``,
  ``entropy``, ``percentile``), per-channel int8 weights and uint8 activations by default.
- :func:`quantize_dynamic`: int8 weights, activations quantized per call (MatMul-heavy models;
  slow for CNNs, which get a warning).
- :func:`quantize_qat`: quantization-aware fine-tuning with torchao's PT2E flow, exported to ONNX.
- :func:`quantize` / :func:`quantize_onnx`: one entry for a spec's ``compress.quantize`` section
  (``mode``), from a torch model / from an fp32 ``.onnx`` (the compression plan's step).
- :func:`to_precision`: a torch model in fp16/bf16.

Every result carries a :class:`QuantizeReport` measured on the real files: accuracy of the
quantized ONNX model (``autoopt.evaluate.evaluate_artifact``), sizes, latency
(``autoopt.evaluate.measure_latency``), and, when accuracy drops by more than
``max_accuracy_drop``, ``collapsed`` with a per-layer sensitivity list.

Example:
    >>> from autoopt.compress.quantize import QuantizeConfig, quantize_static
    >>> res = quantize_static("final/model.onnx", "final/model.int8.onnx", data,
    ...                       QuantizeConfig(calibration="percentile"))  # doctest: +SKIP
    >>> res.report.size_ratio, res.report.accuracy_drop, res.report.speedup(64)  # doctest: +SKIP
    (3.9, 0.0, 2.1)
"""

from __future__ import annotations

from autoopt.compress.prune import CompressionError
from autoopt.compress.quantize._api import quantize, quantize_onnx
from autoopt.compress.quantize._calibration import (
    METHODS,
    ArrayReader,
    calibrate,
    calibrated_ranges,
    calibration_inputs,
)
from autoopt.compress.quantize._config import QuantizeConfig, coerce_quantize_config
from autoopt.compress.quantize._dynamic import conv_heavy, quantize_dynamic
from autoopt.compress.quantize._precision import DTYPES, HalfPrecision, to_precision
from autoopt.compress.quantize._qat import prepare_qat, quantize_qat
from autoopt.compress.quantize._report import LayerSensitivity, QuantizeReport, QuantizeResult, quantized_ops
from autoopt.compress.quantize._sensitivity import keep_float, layer_sensitivity
from autoopt.compress.quantize._static import quantize_static

__all__ = [
    "DTYPES",
    "METHODS",
    "ArrayReader",
    "CompressionError",
    "HalfPrecision",
    "LayerSensitivity",
    "QuantizeConfig",
    "QuantizeReport",
    "QuantizeResult",
    "calibrate",
    "calibrated_ranges",
    "calibration_inputs",
    "coerce_quantize_config",
    "conv_heavy",
    "keep_float",
    "layer_sensitivity",
    "prepare_qat",
    "quantize",
    "quantize_dynamic",
    "quantize_onnx",
    "quantize_qat",
    "quantize_static",
    "quantized_ops",
    "to_precision",
]
