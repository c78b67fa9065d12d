"""Dynamic INT8 quantization of an ONNX model: int8 weights, activation ranges computed at run time."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import onnx

from autoopt.compress.prune import CompressionError
from autoopt.compress.quantize._config import QuantizeConfig, coerce_quantize_config
from autoopt.compress.quantize._ort import dynamic
from autoopt.compress.quantize._report import QuantizeReport, QuantizeResult, measure_pair
from autoopt.compress.quantize._static import _preprocess, check_onnx_path, resolve_exclude
from autoopt.data import DataBundle
from autoopt.exceptions import InvalidSpecError

__all__ = ["quantize_dynamic", "conv_heavy"]


def conv_heavy(proto: onnx.ModelProto) -> bool:
    """Whether convolutions are at least half of the weighted layers (dynamic quantization is slow there)."""
    ops = Counter(n.op_type for n in proto.graph.node)
    convs = ops["Conv"] + ops["ConvTranspose"]
    return convs > 0 and convs >= ops["MatMul"] + ops["Gemm"]


def quantize_dynamic(
    onnx_in: str | os.PathLike[str],
    onnx_out: str | os.PathLike[str],
    config: QuantizeConfig | dict[str, Any] | None = None,
    *,
    eval_data: DataBundle | None = None,
    threads: int | None = 1,
    batch_sizes: tuple[int, ...] = (1, 64),
) -> QuantizeResult:
    """Dynamic INT8 quantization: weights stored as int8, activations quantized per call.

    No calibration data is needed. It suits MatMul-heavy models (transformers, MLPs, LSTMs); a
    CNN's convolutions become ``ConvInteger`` behind a ``DynamicQuantizeLinear`` of every activation,
    which ONNX Runtime runs much slower than the fp32 convolution (several times, measured on a
    digits ResNet): conv-heavy models get a warning and a note, and the report shows the latency
    as measured.

    Args:
        onnx_in: the fp32 ``.onnx``.
        onnx_out: where to write the quantized ``.onnx``.
        config: a :class:`QuantizeConfig` or a dict (``weight_type``, ``per_channel``,
            ``reduce_range``, ``exclude``, ``max_accuracy_drop`` are used).
        eval_data: data to measure accuracy on (its ``test`` split); ``None``: not measured.
        threads: intra-op threads of evaluation and latency sessions.
        batch_sizes: batch sizes timed by :func:`autoopt.evaluate.measure_latency`.

    Raises:
        InvalidSpecError: bad config, missing file or unknown ``exclude`` name.
        CompressionError: ONNX Runtime cannot quantize the model.

    Example:
        >>> res = quantize_dynamic("model.onnx", "model.dyn.onnx", eval_data=data)  # doctest: +SKIP
        >>> res.report.speedup(1)  # doctest: +SKIP
        0.21
    """
    cfg = coerce_quantize_config(config, mode="dynamic")
    src = check_onnx_path(onnx_in)
    out = Path(onnx_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = QuantizeReport(
        mode="dynamic",
        calibration=None,
        activation_type="uint8",  # DynamicQuantizeLinear always produces uint8
        weight_type=cfg.weight_type,
        per_channel=cfg.per_channel,
        calibration_samples=None,
        fp32_path=str(src),
        int8_path=str(out),
        max_accuracy_drop=cfg.max_accuracy_drop,
    )
    proto = onnx.load(str(src), load_external_data=False)
    if conv_heavy(proto):
        msg = (
            "dynamic quantization of a conv-heavy model: ONNX Runtime runs ConvInteger with per-call "
            "activation quantization, usually slower than fp32; prefer compress.quantize.mode: static"
        )
        warnings.warn(msg, stacklevel=2)
        report.notes.append(msg)
    with tempfile.TemporaryDirectory(prefix=".autoopt-quant-", dir=out.parent) as tmp:
        pre = _preprocess(src, Path(tmp) / "pre.onnx", report.notes)
        report.excluded = resolve_exclude(onnx.load(str(pre), load_external_data=False), cfg.exclude)
        try:
            staged = dynamic(pre, Path(tmp) / "int8.onnx", cfg, nodes_to_exclude=report.excluded)
        except InvalidSpecError:
            raise
        except Exception as exc:  # onnxruntime raises many error types
            raise CompressionError(f"{src}: ONNX Runtime dynamic quantization failed: {exc}") from exc
        os.replace(staged, out)
    measure_pair(report, eval_data, threads=threads, batch_sizes=batch_sizes)
    if report.collapsed:
        report.notes.append(
            "collapsed: the per-layer sensitivity pass runs for static quantization; try mode: static "
            "or exclude the first/last layers"
        )
    return QuantizeResult(out, src, report)
