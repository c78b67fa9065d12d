"""What a quantization step did, measured on the real ONNX files: ``QuantizeReport``/``QuantizeResult``.

Accuracy comes from :func:`autoopt.evaluate.evaluate_artifact` on the quantized ``.onnx`` itself,
sizes count every file the model needs, latency comes from :func:`autoopt.evaluate.measure_latency`:
never a simulation.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import onnx
from onnx import numpy_helper

from autoopt.data import DataBundle
from autoopt.evaluate import evaluate_artifact, measure_latency, onnx_files

__all__ = ["LayerSensitivity", "QuantizeReport", "QuantizeResult", "measure_pair", "quantized_ops"]

#: ops that carry weights: the layers a report counts and a sensitivity pass tries one by one.
WEIGHTED_OPS = ("Conv", "Gemm", "MatMul", "ConvTranspose")
_INTEGER_OPS = {
    "ConvInteger": "Conv",
    "MatMulInteger": "MatMul",
    "QLinearConv": "Conv",
    "QLinearMatMul": "MatMul",
}


@dataclass
class LayerSensitivity:
    """The accuracy cost of quantizing one layer alone (every other layer in float).

    Attributes:
        node: the ONNX node name (what ``exclude`` / ``nodes_to_exclude`` take).
        layer: the torch layer name read from the weight (``stem.0``), or the node name.
        op_type: ``Conv``, ``Gemm``, ...
        accuracy: accuracy with only this layer quantized.
        drop: percentage points lost against the fp32 model.
    """

    node: str
    layer: str
    op_type: str
    accuracy: float
    drop: float


@dataclass
class QuantizeReport:
    """Accuracy, size and latency of the fp32 and the quantized ONNX model, and how it was quantized.

    Attributes:
        mode: ``static``, ``dynamic`` or ``qat``.
        calibration: the calibration method (``None`` for dynamic).
        activation_type / weight_type / per_channel: the quantization scheme.
        calibration_samples: real samples calibrated on (``None`` for dynamic).
        fp32_path / int8_path: the compared files.
        split: the data split accuracy was measured on.
        accuracy_fp32 / accuracy_int8: of the ONNX files on ``split`` (``None`` without data or for
            regression).
        accuracy_drop: ``accuracy_fp32 - accuracy_int8`` in percentage points.
        size_bytes_fp32 / size_bytes_int8: every file each model needs.
        weight_bytes_fp32 / weight_bytes_int8: bytes of the initializers alone (the exporter's
            per-node metadata, e.g. stack traces, can outweigh the weights of a tiny model).
        latency_fp32 / latency_int8: ``LatencyReport.to_dict()`` of each (``batches: {"1": {p50_ms,
            p95_ms, ...}, "64": ...}``).
        quantized_ops: ``{op_type: [quantized, total]}`` of the weighted layers.
        excluded: nodes kept in float on purpose.
        max_accuracy_drop: the collapse threshold (percentage points).
        collapsed: ``accuracy_drop > max_accuracy_drop``.
        sensitivity: with ``collapsed``, one entry per weighted layer, worst first.
        keep_float: with ``collapsed``, the layers to exclude (``exclude``), worst first.
        qat: the QAT fine-tuning record (epochs, lr, validation metrics) for ``mode: qat``.
        notes: anything else worth knowing (warnings, fallbacks).
    """

    mode: str
    calibration: str | None
    activation_type: str
    weight_type: str
    per_channel: bool
    calibration_samples: int | None
    fp32_path: str
    int8_path: str
    split: str = "test"
    accuracy_fp32: float | None = None
    accuracy_int8: float | None = None
    accuracy_drop: float | None = None
    size_bytes_fp32: int = 0
    size_bytes_int8: int = 0
    weight_bytes_fp32: int = 0
    weight_bytes_int8: int = 0
    latency_fp32: dict[str, Any] = field(default_factory=dict)
    latency_int8: dict[str, Any] = field(default_factory=dict)
    quantized_ops: dict[str, list[int]] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)
    max_accuracy_drop: float = 1.0
    collapsed: bool = False
    sensitivity: list[LayerSensitivity] = field(default_factory=list)
    keep_float: list[str] = field(default_factory=list)
    qat: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def size_ratio(self) -> float:
        """``size_bytes_fp32 / size_bytes_int8`` (about 4 when weights dominate)."""
        return self.size_bytes_fp32 / self.size_bytes_int8 if self.size_bytes_int8 else 0.0

    def p50_ms(self, which: str, batch_size: int) -> float | None:
        """The p50 latency of ``which`` (``fp32``/``int8``) at ``batch_size``, if measured."""
        lat = self.latency_fp32 if which == "fp32" else self.latency_int8
        row = lat.get("batches", {}).get(str(batch_size))
        return None if row is None else float(row["p50_ms"])

    @property
    def weight_ratio(self) -> float:
        """``weight_bytes_fp32 / weight_bytes_int8``."""
        return self.weight_bytes_fp32 / self.weight_bytes_int8 if self.weight_bytes_int8 else 0.0

    def speedup(self, batch_size: int) -> float | None:
        """fp32 p50 / int8 p50 at ``batch_size`` (below 1: the quantized model is slower)."""
        a, b = self.p50_ms("fp32", batch_size), self.p50_ms("int8", batch_size)
        return a / b if a is not None and b else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for ``metrics.json``), with ``size_ratio`` and ``speedup`` per batch size."""
        out = asdict(self)
        out["size_ratio"] = self.size_ratio
        out["weight_ratio"] = self.weight_ratio
        out["speedup"] = {k: self.speedup(int(k)) for k in self.latency_fp32.get("batches", {})}
        return out

    def summary(self) -> str:
        """One line: ``static minmax uint8/int8: accuracy 0.95 -> 0.94 (-1.0 pt), size 4.0x, ...``."""
        head = f"{self.mode} {self.calibration or ''} {self.activation_type}/{self.weight_type}".replace(
            "  ", " "
        )
        parts = [head + ":"]
        if self.accuracy_int8 is not None and self.accuracy_fp32 is not None:
            change = -(self.accuracy_drop or 0.0)
            parts.append(f"accuracy {self.accuracy_fp32:.4f} -> {self.accuracy_int8:.4f} ({change:+.2f} pt),")
        parts.append(f"size {self.size_bytes_fp32} -> {self.size_bytes_int8} B ({self.size_ratio:.2f}x)")
        for b in self.latency_fp32.get("batches", {}):
            s = self.speedup(int(b))
            if s is not None:
                parts.append(f", batch {b} speed-up {s:.2f}x")
        if self.collapsed:
            parts.append(f"; COLLAPSED (keep in float: {', '.join(self.keep_float) or '?'})")
        return " ".join(parts).replace(" ,", ",")


