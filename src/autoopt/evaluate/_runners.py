"""Runners: one calling convention for a torch module, a ``.pt2`` program and an ONNX Runtime session.

A runner turns a numpy batch into the backend's native input (outside any timed region), runs it, and
turns the output back into numpy. Batched inference (:mod:`autoopt.evaluate._predict`) and the latency
harness (:mod:`autoopt.evaluate.latency`) are both written against this small interface, so every
artifact kind is evaluated and timed the same way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from autoopt.exceptions import InvalidSpecError

__all__ = ["Runner", "TorchRunner", "OnnxRunner", "make_runner", "onnx_session", "as_input", "BACKENDS"]

BACKENDS = ("torch", "pt2", "onnxruntime")
_ORT_TYPES: dict[str, np.dtype] = {"tensor(float)": np.dtype(np.float32), "tensor(int64)": np.dtype(np.int64)}


def as_input(x: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """``x`` as a contiguous model input: ``dtype`` when given, else ``int64`` for integer (token id)
    inputs and ``float32`` for everything else."""
    arr = np.asarray(x)
    if dtype is None:
        dtype = np.dtype(np.int64) if np.issubdtype(arr.dtype, np.integer) else np.dtype(np.float32)
    return np.ascontiguousarray(arr, dtype=dtype)


class Runner:
    """Base class: ``prepare`` a numpy batch, ``run`` it, ``to_numpy`` the output.

    Attributes:
        backend: ``"torch"``, ``"pt2"`` or ``"onnxruntime"``.
        input_shape: the shape of one sample (no batch dimension) when the artifact records it.
        fixed_batch: the only batch size the artifact accepts, ``None`` when the batch is dynamic.
        input_dtype: the input dtype the artifact records (ONNX), ``None`` when it does not.
    """

    backend: str = ""
    input_shape: tuple[int, ...] | None = None
    fixed_batch: int | None = None
    input_dtype: np.dtype | None = None

    def prepare(self, x: np.ndarray) -> Any:
        raise NotImplementedError

    def run(self, prepared: Any) -> Any:
        raise NotImplementedError

    def to_numpy(self, out: Any) -> np.ndarray:
        raise NotImplementedError

    @contextlib.contextmanager
    def session(self, threads: int | None) -> Iterator[None]:
        """The context every call runs in (torch: intra-op threads, eval mode, inference mode)."""
        yield

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.to_numpy(self.run(self.prepare(x)))


class TorchRunner(Runner):
    """A torch ``nn.Module`` (backend ``torch``) or the module of a ``torch.export`` program (``pt2``)."""

    def __init__(
        self,
        module: nn.Module,
        backend: str = "torch",
        input_shape: tuple[int, ...] | None = None,
        input_dtype: torch.dtype | None = None,
    ):
        self.module = module
        self.backend = backend
        self.input_shape = input_shape
        # Integer inputs (token ids): the program's recorded dtype, or the model's own ``input_dtype``.
        dtype = input_dtype if input_dtype is not None else getattr(module, "input_dtype", None)
        if isinstance(dtype, torch.dtype) and not dtype.is_floating_point:
            self.input_dtype = np.dtype(torch.empty(0, dtype=dtype).numpy().dtype)
        param = next(module.parameters(), None)
        self._device = param.device if param is not None else torch.device("cpu")

    def prepare(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(as_input(x)).to(self._device)

    def run(self, prepared: torch.Tensor) -> torch.Tensor:
        out = self.module(prepared)
        return out[0] if isinstance(out, (tuple, list)) else out

    def to_numpy(self, out: torch.Tensor) -> np.ndarray:
        return out.detach().float().cpu().numpy()

    @contextlib.contextmanager
    def session(self, threads: int | None) -> Iterator[None]:
        before = torch.get_num_threads()
        was_training = self.module.training
        if threads is not None:
            torch.set_num_threads(threads)
        if self.backend == "torch":  # a .pt2 program has its mode baked in
            self.module.eval()
        try:
            with torch.inference_mode():
                yield
        finally:
            torch.set_num_threads(before)
            if self.backend == "torch":
                self.module.train(was_training)


class OnnxRunner(Runner):
    """An ONNX Runtime session (fp32 or quantized models alike); its first input and first output."""

    backend = "onnxruntime"

    def __init__(self, session: ort.InferenceSession) -> None:
        self.sess = session
        first = session.get_inputs()[0]
        self.input_name = first.name
        self.output_name = session.get_outputs()[0].name
        dims = list(first.shape)
        rest = dims[1:]
        self.input_shape = tuple(rest) if all(isinstance(d, int) for d in rest) else None
        self.fixed_batch = dims[0] if dims and isinstance(dims[0], int) else None
        self.input_dtype = _ORT_TYPES.get(first.type)
        self.threads = session.get_session_options().intra_op_num_threads or None

    def prepare(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {self.input_name: as_input(x, self.input_dtype)}

    def run(self, prepared: dict[str, np.ndarray]) -> np.ndarray:
        return self.sess.run([self.output_name], prepared)[0]

    def to_numpy(self, out: np.ndarray) -> np.ndarray:
        return np.asarray(out, dtype=np.float32)


def onnx_session(
    model: str | os.PathLike[str] | bytes | onnx.ModelProto, threads: int | None = None
) -> ort.InferenceSession:
    """An ONNX Runtime CPU session with fixed intra-op threads (one inter-op thread, sequential execution).

    Args:
        model: an ``.onnx`` path, serialized bytes or a ``ModelProto``.
        threads: intra-op threads; ``None`` lets ONNX Runtime choose (all physical cores).

    Example:
        >>> sess = onnx_session("final/model.onnx", threads=1)  # doctest: +SKIP
    """
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    if isinstance(model, onnx.ModelProto):
        model = model.SerializeToString()
    elif not isinstance(model, bytes):
        model = str(model)
    try:
        return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own (pybind) error types
        where = model if isinstance(model, str) else "model bytes"
        raise InvalidSpecError(f"{where}: ONNX Runtime cannot load the model: {exc}") from exc


def _program_input(
    program: torch.export.ExportedProgram,
) -> tuple[tuple[int, ...] | None, torch.dtype | None]:
    """The per-sample shape (``None`` when not static) and dtype of a program's first user input."""
    names = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in names:
            val = node.meta.get("val")
            shape = tuple(getattr(val, "shape", ()))[1:]
            static = tuple(int(d) for d in shape) if all(isinstance(d, int) for d in shape) else None
            return static, getattr(val, "dtype", None)
    return None, None


