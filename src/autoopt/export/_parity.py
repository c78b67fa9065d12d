"""Parity: does the exported model compute what the model computes, on real inputs?"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from autoopt.evaluate import predict, stack_inputs
from autoopt.exceptions import InvalidSpecError
from autoopt.export._errors import ExportError

__all__ = ["Tolerance", "ParityReport", "check_parity"]


@dataclass(frozen=True)
class Tolerance:
    """How close an export must be: every element ``|onnx - ref| <= atol + rtol * |ref|`` (as
    ``numpy.allclose``), and the top-1 class must agree on at least ``min_top1_agreement`` of samples."""

    atol: float = 1e-4
    rtol: float = 1e-3
    min_top1_agreement: float = 1.0


@dataclass
class ParityReport:
    """Differences between a reference model and an exported one over the same inputs.

    Attributes:
        samples: how many inputs were compared.
        max_abs_error: ``max |onnx - ref|`` over all output elements.
        max_rel_error: ``max |onnx - ref| / max(|ref|, 1e-6)``.
        top1_agreement: the fraction of samples with the same argmax (classifiers; ``None`` otherwise).
        mismatched: output elements outside ``atol + rtol * |ref|``.
        passed: within tolerance and top-1 agreement.
    """

    samples: int
    atol: float
    rtol: float
    min_top1_agreement: float
    max_abs_error: float
    max_rel_error: float
    top1_agreement: float | None
    mismatched: int
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        top1 = (
            f", top-1 agreement {self.top1_agreement:.4f} (min {self.min_top1_agreement})"
            if self.top1_agreement is not None
            else ""
        )
        return (
            f"max abs error {self.max_abs_error:.3e}, max rel error {self.max_rel_error:.3e} "
            f"(atol {self.atol}, rtol {self.rtol}; {self.mismatched} elements outside){top1} "
            f"over {self.samples} samples"
        )


def check_parity(
    model: Any,
    onnx_path: Any,
    inputs: Any,
    *,
    atol: float = 1e-4,
    rtol: float = 1e-3,
    min_top1_agreement: float = 1.0,
    batch_size: int = 64,
    limit: int | None = 512,
    raise_on_failure: bool = True,
) -> ParityReport:
    """Compare ``model`` with its export on real inputs, with ONNX Runtime (or any backend).

    Args:
        model: the reference: an ``nn.Module`` (or any artifact :func:`autoopt.evaluate.make_runner` takes).
        onnx_path: the exported model: an ``.onnx`` path (fp32 or quantized), or a ``.pt2``, ...
        inputs: real samples: a dataset yielding ``(x, y)`` (e.g. ``data.test``), or a tensor/array batch.
        atol: absolute tolerance per output element.
        rtol: relative tolerance per output element.
        min_top1_agreement: minimum fraction of samples whose argmax agrees (classifiers).
        batch_size: samples per call; several batches check that the dynamic batch works.
        limit: compare at most this many samples (``None``: all).
        raise_on_failure: raise :class:`ExportError` when out of tolerance (else only ``passed=False``).

    Returns:
        A :class:`ParityReport`.

    Raises:
        ExportError: out of tolerance, with the numbers (when ``raise_on_failure``).
        InvalidSpecError: negative tolerances, or outputs of different shapes.

    Example:
        >>> report = check_parity(model, "final/model.onnx", data.test, atol=1e-4)  # doctest: +SKIP
        >>> report.max_abs_error, report.top1_agreement  # doctest: +SKIP
        (5.96e-07, 1.0)
    """
    for name, value in (("atol", atol), ("rtol", rtol)):
        if value < 0:
            raise InvalidSpecError(f"{name}: expected a tolerance >= 0; got {value}")
    if not 0 <= min_top1_agreement <= 1:
        raise InvalidSpecError(f"min_top1_agreement: expected a fraction in [0, 1]; got {min_top1_agreement}")
    x = stack_inputs(inputs, limit)
    ref = predict(model, x, batch_size=batch_size).astype(np.float64)
    got = predict(onnx_path, x, batch_size=batch_size).astype(np.float64)
    if ref.shape != got.shape:
        raise InvalidSpecError(
            f"parity: the outputs differ in shape: reference {ref.shape}, exported {got.shape}"
        )
    diff = np.abs(got - ref)
    top1 = None
    if ref.ndim == 2 and ref.shape[1] > 1:
        top1 = float(np.mean(ref.argmax(1) == got.argmax(1)))
    mismatched = int(np.sum(~(diff <= atol + rtol * np.abs(ref))))  # NaN counts as a mismatch
    report = ParityReport(
        samples=len(x),
        atol=atol,
        rtol=rtol,
        min_top1_agreement=min_top1_agreement,
        max_abs_error=float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan"),
        max_rel_error=float(np.nanmax(diff / np.maximum(np.abs(ref), 1e-6)))
        if np.isfinite(diff).any()
        else float("nan"),
        top1_agreement=top1,
        mismatched=mismatched,
        passed=mismatched == 0 and (top1 is None or top1 >= min_top1_agreement),
    )
    if raise_on_failure and not report.passed:
        raise ExportError(f"parity check failed: {onnx_path} does not match the model: {report.describe()}")
    return report