@dataclass
class QuantizeResult:
    """The quantized ONNX file and its report.

    Attributes:
        path: the quantized ``.onnx``.
        fp32_path: the fp32 ``.onnx`` it is compared with.
        report: the :class:`QuantizeReport`.
    """

    path: Path
    fp32_path: Path
    report: QuantizeReport


def layer_names(proto: onnx.ModelProto) -> dict[str, str]:
    """``{node name: layer name}`` of weighted nodes: ``stem.0.weight`` -> ``stem.0``."""
    inits = {t.name for t in proto.graph.initializer}
    names = {}
    for node in proto.graph.node:
        if node.op_type in WEIGHTED_OPS:
            weight = next((i for i in node.input[1:] if i in inits), None)
            names[node.name] = weight.removesuffix(".weight") if weight else node.name
    return names


def quantized_ops(fp32: onnx.ModelProto, int8: onnx.ModelProto) -> dict[str, list[int]]:
    """``{op_type: [quantized, total]}`` of the weighted layers.

    A layer counts as quantized when its weight enters through a ``DequantizeLinear`` (QDQ), or
    when it became an integer op (``ConvInteger``, ``MatMulInteger``, ``QLinearConv``, ...).
    """
    total = Counter(n.op_type for n in fp32.graph.node if n.op_type in WEIGHTED_OPS)
    produced_by = {o: n.op_type for n in int8.graph.node for o in n.output}
    done: Counter[str] = Counter()
    for node in int8.graph.node:
        if node.op_type in _INTEGER_OPS:
            done[_INTEGER_OPS[node.op_type]] += 1
        elif node.op_type in WEIGHTED_OPS and len(node.input) > 1:
            if produced_by.get(node.input[1]) == "DequantizeLinear":
                done[node.op_type] += 1
    return {op: [min(done[op], n), n] for op, n in sorted(total.items())}


def _weight_bytes(proto: onnx.ModelProto) -> int:
    return int(sum(numpy_helper.to_array(t).nbytes for t in proto.graph.initializer))


def _size(path: str | os.PathLike[str]) -> int:
    return sum(p.stat().st_size for p in onnx_files(path))


def measure_pair(
    report: QuantizeReport,
    data: DataBundle | None,
    *,
    split: str = "test",
    threads: int | None = 1,
    batch_sizes: tuple[int, ...] = (1, 64),
) -> QuantizeReport:
    """Fill ``report``'s accuracy, sizes, latencies, quantized ops and ``collapsed`` from its two files."""
    fp32, int8 = report.fp32_path, report.int8_path
    report.size_bytes_fp32, report.size_bytes_int8 = _size(fp32), _size(int8)
    fp32_proto, int8_proto = onnx.load(fp32), onnx.load(int8)
    report.quantized_ops = quantized_ops(fp32_proto, int8_proto)
    report.weight_bytes_fp32, report.weight_bytes_int8 = _weight_bytes(fp32_proto), _weight_bytes(int8_proto)
    report.split = split
    if data is not None and data.meta.kind.has_classes:
        report.accuracy_fp32 = float(evaluate_artifact(fp32, data, split=split, threads=threads)["accuracy"])
        report.accuracy_int8 = float(evaluate_artifact(int8, data, split=split, threads=threads)["accuracy"])
        report.accuracy_drop = round(100.0 * (report.accuracy_fp32 - report.accuracy_int8), 4)
        report.collapsed = report.accuracy_drop > report.max_accuracy_drop
    elif data is None:
        report.notes.append("no evaluation data given: accuracy not measured, collapse not checked")
    else:
        report.notes.append(
            f"task {data.meta.task!r}: accuracy and the collapse check apply to kinds with classes"
        )
    if batch_sizes:
        report.latency_fp32 = measure_latency(fp32, batch_sizes=batch_sizes, threads=threads).to_dict()
        report.latency_int8 = measure_latency(int8, batch_sizes=batch_sizes, threads=threads).to_dict()
    return report
