"""Automated compression policies: per-layer pruning ratios (and precisions) searched under a budget.

The AMC/HAQ problem (He et al. 2018; Wang et al. 2019): a policy gives each prunable layer a ratio
(and optionally each conv/linear layer a precision, INT8 or fp32); every policy is clipped layer by
layer so the pruned model meets the MACs/params budget by construction; a policy is scored by a fast
proxy (held-out accuracy after pruning and BatchNorm recalibration, no fine-tuning). The searcher is
autoopt's DDPG agent or any strategy of :mod:`autoopt.strategies` (``tpe``, ``bayes``, ``cmaes``,
``evolution``, ``random``, ``qmc``) at the same number of evaluations. In a plan:
``{prune: {policy: auto, agent: ddpg, budget: {macs: 0.5}}}``.

Example:
    >>> from autoopt.data._bundle import DatasetMeta
    >>> from autoopt.models import build_model
    >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
    >>> space = PolicySpace(build_model("cnn", {"blocks": 2, "channels": 8}, meta), torch.zeros(2, 1, 8, 8))
    >>> policy = space.clip([0.0, 0.0], {"macs": 0.5})
    >>> space.meets(policy, {"macs": 0.5})
    True
"""

from __future__ import annotations

import torch  # noqa: F401  (used by the docstring example)

from autoopt.compress.auto._api import AutoPruneResult, auto_precision, auto_prune, coerce_auto_config
from autoopt.compress.auto._compare import MethodRow, accuracy_on_test, compare_policies
from autoopt.compress.auto._config import AGENTS, AutoPolicyConfig
from autoopt.compress.auto._ddpg import DDPGAgent, DDPGConfig
from autoopt.compress.auto._env import LayerStates
from autoopt.compress.auto._precision import PrecisionSearchResult, PrecisionSpace, search_precision
from autoopt.compress.auto._reward import HeldOut, ProxyReward, recalibrate_batchnorm
from autoopt.compress.auto._search import PolicySearchResult, Trial, search_policy, uniform_policy
from autoopt.compress.auto._space import BUDGET_KINDS, LayerGroup, PolicySpace, keep_count

__all__ = [
    "AGENTS",
    "AutoPolicyConfig",
    "AutoPruneResult",
    "BUDGET_KINDS",
    "DDPGAgent",
    "DDPGConfig",
    "HeldOut",
    "LayerGroup",
    "LayerStates",
    "MethodRow",
    "PolicySearchResult",
    "PolicySpace",
    "PrecisionSearchResult",
    "PrecisionSpace",
    "ProxyReward",
    "Trial",
    "accuracy_on_test",
    "auto_precision",
    "auto_prune",
    "coerce_auto_config",
    "compare_policies",
    "keep_count",
    "recalibrate_batchnorm",
    "search_policy",
    "search_precision",
    "uniform_policy",
]
