"""``prune: {policy: auto, ...}``: the options of a searched per-layer pruning policy."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from autoopt.compress._config import _Validated
from autoopt.compress.auto._space import BUDGET_KINDS
from autoopt.compress.prune._config import _check_ratio

__all__ = ["AGENTS", "AutoPolicyConfig"]

#: ``ddpg`` is autoopt's AMC agent; the others are strategies of :mod:`autoopt.strategies`.
AGENTS = ("ddpg", "tpe", "bayes", "cmaes", "evolution", "random", "qmc")


class AutoPolicyConfig(_Validated):
    """A ``prune`` step whose per-layer ratios are searched: ``{prune: {policy: auto, ...}}``.

    Attributes:
        policy: ``auto`` (the only value; a plain ``prune`` step has no ``policy`` key).
        agent: ``ddpg`` (AMC's reinforcement-learning agent) or a search strategy: ``tpe``, ``bayes``,
            ``cmaes``, ``evolution``, ``random``, ``qmc``.
        budget: ``{macs | params: fraction of the unpruned model}``; every searched policy meets
            every bound (AMC's action clipping).
        max_ratio: the largest fraction of channels one layer may lose, in ``(0, 1)``.
        episodes: policies evaluated (the search's whole cost).
        criterion: which channels of a layer go first: ``l1``, ``l2``, ``bn-scale``, ``random``.
        ignore: layers kept whole (the classifier always is).
        samples: held-out (validation) samples scoring each policy.
        bn_batches: training batches of 64 for the BatchNorm recalibration of each policy.
        finetune_steps: SGD steps before scoring a policy (0: AMC's proxy, no fine-tuning).
        precision: also search each layer's precision (``int8`` or ``fp32``) for a following
            ``quantize`` step, under ``size`` (HAQ-style mixed precision).
        size: with ``precision``, the weight bytes allowed, as a fraction of the all-fp32 pruned model
            (all-int8 is about 0.25).
        precision_episodes: precision policies evaluated.
        seed: seeds the agent and the samples.

    Example:
        >>> AutoPolicyConfig(policy="auto", agent="tpe", budget={"macs": 0.5}).episodes
        60
    """

    key: ClassVar[str] = "compress.prune"

    def __init__(self, **data: Any) -> None:  # explicit, so type checkers see keyword arguments with defaults
        super().__init__(**data)

    policy: Literal["auto"] = "auto"
    agent: Literal["ddpg", "tpe", "bayes", "cmaes", "evolution", "random", "qmc"] = "ddpg"
    budget: dict[str, float] = Field(default_factory=lambda: {"macs": 0.5})
    max_ratio: float = 0.8
    episodes: int = Field(60, ge=1)
    criterion: str = "l2"
    ignore: list[str] = Field(default_factory=list)
    samples: int = Field(512, ge=1)
    bn_batches: int = Field(8, ge=0)
    finetune_steps: int = Field(0, ge=0)
    precision: bool = False
    size: float = Field(0.5, gt=0, le=1)
    precision_episodes: int = Field(30, ge=1)
    seed: int = Field(0, ge=0)

    @field_validator("budget")
    @classmethod
    def _budget_known(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError(
                f"give at least one bound, e.g. {{macs: 0.5}}; resources: {', '.join(BUDGET_KINDS)}"
            )
        bad = [k for k in value if k not in BUDGET_KINDS]
        if bad:
            raise ValueError(f"unknown resource(s) {bad}; expected: {', '.join(BUDGET_KINDS)}")
        out = [f"{k}: {v!r}" for k, v in value.items() if not 0.0 < v <= 1.0]
        if out:
            raise ValueError(
                f"each bound is a fraction of the unpruned model in (0, 1]; got {', '.join(out)}"
            )
        return value

    @field_validator("max_ratio")
    @classmethod
    def _ratio_in_range(cls, value: float) -> float:
        return _check_ratio(value)

    @field_validator("criterion")
    @classmethod
    def _criterion_ok(cls, value: str) -> str:
        from autoopt.compress.prune._importance import criteria

        crit = criteria.get(value)
        if crit.needs_gradients:
            raise ValueError(
                f"{value!r} needs gradients, which policy: auto does not compute; "
                "use l1, l2, bn-scale or random"
            )
        return value
