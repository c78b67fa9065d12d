"""The one latency harness of autoopt: warm-up, N timed repeats, fixed threads, several batch sizes.

Every number autoopt reports as latency comes from :func:`measure_latency`: search objectives,
compression steps (on any ONNX file, fp32 or int8), evaluation, export's model card and benchmarks.

Method, per batch size: a seeded random ``float32`` batch is converted to the backend's input once
(outside the timed region); ``warmup`` untimed calls let allocators and kernels settle; then each of
``repeats`` calls is timed alone with ``time.perf_counter_ns``. Percentiles use numpy's linear
interpolation (so ``p50 <= p95 <= p99``); throughput is ``batch_size / mean latency``. Intra-op threads
are fixed (``torch.set_num_threads`` for torch and ``.pt2``, restored afterwards; ONNX Runtime's
``intra_op_num_threads`` at session creation), because thread count moves small-model latency by
an order of magnitude. Peak memory is the resident-set high-water mark over warm-up and repeats minus
the resident set before (see :class:`autoopt.evaluate._memory.PeakMemory`): it counts the native
buffers of torch and ONNX Runtime, which ``tracemalloc`` would miss.

Every report carries its ``settings`` (:func:`runner_settings`): for ONNX Runtime the graph
optimization level, intra-/inter-op threads, execution mode and version; for torch the thread
counts and version; for both the CPU's SIMD flags (AVX2, AVX-512, VNNI, ...). Two latencies are
only comparable when their settings match.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from autoopt.evaluate._cpu import cpu_flags
from autoopt.evaluate._memory import PeakMemory
from autoopt.evaluate._runners import OnnxRunner, Runner, make_runner
from autoopt.exceptions import InvalidSpecError
from autoopt.tasks import get_task

__all__ = ["LatencyRow", "LatencyReport", "measure_latency", "runner_settings", "settings_line"]


@dataclass
class LatencyRow:
    """Latency of one batch size (milliseconds per call) and its throughput (samples per second)."""

    batch_size: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    throughput: float
    peak_mem_mb: float


@dataclass
class LatencyReport:
    """What :func:`measure_latency` measured, with the conditions needed to compare two reports."""

    backend: str
    threads: int | None
    warmup: int
    repeats: int
    input_shape: list[int]
    memory_method: str
    rows: list[LatencyRow] = field(default_factory=list)
    machine: str = field(default_factory=lambda: f"{platform.machine()} {platform.system()}")
    settings: dict[str, Any] = field(default_factory=dict)

    def row(self, batch_size: int) -> LatencyRow:
        """The row of ``batch_size`` (``KeyError`` when it was not measured)."""
        for r in self.rows:
            if r.batch_size == batch_size:
                return r
        raise KeyError(
            f"batch size {batch_size} was not measured; measured: {[r.batch_size for r in self.rows]}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the conditions, then ``batches: {"1": {p50_ms, ...}, "64": {...}}``."""
        d = asdict(self)
        rows = d.pop("rows")
        d["batches"] = {str(r.pop("batch_size")): r for r in rows}
        return d


def runner_settings(runner: Runner, threads: int | None) -> dict[str, Any]:
    """The settings a measurement ran under (see the module docstring), JSON-ready.

    Args:
        runner: the runner that is timed.
        threads: the intra-op threads asked for (torch; ONNX Runtime reads its session's own).
    """
    import torch

    out: dict[str, Any] = {"backend": runner.backend}
    if isinstance(runner, OnnxRunner):
        import onnxruntime as ort

        opts = runner.sess.get_session_options()
        out.update(
            ort_version=ort.__version__,
            graph_optimization_level=str(opts.graph_optimization_level).rsplit(".", 1)[-1],
            intra_op_threads=opts.intra_op_num_threads or None,
            inter_op_threads=opts.inter_op_num_threads or None,
            execution_mode=str(opts.execution_mode).rsplit(".", 1)[-1],
            providers=list(runner.sess.get_providers()),
        )
    else:
        out.update(
            torch_version=torch.__version__.split("+")[0],
            mode="eager",
            intra_op_threads=threads if threads is not None else torch.get_num_threads(),
            inter_op_threads=torch.get_num_interop_threads(),
        )
    out["cpu_flags"] = list(cpu_flags())
    return out


def settings_line(settings: dict[str, Any]) -> str:
    """One line for printed tables: ``onnxruntime 1.32.0, ORT_ENABLE_ALL, 1 intra-op / 1 inter-op
    thread(s), ORT_SEQUENTIAL; CPU avx2 avx512_vnni avx512f``."""
    if not settings:
        return ""
    if "ort_version" in settings:
        intra = settings["intra_op_threads"] or "default"
        inter = settings["inter_op_threads"] or "default"
        head = (
            f"onnxruntime {settings['ort_version']}, {settings['graph_optimization_level']}, "
            f"{intra} intra-op / {inter} inter-op thread(s), {settings['execution_mode']}"
        )
    else:
        head = (
            f"torch {settings.get('torch_version')} {settings.get('mode', 'eager')}, "
            f"{settings.get('intra_op_threads')} intra-op / "
            f"{settings.get('inter_op_threads')} inter-op thread(s)"
        )
    flags = " ".join(settings.get("cpu_flags") or []) or "none detected"
    return f"{head}; CPU {flags}"


