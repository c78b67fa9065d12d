"""Evaluation: metrics of any artifact, and autoopt's one latency harness.

Artifacts are a torch ``nn.Module``, a ``torch.export`` program (``.pt2``), an ONNX model (``.onnx``,
fp32 or quantized), a safetensors checkpoint (rebuilt from the ``model.json`` of its model dir or from
its tune run dir), a model dir or a run dir. All run through one small runner interface
(:func:`make_runner`), so batched inference (:func:`predict`, :func:`evaluate_artifact`) and timing
(:func:`measure_latency`, in ``autoopt/evaluate/latency.py``) are implemented once for every backend.

Example:
    >>> from autoopt.data import load_data
    >>> from autoopt.evaluate import evaluate_artifact, measure_latency
    >>> data = load_data({"name": "digits", "limit": 300})
    >>> evaluate_artifact("runs/tiny/final/model.onnx", data)  # doctest: +SKIP
    {'loss': 0.31, 'accuracy': 0.93, ..., 'samples': 45, 'size_bytes': 10363, 'format': 'onnx'}
    >>> measure_latency("runs/tiny/final/model.onnx", batch_sizes=[1, 64]).row(1).p50_ms  # doctest: +SKIP
    0.021
"""

from __future__ import annotations

from autoopt.evaluate._artifacts import CARD_FILE, Artifact, LoadedRun, load_artifact, load_run, onnx_files
from autoopt.evaluate._candidates import (
    Candidate,
    GuardConfig,
    ShipDecision,
    choose,
    fingerprint_file,
    flag_slower_than_source,
    measure_latencies,
)
from autoopt.evaluate._cpu import cpu_flags, vector_width
from autoopt.evaluate._evaluate import SPLITS, evaluate_artifact
from autoopt.evaluate._memory import PeakMemory
from autoopt.evaluate._predict import evaluate_runner, predict, score, stack_inputs
from autoopt.evaluate._runners import BACKENDS, OnnxRunner, Runner, TorchRunner, make_runner, onnx_session
from autoopt.evaluate.latency import (
    LatencyReport,
    LatencyRow,
    measure_latency,
    runner_settings,
    settings_line,
)

__all__ = [
    "BACKENDS",
    "CARD_FILE",
    "Candidate",
    "GuardConfig",
    "ShipDecision",
    "choose",
    "fingerprint_file",
    "flag_slower_than_source",
    "measure_latencies",
    "SPLITS",
    "Artifact",
    "LatencyReport",
    "LatencyRow",
    "LoadedRun",
    "OnnxRunner",
    "PeakMemory",
    "Runner",
    "TorchRunner",
    "cpu_flags",
    "evaluate_artifact",
    "evaluate_runner",
    "load_artifact",
    "load_run",
    "make_runner",
    "measure_latency",
    "onnx_files",
    "onnx_session",
    "predict",
    "runner_settings",
    "score",
    "settings_line",
    "stack_inputs",
    "vector_width",
]
