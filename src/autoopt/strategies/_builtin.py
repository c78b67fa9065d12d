"""Strategies that are Optuna's own samplers, configured for autoopt's spaces and budgets."""

from __future__ import annotations

import warnings

from optuna.exceptions import ExperimentalWarning
from optuna.samplers import (
    BaseSampler,
    CmaEsSampler,
    GPSampler,
    GridSampler,
    NSGAIISampler,
    QMCSampler,
    RandomSampler,
    TPESampler,
)

from autoopt.exceptions import InvalidSpecError
from autoopt.strategies._registry import StrategyContext, strategies


@strategies.register("random")
def _random(ctx: StrategyContext) -> BaseSampler:
    return RandomSampler(seed=ctx.seed, **ctx.options)


class _Grid(GridSampler):
    """Optuna's grid sampler, minus ``study.stop()`` when the grid is exhausted: that call is only
    allowed inside ``Study.optimize``, and autoopt's loop (ask/tell) caps the budget at the grid size."""

    def after_trial(self, study, trial, state, values):  # type: ignore[no-untyped-def]
        pass


@strategies.register("grid")
def _grid(ctx: StrategyContext) -> BaseSampler:
    if ctx.space is None:
        raise InvalidSpecError(
            "search.strategy: 'grid' needs a declared search space (search.space or --space); "
            "define-by-run objectives cannot be enumerated"
        )
    return _Grid(ctx.space.grid(), seed=ctx.seed, **ctx.options)


def tpe_sampler(ctx: StrategyContext) -> TPESampler:
    """TPE, multivariate; grouped when the space is conditional (Optuna's advice for such spaces)."""
    group = ctx.space.has_conditions if ctx.space is not None else True
    opts = {"multivariate": True, "group": group, "constant_liar": True, **ctx.options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return TPESampler(seed=ctx.seed, **opts)


strategies.add("tpe", tpe_sampler)


@strategies.register("bayes", "gp")
def _bayes(ctx: StrategyContext) -> BaseSampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return GPSampler(seed=ctx.seed, **{"warn_independent_sampling": False, **ctx.options})


@strategies.register("cmaes")
def _cmaes(ctx: StrategyContext) -> BaseSampler:
    ctx.single_objective("cmaes", "'tpe', 'evolution' or 'auto'")
    opts = {"warn_independent_sampling": False, **ctx.options}
    # Categorical parameters are not CMA-ES's to sample: TPE handles them alongside.
    opts.setdefault("independent_sampler", TPESampler(seed=ctx.seed))
    return CmaEsSampler(seed=ctx.seed, **opts)


@strategies.register("evolution", "ga", "nsga2")
def _evolution(ctx: StrategyContext) -> BaseSampler:
    """A genetic algorithm (NSGA-II: tournament selection, uniform crossover, mutation).

    For a single objective NSGA-II reduces to an elitist GA. The population defaults to a tenth of
    the budget (between 8 and 50) so that small budgets still see several generations.
    """
    opts = dict(ctx.options)
    if "population_size" not in opts:
        budget = ctx.n_trials or 200
        opts["population_size"] = max(8, min(50, budget // 10))
    return NSGAIISampler(seed=ctx.seed, **opts)


@strategies.register("qmc", "sobol")
def _qmc(ctx: StrategyContext) -> BaseSampler:
    opts = {"qmc_type": "sobol", "scramble": True, "warn_independent_sampling": False, **ctx.options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return QMCSampler(seed=ctx.seed, **opts)
