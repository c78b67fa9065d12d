"""ONNX and ``.pt2`` export through one ``torch.export`` trace (dynamic batch, single-file ONNX).

``torch.onnx.export(..., dynamo=True)`` itself starts with ``torch.export.export``; autoopt runs that
step itself so a ``.pt2`` archive and the ONNX file come from the same program, and so a tracing
failure and a translation failure can each be explained with the op, layer or code line at fault.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn

from autoopt.evaluate import onnx_files
from autoopt.export._errors import ExportError, explain_conversion_error, explain_trace_error
from autoopt.io import atomic_write_bytes

__all__ = ["ExportResult", "export_onnx", "export_pt2", "trace_model", "INPUT_NAME", "OUTPUT_NAME"]

INPUT_NAME = "input"
OUTPUT_NAME = "output"
# Above this many weight bytes the ONNX file would pass protobuf's 2 GiB limit: weights go to model.onnx.data.
_SINGLE_FILE_LIMIT = 1_800_000_000


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote.

    Attributes:
        path: the ``.onnx`` file.
        opset: the default-domain (``ai.onnx``) opset of the written model.
        files: every file the model needs (the ``.onnx``, plus external weights for models over ~1.8 GB).
        size_bytes: bytes per file name, over ``files``.
        input_name / output_name: graph input and output names.
        input_shape / output_shape: with ``None`` for the dynamic batch dimension.
        program: the ``torch.export`` program the ONNX model was translated from.
    """

    path: Path
    opset: int
    files: list[Path]
    size_bytes: dict[str, int]
    input_name: str
    output_name: str
    input_shape: list[int | None]
    output_shape: list[int | None]
    dynamic_batch: bool
    program: torch.export.ExportedProgram | None = field(default=None, repr=False)

    @property
    def total_bytes(self) -> int:
        return sum(self.size_bytes.values())


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's progress prints, warnings and registration logs."""
    loggers = [
        logging.getLogger(n)
        for n in ("torch.onnx", "torch.export", "torch._export", "torch._dynamo", "onnxscript")
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lvl in zip(loggers, levels, strict=True):
            lg.setLevel(lvl)


def _example(example_input: torch.Tensor, dynamic_batch: bool) -> torch.Tensor:
    if not isinstance(example_input, torch.Tensor) or example_input.ndim < 1 or example_input.shape[0] < 1:
        got = (
            tuple(example_input.shape)
            if isinstance(example_input, torch.Tensor)
            else type(example_input).__name__
        )
        raise ExportError(f"example_input: expected a tensor with a batch dimension of at least 1; got {got}")
    x = example_input.detach().cpu()
    if x.is_floating_point():  # float16/64 examples trace a float32 model; integer inputs (token ids) stay
        x = x.float()
    # torch.export specializes sizes 0 and 1; a batch of 2 keeps the batch dimension symbolic.
    return torch.cat([x, x]) if dynamic_batch and x.shape[0] == 1 else x


def trace_model(
    model: nn.Module, example_input: torch.Tensor, *, dynamic_batch: bool = True
) -> torch.export.ExportedProgram:
    """``torch.export.export`` of ``model`` in eval mode on CPU (its mode is restored afterwards).

    Args:
        model: the model; its ``forward`` takes one tensor.
        example_input: a batch of real inputs (its values do not matter, its shape does).
        dynamic_batch: keep the batch dimension symbolic (any batch size >= 1 at run time).

    Raises:
        ExportError: the model cannot be traced; names the code line for data-dependent control flow.
    """
    x = _example(example_input, dynamic_batch)
    shapes = ({0: torch.export.Dim("batch", min=1)},) if dynamic_batch else None
    was_training = model.training
    model.eval()
    try:
        with _quiet():
            return torch.export.export(model, (x,), dynamic_shapes=shapes)
    except Exception as exc:  # torch raises many error types while tracing
        raise explain_trace_error(exc, type(model).__name__, dynamic_batch) from exc
    finally:
        model.train(was_training)


def _shape(value_info: onnx.ValueInfoProto) -> list[int | None]:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else None for d in dims]


