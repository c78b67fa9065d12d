"""``regularized-evolution``: aging evolution (Real et al., 2019) as an Optuna sampler.

The algorithm (Real, Aggarwal, Huang, Le, "Regularized Evolution for Image Classifier Architecture
Search", AAAI 2019, Algorithm 1):

1. The first ``P`` (population size) trials are random.
2. Afterwards, each new trial takes the population - the last ``P`` *completed* trials, ordered by
   trial number - draws ``S`` (sample size) members uniformly without replacement, and copies the
   best of them (the parent) with exactly one decision mutated: one parameter is picked uniformly and
   resampled to a *different* value (categorical: another choice; int: another value in range, a
   neighbour half of the time; float: a Gaussian step of a tenth of the range half of the time, a
   uniform draw otherwise).
3. "Aging": the population is a sliding window over trial numbers, so the oldest member leaves
   whatever its score, which regularizes against lucky evaluations.

Parallel workers: nothing is kept between trials; the population is rebuilt from the study's finished
trials each time a trial is sampled, so any number of workers (threads or processes) share it through
the storage - exactly the asynchronous scheme of the paper.

Failed and pruned trials never join the population (they are discarded), so architectures that fail
stop producing children and the search drifts away from them.

Several objectives: the tournament winner is the first member by non-dominated sorting (Pareto front,
then crowding distance; :func:`autoopt.schedulers.nondominated_rank`).

Define-by-run and conditional spaces: the relative search space is Optuna's intersection search
space; parameters outside it (conditional ones) are copied from the parent when it has them, and the
mutated decision may be one of them. Parameters the parent lacks are sampled at random.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autoopt.exceptions import InvalidSpecError
from autoopt.strategies._registry import StrategyContext, strategies
from autoopt.strategies._study_space import StudySpace

__all__ = ["RegularizedEvolutionSampler"]


def finite_values(dist: BaseDistribution, limit: int) -> list[Any] | None:
    """Every value of ``dist`` as a list when it has at most ``limit`` of them, else ``None``.

    Categorical choices, int ranges and stepped float ranges are finite; plain floats are not.
    """
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices) if len(dist.choices) <= limit else None
    if isinstance(dist, IntDistribution):
        if dist.log:
            n = dist.high - dist.low + 1
            return list(range(dist.low, dist.high + 1)) if n <= limit else None
        n = (dist.high - dist.low) // dist.step + 1
        return [dist.low + k * dist.step for k in range(n)] if n <= limit else None
    if isinstance(dist, FloatDistribution) and dist.step is not None:
        n = int(round((dist.high - dist.low) / dist.step)) + 1
        return [min(float(dist.low + k * dist.step), dist.high) for k in range(n)] if n <= limit else None
    return None


def contains(dist: BaseDistribution, value: Any) -> bool:
    """Whether ``value`` (an external value) is one of ``dist``'s."""
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


