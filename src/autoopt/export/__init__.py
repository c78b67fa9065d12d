"""Export: ONNX (dynamic batch, parity-checked with ONNX Runtime on real data), ``.pt2``, and a model card.

Example:
    >>> from autoopt.data import load_data
    >>> from autoopt.export import export_model
    >>> from autoopt.models import build_model
    >>> data = load_data({"name": "digits", "limit": 300})
    >>> model = build_model("cnn", {"blocks": 1, "channels": 8}, data.meta)  # trained, in practice
    >>> cfg = {"blocks": 1, "channels": 8}
    >>> card = export_model(model, data, "final", name="cnn", config=cfg)  # doctest: +SKIP

From the command line: ``autoopt export RUN_DIR [--out DIR]`` (default ``RUN_DIR/final/``).

Model dir
---------
``model.onnx`` (weights inside; a model over ~1.8 GB also has ``model.onnx.data``), ``model.pt2``
(``torch.export.load``), ``model.safetensors`` (the ``state_dict``) and ``model.json``, written last.

``model.json`` schema (version 1)
---------------------------------
Keys in this order; ``null`` where a value does not apply::

    {
      "autoopt_version": "0.1.0",                 # the autoopt that wrote the card
      "created": "2025-01-31T12:00:00+00:00",     # ISO 8601, UTC
      "task": "classification",                   # or "regression"
      "class_names": ["0", "1", ...],             # index -> name; null for regression
      "input": {
        "name": "input",                          # the ONNX graph input
        "shape": [null, C, H, W],                 # images; [null, F] for tables; null = any batch size
        "dtype": "float32"
      },
      "output": {
        "name": "output",                         # the ONNX graph output
        "shape": [null, K],                       # K = classes (logits, no softmax) or 1 (regression)
        "dtype": "float32"
      },
      "preprocessing": {                          # model input = (raw / pixel_scale - mean[c]) / std[c]
        "mean": [float, ...],                     # per channel (images) or per feature (tables); may be null
        "std": [float, ...],
        "pixel_scale": 255.0,                     # what raw pixels are divided by (digits: 16.0;
                                                  #   float images and tables: 1.0); never null
        "image_size": [H, W],                     # null for tables; resize to this before scaling
        "channels": C                             # null for tables
      },
      "files": {"onnx": "model.onnx", "pt2": "model.pt2", "weights": "model.safetensors"},
                                                  # + "onnx_data": "model.onnx.data" for > 1.8 GB models
      "opset": 20,                                # ai.onnx opset of model.onnx
      "size_bytes": {"onnx": int, "pt2": int, "weights": int},   # same keys as "files"
      "sha256": {"onnx": hex, "pt2": hex, "weights": hex},       # same keys as "files"
      "metrics": {"test_accuracy": 0.95, ...},    # flat; the run's best/metrics.json, or the ONNX
                                                  #   model's test_<metric> (and test_loss) when none given
      "latency": {                                # autoopt.evaluate.measure_latency on model.onnx
        "backend": "onnxruntime", "threads": 1, "warmup": 10, "repeats": 50,
        "input_shape": [C, H, W], "memory_method": "vmhwm", "machine": "x86_64 Linux",
        "batches": {"1": {"p50_ms", "p95_ms", "p99_ms", "mean_ms", "min_ms",
                          "throughput" (samples/s), "peak_mem_mb"}, "64": {...}}
      },
      "parity": {                                 # exported vs torch, on real test samples
        "onnx": {"samples", "atol", "rtol", "min_top1_agreement", "max_abs_error", "max_rel_error",
                 "top1_agreement" (null for regression), "mismatched", "passed"},
        "pt2": {...same keys...}
      },
      "spec": {...} | null,                       # the resolved spec of the run
      "model": {
        "name": "cnn",                            # builder name (autoopt list models) or class name
        "config": {"blocks": 1, ...} | null,      # builder parameters: rebuilds the model from weights
        "params": int,                            # parameter count
        "macs": int                               # multiply-accumulates per sample
      }
    }

Readers should ignore keys they do not know; :func:`read_model_card` does.
"""

from __future__ import annotations

from autoopt.export._card import ModelCard, preprocessing_of, read_model_card, sha256_file
from autoopt.export._errors import ExportError
from autoopt.export._export_model import FILES, export_model, model_dir_for_onnx
from autoopt.export._onnx import INPUT_NAME, OUTPUT_NAME, ExportResult, export_onnx, export_pt2, trace_model
from autoopt.export._parity import ParityReport, Tolerance, check_parity

__all__ = [
    "FILES",
    "INPUT_NAME",
    "OUTPUT_NAME",
    "ExportError",
    "ExportResult",
    "ModelCard",
    "ParityReport",
    "Tolerance",
    "check_parity",
    "export_model",
    "model_dir_for_onnx",
    "export_onnx",
    "export_pt2",
    "preprocessing_of",
    "read_model_card",
    "sha256_file",
    "trace_model",
]
