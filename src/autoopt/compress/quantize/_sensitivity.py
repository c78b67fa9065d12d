"""Per-layer sensitivity: quantize one weighted layer at a time, measure, rank worst first.

Run when a quantized model collapses (loses more than ``max_accuracy_drop``). Calibrated ranges are
computed once and reused (ONNX Runtime's calibration cache), so each layer costs one quantizer
pass and one evaluation, not one calibration.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import onnx

from autoopt.compress.quantize._config import QuantizeConfig
from autoopt.compress.quantize._ort import static_qdq
from autoopt.compress.quantize._report import LayerSensitivity, layer_names
from autoopt.data import DataBundle
from autoopt.evaluate import evaluate_artifact

__all__ = ["layer_sensitivity", "keep_float"]


def layer_sensitivity(
    fp32: str | os.PathLike[str],
    cache: str | os.PathLike[str],
    data: DataBundle,
    config: QuantizeConfig,
    *,
    split: str = "val",
    threads: int | None = 1,
) -> list[LayerSensitivity]:
    """Accuracy with only one weighted layer quantized, for each layer, worst first.

    Args:
        fp32: the fp32 model the ranges in ``cache`` belong to.
        cache: ONNX Runtime calibration cache (see ``write_calibration_cache``).
        data: evaluation data.
        config: the quantization scheme (types, per-channel, calibration method).
        split: the split measured (``val``: choosing what to keep in float on the test split
            would leak it).
        threads: intra-op threads of the evaluation sessions.

    Example:
        >>> layer_sensitivity("pre.onnx", "calib.json", data, QuantizeConfig())[0].layer  # doctest: +SKIP
        'body.0.0'
    """
    names = layer_names(onnx.load(str(fp32), load_external_data=False))
    reference = float(evaluate_artifact(fp32, data, split=split, threads=threads)["accuracy"])
    ops = {n.name: n.op_type for n in onnx.load(str(fp32), load_external_data=False).graph.node}
    out: list[LayerSensitivity] = []
    with tempfile.TemporaryDirectory(prefix="autoopt-sens-") as tmp:
        for i, (node, layer) in enumerate(names.items()):
            path = static_qdq(fp32, Path(tmp) / f"layer{i}.onnx", cache, config, nodes_to_quantize=[node])
            acc = float(evaluate_artifact(path, data, split=split, threads=threads)["accuracy"])
            out.append(LayerSensitivity(node, layer, ops[node], acc, round(100.0 * (reference - acc), 4)))
    return sorted(out, key=lambda s: -s.drop)


def keep_float(sensitivity: list[LayerSensitivity], max_drop: float) -> list[str]:
    """Layers to keep in float: every layer that alone loses more than ``max_drop`` points, or else
    the single worst one (the loss then comes from errors adding up across layers)."""
    bad = [s.layer for s in sensitivity if s.drop > max(max_drop, 0.0)]
    return bad or [s.layer for s in sensitivity[:1]]
