"""The strategy registry: a name -> sampler factory table. A new strategy joins with one line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.samplers import BaseSampler

from autoopt._registry import Registry
from autoopt.exceptions import InvalidSpecError
from autoopt.space import Space

__all__ = ["StrategyContext", "strategies", "make_sampler", "list_strategies"]


@dataclass
class StrategyContext:
    """What a strategy factory may use to configure its sampler.

    Attributes:
        seed: the search's seed (``None``: not reproducible).
        space: the declared space, or ``None`` for define-by-run objectives.
        n_trials: the trial budget, when known.
        directions: one ``"minimize"``/``"maximize"`` per objective.
        options: strategy-specific keyword options from the spec (``search.strategy_options``).
        constrained: whether trials record constraints (strategies that ignore them are avoided).
    """

    seed: int | None = None
    space: Space | None = None
    n_trials: int | None = None
    directions: Sequence[str] = ("minimize",)
    options: dict[str, Any] = field(default_factory=dict)
    constrained: bool = False

    @property
    def n_objectives(self) -> int:
        return len(self.directions)

    def single_objective(self, strategy: str, instead: str) -> None:
        """Refuse several objectives for a single-objective ``strategy``, naming what to use ``instead``."""
        if self.n_objectives > 1:
            raise InvalidSpecError(
                f"search.strategy: {strategy!r} optimizes a single objective; "
                f"for several objectives use {instead}"
            )


StrategyFactory = Callable[[StrategyContext], BaseSampler]
strategies: Registry[StrategyFactory] = Registry("strategy")


def make_sampler(
    name: str, ctx: StrategyContext | None = None, *, key: str = "search.strategy"
) -> BaseSampler:
    """Build the Optuna sampler of strategy ``name``.

    Args:
        name: a registered strategy (``list_strategies()``).
        ctx: seed, space, budget and options.
        key: the spec key ``name`` came from, for error messages.

    Example:
        >>> make_sampler("tpe", StrategyContext(seed=0)).__class__.__name__
        'TPESampler'
    """
    factory = strategies.get(name, key=key)
    ctx = ctx or StrategyContext()
    try:
        return factory(ctx)
    except TypeError as e:  # an option the sampler does not take
        from autoopt.exceptions import InvalidSpecError

        raise InvalidSpecError(f"{key}_options: invalid option for strategy {name!r}: {e}") from None


def list_strategies() -> list[str]:
    """Names of every registered strategy."""
    return strategies.names()