def make_runner(target: Any, *, threads: int | None = None) -> Runner:
    """A runner for ``target``: an ``nn.Module``, an ``ExportedProgram``, an ``InferenceSession``, an
    ``onnx.ModelProto``, or a ``.pt2``/``.onnx`` path.

    Args:
        target: the model or artifact.
        threads: intra-op threads of a new ONNX Runtime session (torch threads are set per call).

    Raises:
        InvalidSpecError: ``target`` is none of the above.
    """
    if isinstance(target, Runner):
        return target
    if isinstance(target, torch.export.ExportedProgram):
        return TorchRunner(target.module(), "pt2", *_program_input(target))
    if isinstance(target, nn.Module):
        return TorchRunner(target, "torch")
    if isinstance(target, ort.InferenceSession):
        return OnnxRunner(target)
    if isinstance(target, (onnx.ModelProto, bytes)):
        return OnnxRunner(onnx_session(target, threads))
    if isinstance(target, (str, os.PathLike)):
        path = Path(target)
        if not path.is_file():
            raise InvalidSpecError(f"{path}: no such file; expected a .onnx or .pt2 artifact")
        if path.suffix == ".onnx":
            return OnnxRunner(onnx_session(path, threads))
        if path.suffix == ".pt2":
            return make_runner(torch.export.load(str(path)))
        raise InvalidSpecError(f"{path}: expected a .onnx or .pt2 file; got suffix {path.suffix!r}")
    raise InvalidSpecError(
        "model: expected an nn.Module, ExportedProgram, InferenceSession, onnx.ModelProto or a "
        f".onnx/.pt2 path; got {type(target).__name__}"
    )
