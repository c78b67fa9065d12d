"""Compression stages: pruning (:mod:`autoopt.compress.prune`), quantization
(:mod:`autoopt.compress.quantize`), and the plan that chains them (:func:`run_plan`): hand-written
steps, candidate plans (``select``) or a search over plans (``search``), measured on this machine,
with :func:`select` choosing what ships.

Example:
    >>> from autoopt.compress import CompressionError
    >>> issubclass(CompressionError, RuntimeError)
    True
"""

from __future__ import annotations

from autoopt.compress._candidates import PlanSearchConfig, SelectConfig
from autoopt.compress._measure import score_key
from autoopt.compress._plan import STEP_KINDS, FinetuneConfig, PlanConfig, PlanResult, StepRow, run_plan
from autoopt.compress._select import Candidate, pareto_front, select
from autoopt.compress.prune import CompressionError, PruneConfig, SparsityConfig, prune, prune_unstructured
from autoopt.compress.quantize import QuantizeConfig, quantize, quantize_onnx

__all__ = [
    "Candidate",
    "PlanSearchConfig",
    "SelectConfig",
    "pareto_front",
    "select",
    "CompressionError",
    "FinetuneConfig",
    "PlanConfig",
    "PlanResult",
    "PruneConfig",
    "QuantizeConfig",
    "STEP_KINDS",
    "SparsityConfig",
    "StepRow",
    "score_key",
    "prune",
    "prune_unstructured",
    "quantize",
    "quantize_onnx",
    "run_plan",
]
