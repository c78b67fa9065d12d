"""``prune``: channel/filter pruning, by a hand-written ratio or a searched policy (``policy: auto``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from autoopt.compress.prune import CompressionError, PruneConfig, prune
from autoopt.compress.steps._base import (
    CompressionStep,
    StepContext,
    StepResult,
    parse_options,
    register_step,
)
from autoopt.exceptions import InvalidSpecError

__all__ = ["PruneStep"]


@register_step
class PruneStep(CompressionStep[Any]):
    """Remove channels; with ``policy: auto`` a searched per-layer policy (and, with ``precision: true``,
    per-layer precisions that the final ``quantize: {mode: static}`` step applies)."""

    name = "prune"
    config_class = PruneConfig

    @classmethod
    def parse(cls, options: Any, key: str) -> Any:
        if isinstance(options, Mapping) and "policy" in options:
            if options["policy"] != "auto":
                raise InvalidSpecError(
                    f"{key}.policy: expected 'auto' (a searched per-layer policy; leave the key out for a "
                    f"hand-written ratio); got {options['policy']!r}"
                )
            from autoopt.compress.auto import AutoPolicyConfig

            return parse_options(AutoPolicyConfig, options, key)
        return parse_options(PruneConfig, options, key)

    @classmethod
    def check(cls, config: Any, steps: Sequence[Mapping[str, Any]], index: int, key: str) -> list[str]:
        if not getattr(config, "precision", False):
            return []
        last = steps[-1] if isinstance(steps[-1], Mapping) else {}
        mode = (last.get("quantize") or {}).get("mode", "static") if "quantize" in last else None
        if mode != "static":
            return [
                f"{key}.{cls.name}.precision: per-layer precisions are applied by a final "
                "'quantize: {mode: static}' step; add one or set precision: false"
            ]
        return []

    def apply(self, model: nn.Module, ctx: StepContext) -> StepResult:
        sc = self.config
        if getattr(sc, "policy", None) == "auto":
            from autoopt.compress.auto import auto_prune

            res = auto_prune(model, sc, ctx.data)
            macs = res.search.costs["macs"]
            note = (
                f"policy auto ({sc.agent}, {res.search.evaluations} evaluations, "
                f"{res.search.seconds:.0f}s), MACs {macs[0] / macs[1]:.1%} of the input"
            )
            if sc.precision:
                ctx.shared["precision_policy"] = sc
            return StepResult(res.model, note, {**res.report.to_dict(), "search": res.search.to_dict()})
        pruned, rep = prune(model, sc, data=ctx.data, train_config=ctx.train, teacher=ctx.original)
        if not rep.pruned:
            raise CompressionError(
                f"step {ctx.index} (prune) did not prune: {rep.skipped or 'no channel removed'}"
            )
        note = f"{sc.criterion}, ratio {sc.ratio} (effective {rep.effective_ratio}, round_to {rep.round_to})"
        return StepResult(pruned, note, rep)

    def report(self, result: StepResult) -> dict[str, Any] | None:
        if isinstance(result.details, dict):  # policy: auto, already JSON-ready with its search
            return result.details
        return super().report(result)
