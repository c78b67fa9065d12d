"""Compression stages: pruning (:mod:`autoopt.compress.prune`), quantization
(:mod:`autoopt.compress.quantize`), and the plan that chains them (:func:`run_plan`): registered
steps (:mod:`autoopt.compress.steps`, one file each), candidate plans (``select``) or a search over
plans (``search``), measured on this machine, with :func:`select` choosing what ships. Every model
measured is an :class:`autoopt.evaluate.Candidate`.

Example:
    >>> from autoopt.compress import CompressionError
    >>> issubclass(CompressionError, RuntimeError)
    True
"""

from __future__ import annotations

from autoopt.compress._candidates import PlanSearchConfig, SelectConfig
from autoopt.compress._measure import TABLE_HEADER, format_rows, score_key
from autoopt.compress._plan import FinetuneConfig, PlanConfig, PlanResult, StepRow, plan_steps, run_plan
from autoopt.compress._select import Selection, pareto_front, select
from autoopt.compress.prune import CompressionError, PruneConfig, SparsityConfig, prune, prune_unstructured
from autoopt.compress.quantize import QuantizeConfig, quantize, quantize_onnx
from autoopt.compress.steps import CompressionStep, StepContext, StepResult, list_steps, register_step, steps

__all__ = [
    "CompressionStep",
    "PlanSearchConfig",
    "Selection",
    "StepContext",
    "StepResult",
    "TABLE_HEADER",
    "format_rows",
    "list_steps",
    "plan_steps",
    "register_step",
    "steps",
    "SelectConfig",
    "pareto_front",
    "select",
    "CompressionError",
    "FinetuneConfig",
    "PlanConfig",
    "PlanResult",
    "PruneConfig",
    "QuantizeConfig",
    "SparsityConfig",
    "StepRow",
    "score_key",
    "prune",
    "prune_unstructured",
    "quantize",
    "quantize_onnx",
    "run_plan",
]
