"""Search strategies by name; each one is an Optuna sampler.

Built in: ``random``, ``grid``, ``tpe``, ``bayes`` (GP), ``cmaes``, ``evolution`` (genetic algorithm,
NSGA-II), ``qmc`` (scrambled Sobol) and ``auto``. A new strategy joins with one line::

    @strategies.register("my-strategy")
    def _make(ctx: StrategyContext) -> optuna.samplers.BaseSampler: ...

Example:
    >>> from autoopt.strategies import make_sampler, StrategyContext
    >>> make_sampler("auto", StrategyContext(seed=1, n_trials=50)).__class__.__name__
    'AutoSampler'
"""

from autoopt.strategies import _builtin  # noqa: F401  (registers the built-in strategies)
from autoopt.strategies._auto import AutoSampler, SpaceSummary, choose_strategy
from autoopt.strategies._registry import StrategyContext, list_strategies, make_sampler, strategies
from autoopt.strategies._regularized_evolution import RegularizedEvolutionSampler
from autoopt.strategies._rl import RLSampler

__all__ = [
    "AutoSampler",
    "RLSampler",
    "RegularizedEvolutionSampler",
    "SpaceSummary",
    "StrategyContext",
    "choose_strategy",
    "list_strategies",
    "make_sampler",
    "strategies",
]
