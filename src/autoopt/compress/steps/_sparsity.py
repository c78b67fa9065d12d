"""``sparsity``: unstructured magnitude pruning on the AGP schedule (real zeros, same shapes)."""

from __future__ import annotations

from typing import Any

from torch import nn

from autoopt.compress.prune import SparsityConfig, prune_unstructured
from autoopt.compress.steps._base import CompressionStep, StepContext, StepResult, register_step

__all__ = ["SparsityStep"]


@register_step
class SparsityStep(CompressionStep[SparsityConfig]):
    """Zero the smallest weights, gradually while fine-tuning (see :class:`SparsityConfig`)."""

    name = "sparsity"
    config_class = SparsityConfig

    def apply(self, model: nn.Module, ctx: StepContext) -> StepResult:
        sparse, rep = prune_unstructured(
            model, self.config, data=ctx.data, train_config=ctx.train, teacher=ctx.original
        )
        sparsity: Any = getattr(rep, "sparsity", None)
        note = f"sparsity {sparsity.overall:.2%} (real zeros)" if sparsity is not None else ""
        return StepResult(sparse, note, rep)
