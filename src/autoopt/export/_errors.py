"""``ExportError`` and the translation of torch's exporter failures into one line that names the culprit.

torch's messages are long (steps, next steps, colour codes, a stack). What a user needs is which op
or layer failed and where in their code: the op is in the innermost ``DispatchError`` line ("No ONNX
function found for <OpOverload(op='aten.special_airy_ai', ...)>"), the layer in the exported graph's
``nn_module_stack`` of the node that calls that op, and the code line in torch.export's "The following
call raised this error" section (data-dependent control flow).
"""

from __future__ import annotations

import re

import torch

from autoopt.exceptions import AutoOptError

__all__ = ["ExportError", "explain_trace_error", "explain_conversion_error"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_OP = re.compile(r"op='([\w.]+)'(?:, overload='(\w+)')?")
_CALL = re.compile(r"The following call raised this error:\s*\n\s*(File [^\n]+)\n\s*([^\n]+)")


class ExportError(AutoOptError, RuntimeError):
    """A model cannot be exported, or its export does not match the model within tolerance."""


def _clean(text: str) -> str:
    return _ANSI.sub("", text)


def _first_line(exc: BaseException) -> str:
    inner: BaseException = exc
    while inner.__cause__ is not None:
        inner = inner.__cause__
    lines = [ln.strip() for ln in _clean(str(inner)).splitlines() if ln.strip()]
    return lines[0] if lines else type(inner).__name__


def _layer_of(program: torch.export.ExportedProgram | None, op: str) -> str | None:
    """``'act' (Airy)`` for the first node of ``program`` calling ``op`` (or a decomposition of its name)."""
    if program is None:
        return None
    short = op.split(".")[1] if "." in op else op
    for node in program.graph.nodes:
        if node.op != "call_function" or short not in str(node.target):
            continue
        stack = node.meta.get("nn_module_stack") or {}
        if stack:
            path, kind = list(stack.values())[-1]
            kind = str(kind).rsplit(".", 1)[-1]
            return f"layer {path!r} ({kind})" if path else f"the model's own forward ({kind})"
    return None


def explain_conversion_error(
    exc: BaseException, program: torch.export.ExportedProgram | None, what: str
) -> ExportError:
    """An :class:`ExportError` for a failure of the ONNX translation (an op without an ONNX function)."""
    text = _clean(str(exc)) + "\n" + "\n".join(_clean(str(c)) for c in _causes(exc))
    match = _OP.search(text)
    if match:
        op = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
        layer = _layer_of(program, match.group(1))
        where = f" in {layer}" if layer else ""
        return ExportError(
            f"{what}: the ONNX exporter has no translation for op {op}{where}. Replace that op with "
            "supported ones, or pass a custom_translation_table to torch.onnx.export."
        )
    return ExportError(f"{what}: ONNX conversion failed: {_first_line(exc)}")


def explain_trace_error(exc: BaseException, what: str, dynamic_batch: bool) -> ExportError:
    """An :class:`ExportError` for a failure of ``torch.export.export`` (tracing the model)."""
    text = _clean(str(exc))
    if "Constraints violated" in text and dynamic_batch:
        return ExportError(
            f"{what}: the batch dimension cannot be dynamic: the model's code fixes it "
            f"({_first_line(exc)}). Export with dynamic_batch=False, or avoid hard-coding the batch size."
        )
    call = _CALL.search(text)
    where = f" at {call.group(1).strip()}: {call.group(2).strip()}" if call else ""
    kind = (
        "data-dependent control flow" if "data-dependent" in text else "torch.export cannot trace the model"
    )
    return ExportError(f"{what}: {kind}{where} ({_first_line(exc)})")


def _causes(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur = exc.__cause__ or exc.__context__
    while cur is not None and len(out) < 5:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out
