"""Checking JSON inputs: a batch of nested lists of finite numbers of the model's per-sample shape.

Every problem is reported with its path, what was expected and what was got::

    inputs[0]: expected shape [1, 8, 8], got [64]
    inputs[2][0][3][1]: expected a number, got a string ('abc')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["InputError", "MAX_REPORTED", "check_batch", "format_shape"]

MAX_REPORTED = 10  # problems listed in one answer; the rest are counted


class InputError(ValueError):
    """The request is well-formed JSON but its content is not a valid batch. ``errors``: one line each."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(errors[0] if len(errors) == 1 else f"{len(errors)} problems: " + "; ".join(errors))


def format_shape(shape: Sequence[int | None]) -> str:
    """``[1, 8, 8]``; a dimension of any size shows as ``*``."""
    return "[" + ", ".join("*" if d is None else str(d) for d in shape) + "]"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        text = value if len(value) <= 20 else value[:20] + "..."
        return f"a string ({text!r})"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return type(value).__name__


def _shape_of(value: Any) -> list[int]:
    """The shape numpy would infer from the first element of each level."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _matches(shape: Sequence[int], expected: Sequence[int | None]) -> bool:
    return len(shape) == len(expected) and all(
        e is None or s == e for s, e in zip(shape, expected, strict=True)
    )


def _walk(value: Any, shape: Sequence[int], path: str, errors: list[str]) -> None:
    """Check that ``value`` is a regular nested list of ``shape`` with finite numbers as leaves."""
    if len(errors) >= MAX_REPORTED:
        return
    if not shape:
        if type(value) is int or (type(value) is float and math.isfinite(value)):
            return
        if type(value) is float:
            got = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
            errors.append(f"{path}: expected a finite number, got {got}")
        else:
            errors.append(f"{path}: expected a number, got {_describe(value)}")
        return
    if not isinstance(value, list):
        errors.append(f"{path}: expected a list of {shape[0]}, got {_describe(value)}")
        return
    if len(value) != shape[0]:
        errors.append(f"{path}: expected {shape[0]} items (a regular nested list), got {len(value)}")
        return
    if len(shape) == 1:  # the leaves, in one pass when they are all fine
        if all(type(v) is int or (type(v) is float and math.isfinite(v)) for v in value):
            return
        for j, v in enumerate(value):
            _walk(v, (), f"{path}[{j}]", errors)
        return
    for j, v in enumerate(value):
        _walk(v, shape[1:], f"{path}[{j}]", errors)


def check_batch(
    inputs: Any, sample_shape: Sequence[int | None], dtype: np.dtype, *, max_batch: int
) -> np.ndarray:
    """Turn the ``inputs`` of a request into a ``(batch, *sample_shape)`` array, or say what is wrong.

    Args:
        inputs: the decoded JSON value: a list of samples, each a nested list of numbers.
        sample_shape: the per-sample shape; ``None`` allows any size in that dimension.
        dtype: the array's dtype (the model input's).
        max_batch: the most samples one request may hold.

    Raises:
        InputError: not a list, an empty or too large batch, a sample of the wrong shape, a ragged list,
            a value that is not a number (strings, booleans, null) or not finite (NaN, Infinity).
    """
    if not isinstance(inputs, list):
        raise InputError([f"inputs: expected a list of samples, got {_describe(inputs)}"])
    if not inputs:
        raise InputError(["inputs: expected at least 1 sample, got an empty list"])
    if len(inputs) > max_batch:
        raise InputError(
            [f"inputs: expected at most {max_batch} samples per request, got {len(inputs)}; split the batch"]
        )
    errors: list[str] = []
    for i, sample in enumerate(inputs):
        if len(errors) >= MAX_REPORTED:
            break
        shape = _shape_of(sample)
        if not _matches(shape, sample_shape):
            errors.append(
                f"inputs[{i}]: expected shape {format_shape(sample_shape)}, got {format_shape(shape)}"
            )
            continue
        _walk(sample, shape, f"inputs[{i}]", errors)
    if errors:
        if _matches(_shape_of(inputs), sample_shape):
            errors[0] += " (inputs is a list of samples: send one sample as [sample])"
        raise InputError(errors)
    with np.errstate(over="ignore"):
        batch = np.asarray(inputs, dtype=dtype)
    if not np.isfinite(batch).all():
        i = int(np.flatnonzero(~np.isfinite(batch.reshape(len(batch), -1)).all(axis=1))[0])
        raise InputError([f"inputs[{i}]: expected numbers within the {dtype} range, got a value beyond it"])
    return batch
