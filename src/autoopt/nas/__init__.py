"""Neural architecture search.

The architecture spaces (``nas-macro``, ``nas-cell``, ``nas-mlp``) live on the ground floor in
:mod:`autoopt.models.arch`, registered as models, so any stage can rebuild a searched architecture;
this package re-exports them and adds what searching needs: hard budgets checked before training
(:class:`ArchBudget`), measured latency cached per architecture, the feasibility check of a budget
against a space, and the one-shot supernet (:mod:`autoopt.nas.oneshot`).

Example:
    >>> from autoopt.nas import list_nas_spaces
    >>> list_nas_spaces()
    ['nas-cell', 'nas-macro', 'nas-mlp']
"""

from __future__ import annotations

from autoopt.models.arch import build_architecture, describe, list_nas_spaces, nas_space, smallest_in_space
from autoopt.nas._budget import ArchBudget, LatencyCache, arch_key, arch_space_for, check_feasible
from autoopt.nas._config import NasConfig, OneShotConfig
from autoopt.nas._errors import InvalidArchitectureError, TrialRejected
from autoopt.nas._run import NasRun, arch_of, prepare_nas, retrain_top_k, search_space, write_front

__all__ = [
    "InvalidArchitectureError",
    "TrialRejected",
    "list_nas_spaces",
    "nas_space",
    "build_architecture",
    "describe",
    "smallest_in_space",
    "NasConfig",
    "OneShotConfig",
    "ArchBudget",
    "LatencyCache",
    "arch_key",
    "arch_space_for",
    "check_feasible",
    "NasRun",
    "arch_of",
    "prepare_nas",
    "retrain_top_k",
    "search_space",
    "write_front",
]
