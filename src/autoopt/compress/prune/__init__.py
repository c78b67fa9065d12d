"""Pruning: structured channel pruning (a really smaller model) and unstructured magnitude sparsity.

Structured pruning removes whole channels/filters on Torch-Pruning's dependency graph, so coupled
layers (residual additions, concatenations, BatchNorm) stay consistent, scored by a registered
criterion (``l1``, ``l2``, ``taylor``, ``bn-scale``, ``random``), globally or per layer, in one
shot or in steps with fine-tuning between them. Pruned convs keep a multiple of ``round_to`` channels
(the machine's vector width by default) and at least ``min_channels`` (16), so ONNX Runtime keeps its
fast kernels. Unstructured pruning zeroes single weights
following the AGP schedule while fine-tuning and reports the real fraction of zeros.

Example:
    >>> from autoopt.data._bundle import DatasetMeta
    >>> from autoopt.compress.prune import PruneConfig, prune
    >>> from autoopt.models import build_model
    >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
    >>> net = build_model("cnn", {"blocks": 2, "channels": 8}, meta)
    >>> cfg = PruneConfig(ratio=0.5, criterion="l2", round_to=1, min_channels=1)  # any channel count
    >>> small, report = prune(net, cfg, input_shape=(1, 8, 8))
    >>> report.channels["body.0.0"], small(torch.zeros(1, 1, 8, 8)).shape
    ((8, 4), torch.Size([1, 10]))
"""

from __future__ import annotations

import torch  # noqa: F401  (used by the docstring example)

from autoopt.compress.prune._config import PruneConfig, SparsityConfig
from autoopt.compress.prune._errors import CompressionError
from autoopt.compress.prune._finetune import TaskFactory
from autoopt.compress.prune._importance import Criterion, criteria, list_criteria
from autoopt.compress.prune._report import PruneReport, Sparsity, SparsityReport, StepRecord
from autoopt.compress.prune._schedule import AGPSchedule
from autoopt.compress.prune._structured import PruneResult, prune
from autoopt.compress.prune._unstructured import SparsityResult, prune_unstructured, sparsity

__all__ = [
    "AGPSchedule",
    "CompressionError",
    "Criterion",
    "PruneConfig",
    "PruneReport",
    "PruneResult",
    "Sparsity",
    "SparsityConfig",
    "SparsityReport",
    "SparsityResult",
    "StepRecord",
    "TaskFactory",
    "criteria",
    "list_criteria",
    "prune",
    "prune_unstructured",
    "sparsity",
]
