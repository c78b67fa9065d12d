"""``auto``: pick a sampler per space, budget and progress, and switch as the search grows.

The rule (also in docs/strategies.md, benchmarked in benchmarks/hpo_suite.py):

1. Several objectives: TPE (multivariate); NSGA-II (``evolution``) once the budget is >= 300 trials.
2. Unknown space (define-by-run, before the first finished trial): Optuna's TPE, random at first.
3. Conditional parameters, or any categorical parameter: TPE (multivariate, grouped when conditional),
   with ``min(10, max(4, budget // 3))`` random startup trials (Optuna's 10 would leave a 12-trial search
   almost random).
4. All numeric (float/int), single objective, up to 20 dimensions:
   - first Optuna's own TPE, exactly as ``optuna.create_study()`` would run it (same seed, same
     defaults), until ``max(20, 4 * dims)`` trials have finished: a Gaussian process fitted to fewer
     points than that spends its trials learning length scales, and measured on the HPO suite it lost
     to TPE at 25 trials on half the problems; starting with TPE makes ``auto`` the same search as
     plain TPE at small budgets;
   - then Gaussian-process BO (``bayes``), the most sample-efficient model once it has data, up to
     ``gp_max_trials`` finished trials (100, or the whole budget when it is at most 150; its cost per
     trial grows with the history, ~0.7 s/trial at 500 trials on 2 cores);
   - the GP hands over to TPE when it stagnates: no new best in its last ``max(15, 3 * dims)`` trials
     (multimodal or ill-fitting landscapes, where TPE's density model keeps exploring);
   - past the GP phase, CMA-ES warm-started from the finished trials (WS-CMA-ES, ~1 ms per trial);
     with constraints, or in one dimension, TPE instead (CMA-ES ignores constraints, needs >= 2 dims).
5. Above 20 numeric dimensions: TPE for budgets under 200 trials, CMA-ES otherwise.

This follows the idea of OptunaHub's AutoSampler (budget-, space- and constraint-aware switching,
GP for small numeric spaces), with a TPE start and a stagnation switch, which that sampler lacks.
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
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autoopt.space import Space
from autoopt.strategies._registry import StrategyContext, make_sampler, strategies

__all__ = [
    "AutoSampler",
    "SpaceSummary",
    "choose_strategy",
    "gp_stagnated",
    "stagnation_patience",
    "tpe_start",
]

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


def tpe_start(dim: int) -> int:
    """Finished trials that Optuna's TPE runs before a GP takes over a ``dim``-dimensional numeric space."""
    return max(20, 4 * dim)


def stagnation_patience(dim: int) -> int:
    """GP trials without a new best after which ``auto`` hands a numeric space back to TPE."""
    return max(15, 3 * dim)


def gp_stagnated(trials: Sequence[FrozenTrial], dim: int, minimize: bool) -> bool:
    """Whether the GP trials (``autoopt:strategy == "bayes"``) stopped improving on the best value.

    True once the last :func:`stagnation_patience` GP trials brought no new best over everything
    finished before them. Only trials the GP proposed count, so once TPE takes over, the answer stays.
    """
    patience = stagnation_patience(dim)
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    done.sort(key=lambda t: t.number)
    gp = [i for i, t in enumerate(done) if t.system_attrs.get(STRATEGY_ATTR) == "bayes"]
    if len(gp) < patience:
        return False
    first = gp[-patience]
    sign = 1.0 if minimize else -1.0
    before = [sign * t.values[0] for t in done[:first]]
    if not before:
        return False
    best_before = min(before)
    return all(sign * done[i].values[0] >= best_before for i in gp[-patience:])


def choose_strategy(
    summary: SpaceSummary,
    *,
    n_finished: int,
    budget: int | None,
    n_objectives: int = 1,
    constrained: bool = False,
    gp_max_trials: int | None = None,
    gp_stagnant: bool = False,
    tpe_trials: int | None = None,
) -> tuple[str, str]:
    """The ``auto`` rule as a pure function: returns ``(strategy name, reason)``.

    ``gp_stagnant``: the GP phase has found no new best in its last :func:`stagnation_patience` trials.
    ``tpe_trials``: override the length of the TPE start (:func:`tpe_start`).
    """
    if n_objectives > 1:
        if budget is not None and budget >= 300:
            return "evolution", "several objectives and a budget >= 300 trials: NSGA-II"
        return "tpe", "several objectives: multivariate TPE"
    if not summary.known:
        return "tpe-plain", "space not known yet (define-by-run): Optuna's TPE, random at first"
    if summary.conditional:
        return "tpe", "conditional parameters: grouped multivariate TPE"
    if summary.n_categorical:
        return "tpe", "categorical parameters: multivariate TPE"
    dim = summary.n_numeric
    if dim > 20:
        if budget is not None and budget >= 200:
            return "cmaes", "more than 20 numeric dimensions and a large budget: CMA-ES"
        return "tpe", "more than 20 numeric dimensions and a small budget: TPE"
    warm = tpe_start(dim) if tpe_trials is None else tpe_trials
    if n_finished < warm:
        return (
            "tpe-plain",
            f"numeric space of {dim} dimension(s), {n_finished} < {warm} trials: Optuna's TPE",
        )
    limit = gp_max_trials
    if limit is None:
        limit = budget if budget is not None and budget <= 150 else 100
    if n_finished < limit and not gp_stagnant:
        return "bayes", f"numeric space of {dim} dimension(s), {n_finished} < {limit} trials: GP-BO"
    if n_finished < limit:
        return "tpe-plain", f"GP-BO found no new best in {stagnation_patience(dim)} trials: TPE"
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
        gp_max_trials: override the length of the GP phase (counted from the first trial).
        tpe_trials: override the length of the TPE start of numeric spaces (``max(20, 4 * dims)``).
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
        tpe_trials: int | None = None,
    ) -> None:
        self._tpe_trials = tpe_trials
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
            stagnant = n_obj == 1 and gp_stagnated(
                finished, summary.n_numeric, study.direction == StudyDirection.MINIMIZE
            )
            recorded, _ = choose_strategy(
                summary,
                n_finished=len(finished),
                budget=self._budget,
                n_objectives=n_obj,
                constrained=self._constrained,
                gp_max_trials=self._gp_max_trials,
                gp_stagnant=stagnant,
                tpe_trials=self._tpe_trials,
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
            elif name == "tpe-plain":
                # Optuna's default TPE with the study's own seed: the same trials as plain
                # ``optuna.create_study(sampler=TPESampler(seed=seed))``, so auto starts as that search.
                self._delegates[name] = TPESampler(seed=self._seed)
            elif name.startswith("tpe"):
                # Grouped TPE for conditional spaces (Optuna's advice); plain multivariate TPE otherwise.
                options: dict[str, Any] = (
                    {"n_startup_trials": self._startup} if self._startup is not None else {}
                )
                if not options and self._budget is not None:
                    # Random trials before TPE models the history: Optuna's 10, but at most a third of
                    # a small budget, so a 12-trial search still spends most trials on the model.
                    options["n_startup_trials"] = min(10, max(4, self._budget // 3))
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
