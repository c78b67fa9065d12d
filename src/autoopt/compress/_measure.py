"""One row per measured model: accuracy of the ONNX file itself, size, and latency from the one harness.

Every compressed model -- a plan step, a candidate plan, a searched plan -- is measured by
:class:`Meter` the same way: :func:`autoopt.evaluate.evaluate_artifact` on the test split and
:func:`autoopt.evaluate.measure_latency` (ONNX Runtime, fixed threads) at each batch size.
:meth:`Meter.compare` times two files in interleaved rounds, for the decisions (is the INT8 model
really faster than its fp32 source?) that must not hang on one noisy measurement.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from autoopt.data import DataBundle
from autoopt.evaluate import evaluate_artifact, measure_latency, settings_line

__all__ = ["StepRow", "Meter", "score_key", "TABLE_HEADER", "format_rows"]


@dataclass
class StepRow:
    """One row of the compression table."""

    step: str
    accuracy: float | None
    accuracy_drop_pp: float | None
    params: int
    macs: int
    size_bytes: int
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    speedup: dict[str, float] = field(default_factory=dict)
    path: str = ""
    note: str = ""
    flagged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def p50(self, batch: int = 1) -> float | None:
        """Median latency (ms) at ``batch``; ``None`` when it was not measured."""
        return self.latency_ms.get(str(batch), {}).get("p50")


def score_key(data: DataBundle) -> str:
    return data.meta.kind.score_metric


class Meter:
    """Measures artifacts the same way for every row (the first row measured is the baseline).

    Args:
        data: its test split gives the accuracy column.
        batch_sizes: batch sizes of the latency columns.
        repeats: timed runs per batch size.
        threads: ONNX Runtime intra-op threads.
    """

    def __init__(self, data: DataBundle, batch_sizes: list[int], repeats: int, threads: int) -> None:
        self.data, self.batch_sizes, self.repeats, self.threads = data, batch_sizes, repeats, threads
        self.key = score_key(data)
        self.baseline: StepRow | None = None
        #: the settings of the ONNX Runtime measurements (the first row's), with a printable ``line``.
        self.settings: dict[str, Any] = {}

    def row(self, name: str, onnx_path: Path, params: int, macs: int, note: str = "") -> StepRow:
        scores = evaluate_artifact(onnx_path, self.data, threads=self.threads)
        lat = measure_latency(
            onnx_path, batch_sizes=self.batch_sizes, repeats=self.repeats, threads=self.threads
        )
        if not self.settings:
            self.settings = {**lat.settings, "line": settings_line(lat.settings)}
        return self._row(name, scores, lat, params, macs, str(onnx_path), note)

    def reference(self, model: nn.Module, input_shape: tuple[int, ...], params: int, macs: int) -> StepRow:
        """The PyTorch eager row of ``model`` (same threads and batch sizes), for latency only: its
        accuracy column repeats the fp32 ONNX baseline's (the same weights)."""
        scores = {self.key: self.baseline.accuracy if self.baseline is not None else None}
        lat = measure_latency(
            model.eval(),
            input_shape,
            batch_sizes=self.batch_sizes,
            repeats=self.repeats,
            threads=self.threads,
        )
        row = self._row(
            "PyTorch eager fp32 (reference)", scores, lat, params, macs, "", settings_line(lat.settings)
        )
        row.size_bytes = 0
        return row

    def _row(
        self, name: str, scores: dict[str, Any], lat: Any, params: int, macs: int, path: str, note: str
    ) -> StepRow:
        latency = {str(r.batch_size): {"p50": r.p50_ms, "p95": r.p95_ms} for r in lat.rows}
        score = scores.get(self.key)
        drop = None
        if self.baseline is not None and score is not None and self.baseline.accuracy is not None:
            sign = 1.0 if self.key == "accuracy" else -1.0
            drop = round(sign * (self.baseline.accuracy - score) * (100 if self.key == "accuracy" else 1), 3)
        speedup = {}
        if self.baseline is not None:
            for b, v in latency.items():
                base = self.baseline.latency_ms.get(b, {}).get("p50")
                if base and v["p50"] > 0:
                    speedup[b] = round(base / v["p50"], 2)
        size = int(scores.get("size_bytes") or 0)
        return StepRow(name, score, drop, params, macs, size, latency, speedup, path, note)

    def compare(self, first: Path, second: Path, rounds: int = 3) -> tuple[float, float]:
        """Batch-1 p50 latency (ms) of two files, timed in ``rounds`` interleaved rounds (medians)."""
        a: list[float] = []
        b: list[float] = []
        for _ in range(rounds):
            for path, out in ((first, a), (second, b)):
                rep = measure_latency(path, batch_sizes=[1], repeats=self.repeats, threads=self.threads)
                out.append(rep.row(1).p50_ms)
        return statistics.median(a), statistics.median(b)


def format_rows(rows: Sequence[StepRow]) -> list[list[str]]:
    """Rows as strings, for terminal and markdown tables."""
    out = []
    for r in rows:
        lat = r.latency_ms
        out.append(
            [
                r.step,
                "-" if r.accuracy is None else f"{r.accuracy:.4f}",
                "-" if r.accuracy_drop_pp is None else f"{r.accuracy_drop_pp:+.2f}",
                f"{r.params:,}",
                f"{r.macs:,}",
                f"{r.size_bytes / 1024:.1f} KiB" if r.size_bytes else "-",
                *[_p50_p95(lat.get(b, {})) for b in ("1", "64")],
                *[f"{r.speedup.get(b, 1.0):.2f}x" for b in ("1", "64")],
                ("FLAGGED " if r.flagged else "") + r.note,
            ]
        )
    return out


def _p50_p95(v: Mapping[str, float]) -> str:
    return f"{v.get('p50', float('nan')):.3f} / {v.get('p95', float('nan')):.3f}"


#: The columns of the compression table, in the terminal (``autoopt compress``) and in the HTML report.
TABLE_HEADER = [
    "step",
    "accuracy",
    "drop (pp)",
    "params",
    "MACs",
    "size",
    "b1 p50 / p95 ms",
    "b64 p50 / p95 ms",
    "speed-up b1",
    "speed-up b64",
    "note",
]
