"""Compression steps, one file each, registered by name: what ``compress.steps`` may list.

``prune`` (:mod:`._prune`), ``sparsity`` (:mod:`._sparsity`), ``finetune`` (:mod:`._finetune`),
``quantize`` (:mod:`._quantize`). A new step is one file: subclass :class:`CompressionStep`, give it
a ``name`` and a pydantic ``config_class``, implement ``apply`` (and ``report`` when it has more to
say than the table's note), decorate it with :func:`register_step` and import the file here.

Example:
    >>> from autoopt.compress.steps import steps
    >>> steps.get("prune").config_class.__name__
    'PruneConfig'
"""

from __future__ import annotations

from autoopt.compress.steps import _finetune, _prune, _quantize, _sparsity  # noqa: F401 - they register
from autoopt.compress.steps._base import (
    CompressionStep,
    StepContext,
    StepResult,
    list_steps,
    parse_options,
    register_step,
    steps,
)
from autoopt.compress.steps._finetune import FinetuneConfig

__all__ = [
    "CompressionStep",
    "FinetuneConfig",
    "StepContext",
    "StepResult",
    "list_steps",
    "parse_options",
    "register_step",
    "steps",
]
