"""Early stopping for several objectives, where Optuna's own pruners do not apply.

Optuna (5.0) raises NotImplementedError from ``trial.report``/``should_prune`` in multi-objective
studies. autoopt's reporter stores each step's vector of values in the trial's user attributes
(``autoopt:iv:<step>``) and asks these pruners, which rank vectors by non-dominated sorting with
crowding distance as a tie-break (MO-ASHA, Schmucker et al. 2021, "Multi-objective asynchronous
successive halving").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from optuna.pruners import BasePruner
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "MOASHAPruner",
    "MOHyperbandPruner",
    "MOMedianPruner",
    "intermediate_vectors",
    "nondominated_rank",
    "IV_PREFIX",
]

IV_PREFIX = "autoopt:iv:"
RUNG_PREFIX = "autoopt:rung:"


def intermediate_vectors(trial: FrozenTrial) -> dict[int, list[float]]:
    """The per-step value vectors a trial reported through autoopt's reporter."""
    out = {}
    for k, v in trial.user_attrs.items():
        if k.startswith(IV_PREFIX):
            out[int(k[len(IV_PREFIX) :])] = list(v)
    return dict(sorted(out.items()))


def _to_minimize(values: np.ndarray, directions: Sequence[StudyDirection]) -> np.ndarray:
    signs = np.array([-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in directions])
    return values * signs


def nondominated_rank(points: np.ndarray) -> np.ndarray:
    """Order of ``points`` (rows, minimized) best first: by Pareto front, then by crowding distance."""
    n = len(points)
    remaining = list(range(n))
    order: list[int] = []
    while remaining:
        pts = points[remaining]
        front = [
            remaining[i]
            for i in range(len(remaining))
            if not any(
                np.all(pts[j] <= pts[i]) and np.any(pts[j] < pts[i]) for j in range(len(remaining)) if j != i
            )
        ]
        crowd = _crowding(points[front])
        order += [front[i] for i in np.argsort(-crowd, kind="stable")]
        remaining = [r for r in remaining if r not in front]
    return np.array(order, dtype=int)


def _crowding(front: np.ndarray) -> np.ndarray:
    n, m = front.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        idx = np.argsort(front[:, k], kind="stable")
        span = front[idx[-1], k] - front[idx[0], k]
        dist[idx[0]] = dist[idx[-1]] = np.inf
        if span <= 0:
            continue
        dist[idx[1:-1]] += (front[idx[2:], k] - front[idx[:-2], k]) / span
    return dist


class MOASHAPruner(BasePruner):
    """Asynchronous successive halving for vectors of objectives.

    Rung ``k`` sits at step ``min_resource * reduction_factor ** (k + min_early_stopping_rate)``. When a
    trial reaches a rung its vector is recorded there; it continues only if it ranks among the top
    ``1 / reduction_factor`` of the vectors recorded at that rung (at least the best one continues).

    Args:
        min_resource: the step of the first rung.
        reduction_factor: how many trials compete per promoted one (``eta``).
        min_early_stopping_rate: skip the first rungs (Hyperband's bracket index).
        bracket: tag separating the rungs of different Hyperband brackets.
    """

    def __init__(
        self,
        min_resource: int = 1,
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
        bracket: int | None = None,
    ) -> None:
        if min_resource < 1:
            raise ValueError(f"min_resource must be >= 1, got {min_resource}")
        if reduction_factor < 2:
            raise ValueError(f"reduction_factor must be >= 2, got {reduction_factor}")
        self._min_resource = min_resource
        self._eta = reduction_factor
        self._rate = min_early_stopping_rate
        self._prefix = RUNG_PREFIX if bracket is None else f"{RUNG_PREFIX}b{bracket}:"

    def rung_step(self, k: int) -> int:
        return self._min_resource * self._eta ** (k + self._rate)

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        ivs = intermediate_vectors(trial)
        if not ivs:
            return False
        step = max(ivs)
        k = 0
        while self.rung_step(k) <= step:
            key = f"{self._prefix}{k}"
            if key not in trial.user_attrs:
                # Record the vector at the rung (the first report at or after the rung's step).
                at = min(s for s in ivs if s >= self.rung_step(k))
                study._storage.set_trial_user_attr(trial._trial_id, key, ivs[at])
                trial.user_attrs[key] = ivs[at]
                if not self._promotable(study, trial, key):
                    return True
            k += 1
        return False

    def _promotable(self, study: Study, trial: FrozenTrial, key: str) -> bool:
        trials = study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        )
        rows: list[Any] = []
        me = -1
        for t in trials:
            vec = trial.user_attrs[key] if t.number == trial.number else t.user_attrs.get(key)
            if vec is None:
                continue
            if t.number == trial.number:
                me = len(rows)
            rows.append(vec)
        if me < 0 or len(rows) == 1:
            return True
        points = _to_minimize(np.asarray(rows, dtype=float), study.directions)
        order = list(nondominated_rank(points))
        n_promote = max(1, len(rows) // self._eta)
        return order.index(me) < n_promote


class MOHyperbandPruner(BasePruner):
    """Hyperband over MO-ASHA brackets; trials are spread over brackets by trial number.

    Args:
        min_resource: the smallest step at which a trial may be stopped.
        max_resource: the step count of a full trial (e.g. the epoch budget).
        reduction_factor: ``eta`` of each bracket.
    """

    def __init__(self, min_resource: int = 1, max_resource: int = 27, reduction_factor: int = 3) -> None:
        if max_resource < min_resource:
            raise ValueError(f"max_resource ({max_resource}) must be >= min_resource ({min_resource})")
        n = int(math.floor(math.log(max_resource / min_resource, reduction_factor) + 1e-9)) + 1
        self._brackets = [
            MOASHAPruner(min_resource, reduction_factor, min_early_stopping_rate=b, bracket=b)
            for b in range(n)
        ]

    @property
    def n_brackets(self) -> int:
        return len(self._brackets)

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        return self._brackets[trial.number % len(self._brackets)].prune(study, trial)


class MOMedianPruner(BasePruner):
    """Stop a trial whose vector at a step is worse than the per-objective median in every objective.

    Args:
        n_startup_trials: finished trials needed before any pruning.
        n_warmup_steps: steps of each trial never pruned.
    """

    def __init__(self, n_startup_trials: int = 5, n_warmup_steps: int = 0) -> None:
        self._startup = n_startup_trials
        self._warmup = n_warmup_steps

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        ivs = intermediate_vectors(trial)
        if not ivs:
            return False
        step = max(ivs)
        if step < self._warmup:
            return False
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        if len(done) < self._startup:
            return False
        others = [intermediate_vectors(t).get(step) for t in done]
        rows = [r for r in others if r is not None]
        if not rows:
            return False
        med = _to_minimize(np.median(np.asarray(rows, dtype=float), axis=0), study.directions)
        mine = _to_minimize(np.asarray(ivs[step], dtype=float), study.directions)
        return bool(np.all(mine > med))
