"""Post-training static INT8 quantization of an ONNX model (QDQ, calibrated on real samples)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import onnx
from onnxruntime.quantization.shape_inference import quant_pre_process

from autoopt.compress.prune import CompressionError
from autoopt.compress.quantize._calibration import calibrate, calibration_inputs, write_calibration_cache
from autoopt.compress.quantize._config import QuantizeConfig, coerce_quantize_config
from autoopt.compress.quantize._ort import quiet, static_qdq
from autoopt.compress.quantize._report import QuantizeReport, QuantizeResult, layer_names, measure_pair
from autoopt.compress.quantize._sensitivity import keep_float, layer_sensitivity
from autoopt.data import DataBundle
from autoopt.exceptions import InvalidSpecError

__all__ = ["quantize_static", "resolve_exclude", "check_onnx_path"]


def check_onnx_path(path: str | os.PathLike[str], what: str = "onnx_in") -> Path:
    """``path`` as a ``Path`` when it is an existing ``.onnx`` file; ``InvalidSpecError`` otherwise."""
    p = Path(path)
    if not p.is_file() or p.suffix != ".onnx":
        raise InvalidSpecError(f"{what}: expected an existing .onnx file; got {str(p)!r}")
    return p


def resolve_exclude(proto: onnx.ModelProto, exclude: list[str]) -> list[str]:
    """ONNX node names of ``exclude`` (node names or layer names such as ``stem.0``).

    Raises:
        InvalidSpecError: a name matches no node or layer; names ``compress.quantize.exclude``.
    """
    layers = layer_names(proto)
    by_layer = {layer: node for node, layer in layers.items()}
    nodes = {n.name for n in proto.graph.node}
    out, unknown = [], []
    for name in exclude:
        if name in nodes:
            out.append(name)
        elif name in by_layer:
            out.append(by_layer[name])
        else:
            unknown.append(name)
    if unknown:
        known = ", ".join(f"{layer} ({node})" for node, layer in layers.items())
        raise InvalidSpecError(
            f"compress.quantize.exclude: unknown node or layer {', '.join(map(repr, unknown))}; "
            f"expected ONNX node names or these layers: {known}"
        )
    return out


def _preprocess(src: Path, dst: Path, notes: list[str]) -> Path:
    """``quant_pre_process`` (shape inference and ORT's graph optimizations); the input on failure."""
    try:
        with quiet():
            quant_pre_process(str(src), str(dst), skip_symbolic_shape=False)
        return dst
    except Exception as exc:  # onnxruntime raises many error types here
        notes.append(f"quant_pre_process failed ({type(exc).__name__}: {exc}); quantized the model as is")
        return src


def quantize_static(
    onnx_in: str | os.PathLike[str],
    onnx_out: str | os.PathLike[str],
    calibration_data: Any,
    config: QuantizeConfig | dict[str, Any] | None = None,
    *,
    eval_data: DataBundle | None = None,
    threads: int | None = 1,
    batch_sizes: tuple[int, ...] = (1, 64),
) -> QuantizeResult:
    """Post-training static INT8 quantization (QDQ) for ONNX Runtime, calibrated on real samples.

    The fp32 model is pre-processed (``quant_pre_process``: shape inference, graph optimization),
    run over ``config.calibration_samples`` real samples to calibrate every activation range with
    ``config.calibration`` (see :mod:`autoopt.compress.quantize._calibration` for why autoopt runs
    the calibrator itself), then quantized: weights per channel, ``uint8`` activations and ``int8``
    weights by default. The report compares the quantized file with ``onnx_in``: accuracy (when
    data is given), size and latency. A drop above ``config.max_accuracy_drop`` sets
    ``report.collapsed`` and ranks layers by how much quantizing each one alone costs.

    Args:
        onnx_in: the fp32 ``.onnx`` (e.g. from :func:`autoopt.export.export_onnx`).
        onnx_out: where to write the quantized ``.onnx``.
        calibration_data: a :class:`DataBundle` (its training split), a dataset, or input
            tensors/arrays (or a list of batches).
        config: a :class:`QuantizeConfig` or a dict of ``compress.quantize`` keys.
        eval_data: data to measure accuracy on (its ``test`` split); defaults to
            ``calibration_data`` when that is a :class:`DataBundle`.
        threads: intra-op threads of evaluation and latency sessions.
        batch_sizes: batch sizes timed by :func:`autoopt.evaluate.measure_latency` (``()``: none).

    Raises:
        InvalidSpecError: bad config, missing file, an unknown ``exclude`` name, or fewer real samples
            than ``min_calibration_samples`` (names ``compress.quantize.calibration_samples``).
        CompressionError: ONNX Runtime cannot quantize the model.

    Example:
        >>> res = quantize_static("final/model.onnx", "final/model.int8.onnx", data,
        ...                       {"calibration": "entropy"})  # doctest: +SKIP
        >>> res.report.summary()  # doctest: +SKIP
        'static entropy uint8/int8: accuracy 0.9500 -> 0.9467 (-0.33 pt), size 90364 -> 25021 B (3.61x), ...'
    """
    cfg = coerce_quantize_config(config, mode="static")
    src = check_onnx_path(onnx_in)
    out = Path(onnx_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if eval_data is None and isinstance(calibration_data, DataBundle):
        eval_data = calibration_data
    inputs = calibration_inputs(calibration_data, cfg)
    report = QuantizeReport(
        mode="static",
        calibration=cfg.calibration,
        activation_type=cfg.activation_type,
        weight_type=cfg.weight_type,
        per_channel=cfg.per_channel,
        calibration_samples=len(inputs),
        fp32_path=str(src),
        int8_path=str(out),
        max_accuracy_drop=cfg.max_accuracy_drop,
    )
    with tempfile.TemporaryDirectory(prefix=".autoopt-quant-", dir=out.parent) as tmp:
        pre = _preprocess(src, Path(tmp) / "pre.onnx", report.notes)
        report.excluded = resolve_exclude(onnx.load(str(pre), load_external_data=False), cfg.exclude)
        try:
            cache = write_calibration_cache(calibrate(pre, inputs, cfg), Path(tmp) / "calibration.json")
            staged = static_qdq(pre, Path(tmp) / "int8.onnx", cache, cfg, nodes_to_exclude=report.excluded)
        except (InvalidSpecError, CompressionError):
            raise
        except Exception as exc:  # onnxruntime raises many error types
            raise CompressionError(f"{src}: ONNX Runtime static quantization failed: {exc}") from exc
        os.replace(staged, out)
        measure_pair(report, eval_data, threads=threads, batch_sizes=batch_sizes)
        if report.collapsed and cfg.sensitivity and eval_data is not None:
            report.sensitivity = layer_sensitivity(pre, cache, eval_data, cfg, threads=threads)
            report.keep_float = keep_float(report.sensitivity, cfg.max_accuracy_drop)
    return QuantizeResult(out, src, report)