def export_onnx(
    model: nn.Module | torch.export.ExportedProgram,
    example_input: torch.Tensor,
    path: str | os.PathLike[str],
    *,
    opset: int | None = None,
    dynamic_batch: bool = True,
) -> ExportResult:
    """Export ``model`` to one ONNX file with the dynamo exporter, atomically.

    The graph's input is named ``input`` and its output ``output``; the batch dimension is dynamic
    (``dim_param: "batch"``) unless ``dynamic_batch=False``. Weights are stored inside the file
    (models under ~1.8 GB); larger models get ``<name>.data`` next to it, listed in ``files``.

    Args:
        model: the model, or a program already traced by :func:`trace_model`.
        example_input: a batch of real inputs.
        path: the ``.onnx`` destination; parent folders are created.
        opset: the ``ai.onnx`` opset to target (``None``: the exporter's default).
        dynamic_batch: keep the batch dimension symbolic.

    Raises:
        ExportError: tracing fails, or an op has no ONNX translation (the message names the op and
            the layer that calls it).

    Example:
        >>> from torch import nn
        >>> res = export_onnx(nn.Linear(4, 2), torch.zeros(2, 4), "/tmp/linear.onnx")  # doctest: +SKIP
        >>> res.opset, res.input_shape  # doctest: +SKIP
        (20, [None, 4])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(model, torch.export.ExportedProgram):
        program, what = model, "ExportedProgram"
    else:
        program, what = trace_model(model, example_input, dynamic_batch=dynamic_batch), type(model).__name__
    x = _example(example_input, dynamic_batch)
    try:
        with _quiet():
            onnx_program = torch.onnx.export(
                program,
                (x,),
                dynamo=True,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                verbose=False,
            )
    except Exception as exc:  # torch.onnx.OnnxExporterError and what the translation raises
        raise explain_conversion_error(exc, program, what) from exc
    if onnx_program is None:  # only the legacy exporter returns None
        raise ExportError(f"{what}: torch.onnx.export returned no program; expected an ONNXProgram")
    weight_bytes = sum(t.numel() * t.element_size() for t in program.state_dict.values())
    if weight_bytes < _SINGLE_FILE_LIMIT:
        atomic_write_bytes(path, _strip_debug_metadata(onnx_program.model_proto).SerializeToString())
    else:
        onnx_program.save(str(path), external_data=True)
    proto = onnx.load(str(path), load_external_data=False)
    opsets = {o.domain: o.version for o in proto.opset_import}
    files = onnx_files(path)
    return ExportResult(
        path=path,
        opset=int(opsets.get("", opsets.get("ai.onnx", 0))),
        files=files,
        size_bytes={p.name: p.stat().st_size for p in files},
        input_name=proto.graph.input[0].name,
        output_name=proto.graph.output[0].name,
        input_shape=_shape(proto.graph.input[0]),
        output_shape=_shape(proto.graph.output[0]),
        dynamic_batch=dynamic_batch,
        program=program,
    )


def _strip_debug_metadata(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Drop the exporter's per-node debug metadata (source stack traces, FX node names): ~40 KB on a
    small CNN, it made int8 files of small models look far less than 4x smaller. Graph, weights and
    names are untouched."""
    graphs = [proto.graph] + [f for f in proto.functions]  # type: ignore[list-item]
    for g in graphs:
        for node in g.node:
            del node.metadata_props[:]
            node.doc_string = ""
    for vi in list(proto.graph.value_info) + list(proto.graph.input) + list(proto.graph.output):
        del vi.metadata_props[:]
    for init in proto.graph.initializer:
        del init.metadata_props[:]
    return proto


def export_pt2(
    model: nn.Module | torch.export.ExportedProgram,
    example_input: torch.Tensor,
    path: str | os.PathLike[str],
    *,
    dynamic_batch: bool = True,
) -> Path:
    """Save a ``torch.export`` program of ``model`` as a ``.pt2`` archive (load with ``torch.export.load``).

    Args:
        model: the model, or a program already traced by :func:`trace_model`.
        example_input: a batch of real inputs.
        path: the ``.pt2`` destination, written atomically.
        dynamic_batch: keep the batch dimension symbolic.

    Raises:
        ExportError: the model cannot be traced.

    Example:
        >>> from torch import nn
        >>> p = export_pt2(nn.Linear(4, 2), torch.zeros(2, 4), "/tmp/linear.pt2")  # doctest: +SKIP
        >>> torch.export.load(p).module()(torch.zeros(3, 4)).shape  # doctest: +SKIP
        torch.Size([3, 2])
    """
    program: Any = model
    if not isinstance(model, torch.export.ExportedProgram):
        program = trace_model(model, example_input, dynamic_batch=dynamic_batch)
    buf = io.BytesIO()
    with _quiet():
        torch.export.save(program, buf)
    return atomic_write_bytes(Path(path), buf.getvalue())
