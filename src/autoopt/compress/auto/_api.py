"""``auto_prune``: build the policy space, search a policy, apply it; the ``prune: {policy: auto}`` step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from autoopt.compress.auto._config import AutoPolicyConfig
from autoopt.compress.auto._precision import PrecisionSearchResult, PrecisionSpace, search_precision
from autoopt.compress.auto._reward import HeldOut, ProxyReward
from autoopt.compress.auto._search import PolicySearchResult, Trial, search_policy
from autoopt.compress.auto._space import PolicySpace
from autoopt.compress.prune._graph import out_channels
from autoopt.compress.prune._report import PruneReport
from autoopt.compress.prune._structured import example_batch
from autoopt.data import DataBundle
from autoopt.exceptions import InvalidSpecError
from autoopt.models import count_macs, count_params

__all__ = ["AutoPruneResult", "auto_prune", "auto_precision", "coerce_auto_config"]


@dataclass
class AutoPruneResult:
    """The pruned model (best policy applied, BN recalibrated), its report and the search."""

    model: nn.Module
    report: PruneReport
    search: PolicySearchResult


def coerce_auto_config(config: AutoPolicyConfig | Mapping[str, Any] | None) -> AutoPolicyConfig:
    if config is None:
        return AutoPolicyConfig()
    if isinstance(config, AutoPolicyConfig):
        return config
    if isinstance(config, Mapping):
        return AutoPolicyConfig(**dict(config))
    raise InvalidSpecError(
        f"compress.prune: expected an AutoPolicyConfig or a dict; got {type(config).__name__}"
    )


def auto_prune(
    model: nn.Module,
    config: AutoPolicyConfig | Mapping[str, Any] | None,
    data: DataBundle,
    *,
    on_trial: Callable[[Trial], None] | None = None,
) -> AutoPruneResult:
    """Search a per-layer pruning policy under the budget and return the pruned model.

    The budget is checked before searching (an unreachable one raises :class:`InvalidSpecError`
    with the smallest achievable value); layers whose pruning breaks the graph are excluded and
    named in ``report.excluded`` and ``report.notes``; the rest is searched.

    Example:
        >>> # small, rep = auto_prune(model, {"agent": "ddpg", "budget": {"macs": 0.5}}, data)[:2]
    """
    cfg = coerce_auto_config(config)
    shape = tuple(data.meta.input_shape)
    example = example_batch(model, data, shape, cfg.seed, n=4)
    space = PolicySpace(
        model, example, max_ratio=cfg.max_ratio, criterion=cfg.criterion, ignore=cfg.ignore, seed=cfg.seed
    )
    space.check_budget(cfg.budget)
    reward = ProxyReward(
        space,
        data,
        samples=cfg.samples,
        bn_batches=cfg.bn_batches,
        finetune_steps=cfg.finetune_steps,
        seed=cfg.seed,
    )
    result = search_policy(
        space,
        reward,
        budget=cfg.budget,
        agent=cfg.agent,
        episodes=cfg.episodes,
        seed=cfg.seed,
        on_trial=on_trial,
    )
    pruned = reward.model(result.ratios)  # the best policy, BatchNorm recalibrated (and fine-tuned steps)
    before, after = out_channels(model), out_channels(pruned)
    notes = [
        f"policy: auto, agent {cfg.agent}, {result.evaluations} evaluations in {result.seconds:.1f}s; "
        f"proxy accuracy {result.reward:.4f} (unpruned {result.baseline_reward:.4f}); per-layer ratios "
        + ", ".join(f"{n}: {r:.3f}" for n, r in result.policy.items())
    ]
    notes += [f"excluded {name!r}: {why}" for name, why in space.excluded.items()]
    report = PruneReport(
        criterion=cfg.criterion,
        # the fraction of the searched layers' channels removed (per-layer ratios are in ``notes``)
        ratio=round(1.0 - sum(space.keeps(result.ratios)) / sum(g.channels for g in space.groups), 4),
        scope="auto",
        steps=1,
        params_before=count_params(model),
        params_after=count_params(pruned),
        macs_before=count_macs(model, shape),
        macs_after=count_macs(pruned, shape),
        channels={n: (c, after.get(n, c)) for n, c in before.items()},
        ignored=space.ignored,
        excluded=dict(space.excluded),
        notes=notes,
    )
    return AutoPruneResult(pruned, report, result)


def auto_precision(
    model: nn.Module, config: AutoPolicyConfig | Mapping[str, Any], data: DataBundle
) -> PrecisionSearchResult:
    """Search INT8/fp32 per conv/linear layer of ``model`` under ``config.size`` (HAQ-style)."""
    cfg = coerce_auto_config(config)
    held = HeldOut(data, samples=cfg.samples, bn_batches=max(1, cfg.bn_batches), seed=cfg.seed)
    space = PrecisionSpace(model, held.bn)
    return search_precision(
        space, held, size=cfg.size, agent=cfg.agent, episodes=cfg.precision_episodes, seed=cfg.seed
    )