def _check(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidSpecError(f"{name}: expected an integer >= {low}; got {value!r}")


def measure_latency(
    model: Any,
    input_shape: Sequence[int] | None = None,
    *,
    batch_sizes: Sequence[int] = (1, 64),
    warmup: int = 10,
    repeats: int = 50,
    threads: int | None = 1,
    seed: int = 0,
    task: str | None = None,
) -> LatencyReport:
    """Time forward passes of a torch module, a ``.pt2`` program or an ONNX model.

    Args:
        model: an ``nn.Module``, a ``torch.export.ExportedProgram``, a ``.pt2`` or ``.onnx`` path
            (fp32 or quantized), an ``onnx.ModelProto`` or an ``onnxruntime.InferenceSession`` (whose
            own thread setting is then used).
        input_shape: the shape of one sample without the batch dimension, e.g. ``(1, 8, 8)``;
            read from the artifact when ``None`` (``.onnx``, ``.pt2``), required for an ``nn.Module``.
        batch_sizes: batch sizes to time, each separately.
        warmup: untimed calls per batch size before timing.
        repeats: timed calls per batch size.
        threads: intra-op threads (``None``: the backend's default, usually all cores).
        seed: seed of the random input batch.
        task: the task kind (``meta.task``). Float inputs are random normal; integer inputs (a kind
            whose ``input_dtype`` is an integer, or an ONNX model recording one) are the kind's
            ``example_input`` (zeros: token id 0).

    Returns:
        A :class:`LatencyReport` with one :class:`LatencyRow` per batch size.

    Raises:
        InvalidSpecError: invalid counts, an unknown input shape, or a batch size a fixed-batch ONNX
            model does not accept.

    Example:
        >>> from torch import nn
        >>> report = measure_latency(nn.Linear(4, 2), (4,), batch_sizes=[1, 8], repeats=5)
        >>> r = report.row(8)
        >>> r.p50_ms <= r.p95_ms <= r.p99_ms and r.throughput > 0
        True
    """
    _check("warmup", warmup, 0)
    _check("repeats", repeats, 1)
    if threads is not None:
        _check("threads", threads, 1)
    if not batch_sizes:
        raise InvalidSpecError("batch_sizes: expected at least one batch size; got none")
    for b in batch_sizes:
        _check("batch_sizes", b, 1)
    runner = make_runner(model, threads=threads)
    shape = tuple(input_shape) if input_shape is not None else runner.input_shape
    if shape is None:
        raise InvalidSpecError(
            f"input_shape: the {runner.backend} model does not record its input shape; pass the shape of "
            "one sample without the batch dimension, e.g. input_shape=(1, 28, 28)"
        )
    if runner.fixed_batch is not None and any(b != runner.fixed_batch for b in batch_sizes):
        raise InvalidSpecError(
            f"batch_sizes: the ONNX model only accepts batch size {runner.fixed_batch} (exported without a "
            f"dynamic batch); got {list(batch_sizes)}"
        )
    used_threads = runner.threads if isinstance(runner, OnnxRunner) else threads
    rng = np.random.default_rng(seed)
    kind = get_task(task, key="task") if task is not None else None
    integer = (
        np.issubdtype(runner.input_dtype, np.integer)
        if runner.input_dtype is not None
        else kind is not None and not kind.input_dtype.is_floating_point
    )
    report = LatencyReport(runner.backend, used_threads, warmup, repeats, list(shape), "vmhwm")
    report.settings = runner_settings(runner, threads)
    with runner.session(threads):
        for b in batch_sizes:
            if not integer:
                batch = rng.standard_normal((b, *shape), dtype=np.float32)
            elif kind is not None:
                batch = kind.example_input(shape, b).numpy()
            else:
                batch = np.zeros((b, *shape), dtype=runner.input_dtype)
            prepared = runner.prepare(batch)
            times = np.empty(repeats, dtype=np.float64)
            with PeakMemory() as mem:
                for _ in range(warmup):
                    runner.run(prepared)
                for i in range(repeats):
                    start = time.perf_counter_ns()
                    runner.run(prepared)
                    times[i] = (time.perf_counter_ns() - start) / 1e6
            p50, p95, p99 = (float(v) for v in np.percentile(times, [50, 95, 99]))
            mean = float(times.mean())
            report.rows.append(
                LatencyRow(
                    batch_size=b,
                    p50_ms=round(p50, 4),
                    p95_ms=round(p95, 4),
                    p99_ms=round(p99, 4),
                    mean_ms=round(mean, 4),
                    min_ms=round(float(times.min()), 4),
                    throughput=round(b / (mean / 1000), 1) if mean > 0 else float("inf"),
                    peak_mem_mb=round(mem.peak_mb, 2),
                )
            )
            report.memory_method = mem.method
    return report
