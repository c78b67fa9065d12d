"""``auto``: pick a sampler per space, budget and progress, and switch as the search grows.

The rule (also in docs/strategies.md, benchmarked in benchmarks/hpo_suite.py):

1. Several objectives: TPE (multivariate); NSGA-II (``evolution``) once the budget is >= 300 trials.
2. Unknown space (define-by-run, before the first finished trial): TPE, whose first trials are random.
3. Conditional parameters, or any categorical parameter: TPE (multivariate, grouped when conditional).
4. All numeric (float/int), single objective:
   - up to 20 dimensions: Gaussian-process BO (``bayes``) for the first ``gp_max_trials`` finished trials
     (100, or the whole budget when it is at most 150): GP is the most sample-efficient, but its cost per
     trial grows with the history (~0.7 s/trial at 500 trials on 2 cores);
   - then CMA-ES, warm-started from the finished trials (WS-CMA-ES), which costs ~1 ms per trial; with
     constraints, or in one dimension, TPE instead (CMA-ES ignores constraints and needs >= 2 dims);
   - above 20 dimensions: TPE for budgets under 200 trials, CMA-ES otherwise.

Each trial records the sampler that proposed it in its system attribute ``autoopt:strategy``.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.exceptions import ExperimentalWarning
from optuna.samplers import BaseSampler, CmaEsSampler, TPESampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from autoopt.space import Space
from autoopt.strategies._registry import StrategyContext, make_sampler, strategies

__all__ = ["AutoSampler", "SpaceSummary", "choose_strategy"]

STRATEGY_ATTR = "autoopt:strategy"
_SEED_OFFSETS = {"tpe": 11, "bayes": 23, "cmaes": 37, "evolution": 41}


@dataclass(frozen=True)
class SpaceSummary:
    """What the choice rule looks at."""

    n_float: int = 0
    n_int: int = 0
    n_categorical: int = 0
    conditional: bool = False
    known: bool = True

    @property
    def n_numeric(self) -> int:
        return self.n_float + self.n_int

    @classmethod
    def of(cls, dists: Mapping[str, BaseDistribution], conditional: bool = False) -> SpaceSummary:
        from optuna.distributions import FloatDistribution, IntDistribution

        return cls(
            n_float=sum(isinstance(d, FloatDistribution) for d in dists.values()),
            n_int=sum(isinstance(d, IntDistribution) for d in dists.values()),
            n_categorical=sum(isinstance(d, CategoricalDistribution) for d in dists.values()),
            conditional=conditional,
            known=bool(dists),
        )


def choose_strategy(
    summary: SpaceSummary,
    *,
    n_finished: int,
    budget: int | None,
    n_objectives: int = 1,
    constrained: bool = False,
    gp_max_trials: int | None = None,
) -> tuple[str, str]:
    """The ``auto`` rule as a pure function: returns ``(strategy name, reason)``."""
    if n_objectives > 1:
        if budget is not None and budget >= 300:
            return "evolution", "several objectives and a budget >= 300 trials: NSGA-II"
        return "tpe", "several objectives: multivariate TPE"
    if not summary.known:
        return "tpe", "space not known yet (define-by-run): TPE, random at first"
    if summary.conditional:
        return "tpe", "conditional parameters: grouped multivariate TPE"
    if summary.n_categorical:
        return "tpe", "categorical parameters: multivariate TPE"
    dim = summary.n_numeric
    if dim > 20:
        if budget is not None and budget >= 200:
            return "cmaes", "more than 20 numeric dimensions and a large budget: CMA-ES"
        return "tpe", "more than 20 numeric dimensions and a small budget: TPE"
    limit = gp_max_trials
    if limit is None:
        limit = budget if budget is not None and budget <= 150 else 100
    if n_finished < limit:
        return "bayes", f"numeric space of {dim} dimension(s), {n_finished} < {limit} trials: GP-BO"
    if constrained or dim < 2:
        return "tpe", "numeric space past the GP phase, constrained or 1-D: TPE"
    return "cmaes", f"numeric space past {limit} trials: CMA-ES warm-started from the history"


class AutoSampler(BaseSampler):
    """Delegates each trial to the sampler :func:`choose_strategy` picks.

    Args:
        seed: seed for every delegate (each gets its own offset).
        space: the declared space, if any; otherwise the space is inferred from finished trials.
        n_trials: the budget, when known.
        n_objectives: number of objectives of the study.
        constrained: whether trials record constraints.
        gp_max_trials: override the length of the GP phase.
        startup_trials: random trials before TPE/GP model the history (their defaults: 10).

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=AutoSampler(seed=0))
        >>> study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=3)
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        space: Space | None = None,
        n_trials: int | None = None,
        n_objectives: int | None = None,
        constrained: bool = False,
        gp_max_trials: int | None = None,
        startup_trials: int | None = None,
    ) -> None:
        self._seed = seed
        self._startup = startup_trials
        self._space = space
        self._budget = n_trials
        self._n_objectives = n_objectives
        self._constrained = constrained
        self._gp_max_trials = gp_max_trials
        self._delegates: dict[str, BaseSampler] = {}
        self._choices: dict[int, str] = {}
        # Study.optimize(n_jobs > 1) shares one sampler between threads.
        self._lock = threading.RLock()

    # ---- the choice -----------------------------------------------------------------------------
    def _summary(self, trials: Sequence[FrozenTrial]) -> SpaceSummary:
        if self._space is not None:
            return SpaceSummary.of(self._space.distributions(), self._space.has_conditions)
        dists: dict[str, BaseDistribution] = {}
        names: set[frozenset[str]] = set()
        for t in trials:
            dists.update(t.distributions)
            names.add(frozenset(t.distributions))
        return SpaceSummary.of(dists, conditional=len(names) > 1)

    def choice(self, study: Study, trial: FrozenTrial) -> str:
        """The strategy that handles ``trial`` (decided once per trial)."""
        with self._lock:
            return self._choice(study, trial)

    def _choice(self, study: Study, trial: FrozenTrial) -> str:
        if trial._trial_id in self._choices:
            return self._choices[trial._trial_id]
        recorded = trial.system_attrs.get(STRATEGY_ATTR)
        if recorded is None:
            finished = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
            n_obj = self._n_objectives or len(study.directions)
            summary = self._summary(finished)
            recorded, _ = choose_strategy(
                summary,
                n_finished=len(finished),
                budget=self._budget,
                n_objectives=n_obj,
                constrained=self._constrained,
                gp_max_trials=self._gp_max_trials,
            )
            if recorded == "tpe" and summary.conditional:
                recorded = "tpe-grouped"
        self._choices[trial._trial_id] = recorded
        return recorded

    def _delegate(self, name: str, study: Study) -> BaseSampler:
        with self._lock:
            return self._make_delegate(name, study)

    def _make_delegate(self, name: str, study: Study) -> BaseSampler:
        if name not in self._delegates:
            seed = None if self._seed is None else self._seed + _SEED_OFFSETS.get(name, 0)
            directions = [d.name.lower() for d in study.directions]
            if name == "cmaes":
                finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ExperimentalWarning)
                    self._delegates[name] = CmaEsSampler(
                        seed=seed,
                        # WS-CMA-ES keeps the best 10% of the history: it needs >= 10 points.
                        source_trials=list(finished) if len(finished) >= 20 else None,
                        independent_sampler=TPESampler(seed=seed),
                        warn_independent_sampling=False,
                    )
            elif name.startswith("tpe"):
                # Grouped TPE for conditional spaces (Optuna's advice); plain multivariate TPE otherwise.
                options = {"n_startup_trials": self._startup} if self._startup is not None else {}
                self._delegates[name] = TPESampler(
                    seed=seed, multivariate=True, group=name == "tpe-grouped", constant_liar=True, **options
                )
            else:
                options = {}
                if self._startup is not None and name == "bayes":
                    options["n_startup_trials"] = self._startup
                ctx = StrategyContext(
                    seed=seed,
                    space=self._space,
                    n_trials=self._budget,
                    directions=directions,
                    options=options,
                )
                self._delegates[name] = make_sampler(name, ctx)
        return self._delegates[name]

    def _for(self, study: Study, trial: FrozenTrial) -> BaseSampler:
        return self._delegate(self.choice(study, trial), study)

    # ---- BaseSampler ----------------------------------------------------------------------------
    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        name = self.choice(study, trial)
        study._storage.set_trial_system_attr(trial._trial_id, STRATEGY_ATTR, name.split("-")[0])
        self._delegate(name, study).before_trial(study, trial)

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._for(study, trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._for(study, trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._for(study, trial).sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._for(study, trial).after_trial(study, trial, state, values)
        with self._lock:
            self._choices.pop(trial._trial_id, None)

    def reseed_rng(self) -> None:
        with self._lock:
            for s in list(self._delegates.values()):
                s.reseed_rng()


@strategies.register("auto")
def _auto(ctx: StrategyContext) -> BaseSampler:
    return AutoSampler(
        seed=ctx.seed,
        space=ctx.space,
        n_trials=ctx.n_trials,
        n_objectives=ctx.n_objectives,
        constrained=ctx.constrained,
        **ctx.options,
    )