class RegularizedEvolutionSampler(BaseSampler):
    """Aging (regularized) evolution over any categorical, int or float search space.

    Args:
        population_size: ``P``, the number of most recent completed trials forming the population;
            also the number of initial random trials.
        sample_size: ``S``, the tournament size (``1 <= S <= P``).
        neighbour_prob: probability that an int/float mutation is local (a neighbouring int, a Gaussian
            step of a tenth of the range) rather than a uniform draw of another value.
        seed: seed of the mutation and random draws.

    Example:
        >>> import optuna
        >>> sampler = RegularizedEvolutionSampler(population_size=5, sample_size=2, seed=0)
        >>> study = optuna.create_study(direction="maximize", sampler=sampler)
        >>> study.optimize(lambda t: t.suggest_categorical("op", ["conv", "pool", "skip"]) == "conv", 8)
    """

    def __init__(
        self,
        population_size: int = 20,
        sample_size: int = 5,
        *,
        neighbour_prob: float = 0.5,
        seed: int | None = None,
    ) -> None:
        if not isinstance(population_size, int) or population_size < 1:
            raise InvalidSpecError(
                f"search.strategy_options.population_size: expected an int >= 1, got {population_size!r}"
            )
        if not isinstance(sample_size, int) or not 1 <= sample_size <= population_size:
            raise InvalidSpecError(
                f"search.strategy_options.sample_size: expected an int in [1, population_size="
                f"{population_size}], got {sample_size!r}"
            )
        if not 0.0 <= neighbour_prob <= 1.0:
            raise InvalidSpecError(
                "search.strategy_options.neighbour_prob: expected a probability in [0, 1], "
                f"got {neighbour_prob!r}"
            )
        self.population_size = population_size
        self.sample_size = sample_size
        self.neighbour_prob = neighbour_prob
        self._seed = seed
        self._rng = np.random.RandomState(seed)
        self._random = RandomSampler(seed=None if seed is None else seed + 1)
        self._study_space = StudySpace()
        # trial id -> (parent params, parent distributions, name of the mutated parameter)
        self._plans: dict[int, tuple[dict[str, Any], dict[str, BaseDistribution], str | None] | None] = {}
        self._lock = threading.RLock()

    # ---- population and tournament ----------------------------------------------------------------
    def population(self, study: Study) -> list[FrozenTrial]:
        """The last ``population_size`` completed trials, oldest first."""
        done = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
        done = sorted(done, key=lambda t: t.number)
        return done[-self.population_size :] if len(done) >= self.population_size else []

    def _winner(self, study: Study, members: Sequence[FrozenTrial]) -> FrozenTrial:
        signs = np.array([1.0 if d == StudyDirection.MINIMIZE else -1.0 for d in study.directions])
        values = np.array([t.values for t in members], dtype=float) * signs
        if values.shape[1] == 1:
            return members[int(np.argmin(values[:, 0]))]  # first of ties: the oldest
        from autoopt.schedulers import nondominated_rank

        return members[int(nondominated_rank(values)[0])]

    def _plan(
        self, study: Study, trial: FrozenTrial
    ) -> tuple[dict[str, Any], dict[str, BaseDistribution], str | None] | None:
        """The parent and mutated parameter of ``trial`` (decided once per trial); ``None``: random."""
        with self._lock:
            if trial._trial_id in self._plans:
                return self._plans[trial._trial_id]
            plan = None
            pop = self.population(study)
            if pop:
                picked = self._rng.choice(len(pop), size=self.sample_size, replace=False)
                parent = self._winner(study, [pop[i] for i in sorted(picked)])
                mutable = sorted(n for n, d in parent.distributions.items() if not d.single())
                name = mutable[self._rng.randint(len(mutable))] if mutable else None
                plan = (dict(parent.params), dict(parent.distributions), name)
            self._plans[trial._trial_id] = plan
            return plan

    # ---- mutation ----------------------------------------------------------------------------------
    def mutate(self, value: Any, dist: BaseDistribution) -> Any:
        """A value of ``dist`` different from ``value`` (``value`` itself when ``dist`` has one value)."""
        values = finite_values(dist, limit=10_000)
        if values is not None:
            cur = next((i for i, v in enumerate(values) if v == value), None)
            n = len(values)
            if cur is None or n == 1:
                return values[self._rng.randint(n)]
            if not isinstance(dist, CategoricalDistribution) and self._rng.rand() < self.neighbour_prob:
                step = -1 if cur == n - 1 or (cur > 0 and self._rng.rand() < 0.5) else 1
                return values[cur + step]
            k = self._rng.randint(n - 1)
            return values[k + (k >= cur)]
        if isinstance(dist, CategoricalDistribution):  # more than 10k choices
            return dist.choices[self._rng.randint(len(dist.choices))]
        if not isinstance(dist, (FloatDistribution, IntDistribution)):
            raise TypeError(f"cannot mutate a parameter of distribution {dist!r}")
        log = dist.log
        lo, hi = (math.log(dist.low), math.log(dist.high)) if log else (float(dist.low), float(dist.high))
        x = math.log(value) if log else float(value)
        for _ in range(16):
            if self._rng.rand() < self.neighbour_prob:
                y = float(np.clip(x + self._rng.normal(0.0, 0.1 * (hi - lo)), lo, hi))
            else:
                y = self._rng.uniform(lo, hi)
            new = math.exp(y) if log else y
            if isinstance(dist, IntDistribution):
                new = int(
                    min(max(round((new - dist.low) / dist.step) * dist.step + dist.low, dist.low), dist.high)
                )
            elif dist.step is not None:
                new = float(min(round((new - dist.low) / dist.step) * dist.step + dist.low, dist.high))
            else:
                new = float(min(max(new, dist.low), dist.high))
            if new != value:
                return new
        return value

    def _value(self, study: Study, trial: FrozenTrial, name: str, dist: BaseDistribution) -> Any:
        plan = self._plan(study, trial)
        if plan is not None:
            params, dists, mutated = plan
            if name in params and contains(dist, params[name]):
                if name != mutated:
                    return params[name]
                with self._lock:
                    return self.mutate(params[name], dist)
        with self._lock:
            return self._random.sample_independent(study, trial, name, dist)

    # ---- BaseSampler -------------------------------------------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._study_space(study)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {name: self._value(study, trial, name, dist) for name, dist in search_space.items()}

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._value(study, trial, param_name, param_distribution)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        with self._lock:
            self._plans.pop(trial._trial_id, None)

    def reseed_rng(self) -> None:
        with self._lock:
            self._rng = np.random.RandomState()
            self._random.reseed_rng()


@strategies.register("regularized-evolution", "aging-evolution")
def _regularized_evolution(ctx: StrategyContext) -> BaseSampler:
    """Aging evolution; the population defaults to 20, or a fifth of a smaller budget (at least 5), so
    that small budgets still see generations; the tournament to 5 (at most the population)."""
    opts = dict(ctx.options)
    if "population_size" not in opts:
        budget = ctx.n_trials or 100
        opts["population_size"] = max(5, min(20, budget // 5))
    opts.setdefault("sample_size", min(5, opts["population_size"]))
    return RegularizedEvolutionSampler(seed=ctx.seed, **opts)
