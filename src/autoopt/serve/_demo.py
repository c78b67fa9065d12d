"""A tiny digits classifier exported as a model directory, for tests, benchmarks and trying the server.

It writes what ``autoopt export`` writes for serving (``model.onnx`` + ``model.json``), without torch
or the training pipeline: softmax regression on scikit-learn's 8x8 digits, fit with numpy in a
fraction of a second, written as an ONNX ``Flatten -> Gemm`` graph.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["digits_card", "write_digits_model_dir", "write_digits_regression_dir"]


def digits_card(mean: float, std: float, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model card of the demo model (the schema ``autoopt export`` follows)."""
    return {
        "autoopt_version": "0.1.0",
        "task": "classification",
        "class_names": [str(i) for i in range(10)],
        "input": {"name": "input", "shape": [None, 1, 8, 8], "dtype": "float32"},
        "output": {"name": "logits", "shape": [None, 10]},
        "preprocessing": {
            "mean": [mean],
            "std": [std],
            "pixel_scale": 16.0,
            "image_size": [8, 8],
            "channels": 1,
        },
        "files": {"onnx": "model.onnx"},
        "metrics": metrics or {},
        "model": {"name": "digits-linear", "params": 650},
    }


def _fit_softmax(x: np.ndarray, y: np.ndarray, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch gradient descent: ``(weight (10, 64), bias (10,))``."""
    rng = np.random.default_rng(seed)
    weight, bias = rng.normal(0.0, 0.01, (10, x.shape[1])), np.zeros(10)
    onehot = np.eye(10)[y]
    for _ in range(steps):
        logits = x @ weight.T + bias
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - onehot) / len(x)
        weight -= 0.5 * grad.T @ x
        bias -= 0.5 * grad.sum(axis=0)
    return weight.astype(np.float32), bias.astype(np.float32)


def write_digits_model_dir(path: str | Path, *, seed: int = 0, steps: int = 200) -> Path:
    """Fit a linear classifier on the digits and write it to ``path`` as ``model.onnx`` + ``model.json``.

    The graph is ``Flatten -> Gemm`` with a dynamic batch dimension, input ``input`` of shape
    ``(batch, 1, 8, 8)`` (pixels / 16, normalized by the card's mean and std), output ``logits``.

    Args:
        path: the model directory to write (created if needed).
        seed: seed of the initial weights.
        steps: gradient steps (200 reach about 97% training accuracy).

    Returns:
        ``path``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from sklearn.datasets import load_digits
    from threadpoolctl import threadpool_limits

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    x = digits.images.reshape(len(digits.images), -1) / 16.0
    mean, std = float(x.mean()), float(x.std())
    with threadpool_limits(1):  # tiny matrices: BLAS threads only contend (seconds on a busy machine)
        weight, bias = _fit_softmax((x - mean) / std, digits.target, steps, seed)
    accuracy = float((((x - mean) / std @ weight.T + bias).argmax(axis=1) == digits.target).mean())
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "weight", "bias"], ["logits"], transB=1),
        ],
        "digits_linear",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        initializer=[numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by any ONNX Runtime from 1.10 on
    onnx.checker.check_model(model)
    onnx.save(model, str(out / "model.onnx"))
    card = digits_card(mean, std, {"train_accuracy": round(accuracy, 4)})
    (out / "model.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    return out


def write_digits_regression_dir(path: str | Path) -> Path:
    """A least-squares regressor from the 64 flattened digit pixels (/ 16) to the digit's value.

    A non-image model (input ``(batch, 64)``, output ``value`` of shape ``(batch, 1)``, task
    ``regression``): ``/predict`` only, no ``/predict/image``.

    Args:
        path: the model directory to write (created if needed).

    Returns:
        ``path``, holding ``model.onnx`` and ``model.json``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from sklearn.datasets import load_digits
    from threadpoolctl import threadpool_limits

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    x = np.hstack([digits.data / 16.0, np.ones((len(digits.data), 1))])
    with threadpool_limits(1):
        coef = np.linalg.lstsq(x, digits.target.astype(np.float64), rcond=None)[0]
    weight, bias = coef[None, :-1].astype(np.float32), coef[-1:].astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["input", "weight", "bias"], ["value"], transB=1)],
        "digits_regression",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("value", TensorProto.FLOAT, ["batch", 1])],
        initializer=[numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(out / "model.onnx"))
    card = {
        "autoopt_version": "0.1.0",
        "task": "regression",
        "class_names": None,
        "input": {"name": "input", "shape": [None, 64], "dtype": "float32"},
        "output": {"name": "value", "shape": [None, 1]},
        "preprocessing": {
            "mean": None,
            "std": None,
            "pixel_scale": 16.0,
            "image_size": None,
            "channels": None,
        },
        "files": {"onnx": "model.onnx"},
        "metrics": {},
        "model": {"name": "digits-regression", "params": 65},
    }
    (out / "model.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    return out
