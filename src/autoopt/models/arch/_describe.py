"""Readable summaries of architectures: layers and operations, parameters and MACs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from autoopt.data import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.models._base import WrappedModel
from autoopt.models._profile import count_macs, count_params
from autoopt.models.arch._common import arch_spaces

__all__ = ["describe", "guess_space"]

# A key only one space has, to tell which space a params dict belongs to.
_MARKERS = {"stem_width": "nas-macro", "init_channels": "nas-cell", "depth": "nas-mlp"}


def guess_space(params: Mapping[str, Any]) -> str:
    """The space a params dict belongs to, from a key only that space has.

    Raises:
        InvalidSpecError: no key tells (pass ``space=`` explicitly).
    """
    for key, space in _MARKERS.items():
        if key in params:
            return space
    raise InvalidSpecError(
        "describe: cannot tell the architecture space of these params (no 'stem_width', 'init_channels' "
        "or 'depth'); pass space='nas-macro', 'nas-cell' or 'nas-mlp'"
    )


def _fmt(n: int) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def describe(
    model_or_params: nn.Module | Mapping[str, Any],
    meta: DatasetMeta | None = None,
    *,
    space: str | None = None,
) -> str:
    """A readable summary of an architecture: its layers and operations, parameters and MACs.

    Example:
        >>> from autoopt.data import DatasetMeta
        >>> from autoopt.models.arch import describe
        >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
        >>> print(describe({"depth": 1, "l1_width": 16}, meta))  # doctest: +NORMALIZE_WHITESPACE
        nas-mlp: 1,210 params, 1.18k MACs per sample (input (1, 8, 8))
          input    64 features (flattened (1, 8, 8))
          layer 1  linear 16, relu
          head     linear 16 -> 10

    Args:
        model_or_params: a model built from an architecture space, or a params dict (then ``meta``
            is needed to build it).
        meta: the dataset description, for a params dict.
        space: the space of a params dict (guessed from its keys when left out).

    Raises:
        InvalidSpecError: a params dict without ``meta``, or a model that no space built.
    """
    if isinstance(model_or_params, nn.Module):
        model = model_or_params
        if isinstance(model, WrappedModel):
            model = model.model
    else:
        if meta is None:
            raise InvalidSpecError("describe: a params dict needs meta (the dataset description) to build it")
        name = space or guess_space(model_or_params)
        model = arch_spaces.get(name, key="describe.space").build(meta, **model_or_params)
    lines_fn = getattr(model, "summary_lines", None)
    shape = getattr(model, "input_shape", None)
    if lines_fn is None or shape is None:
        raise InvalidSpecError(
            f"describe: {type(model).__name__} was not built from an architecture space; "
            "expected a model from autoopt.models.arch.build_architecture"
        )
    name = next(
        s for s in arch_spaces.names() if type(model).__module__ == arch_spaces.get(s).build.__module__
    )
    params, macs = count_params(model), count_macs(model, shape)
    header = f"{name}: {params:,} params, {_fmt(macs)} MACs per sample (input {tuple(shape)})"
    return "\n".join([header] + [f"  {line}" for line in lines_fn()])
