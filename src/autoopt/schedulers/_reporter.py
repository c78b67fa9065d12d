"""The reporter an objective calls with intermediate values; it ends trials a scheduler stops."""

from __future__ import annotations

import math
from collections.abc import Sequence

import optuna
from optuna.pruners import BasePruner
from optuna.study import Study
from optuna.trial import Trial

from autoopt.exceptions import ObjectiveError
from autoopt.schedulers._mo import IV_PREFIX

__all__ = ["Reporter"]


class _VisibleTrials:
    """A view of a study whose ``get_trials`` shows only trials numbered below ``cutoff`` (and ``me``).

    The deterministic parallel mode uses it so that early-stopping decisions depend on earlier
    batches only, never on the timing of trials running beside this one.
    """

    def __init__(self, study: Study, cutoff: int, me: int) -> None:
        self._study = study
        self._cutoff = cutoff
        self._me = me

    def get_trials(self, deepcopy: bool = True, states=None):  # type: ignore[no-untyped-def]
        trials = self._study.get_trials(deepcopy=deepcopy, states=states)
        return [t for t in trials if t.number < self._cutoff or t.number == self._me]

    def _get_trials(self, deepcopy: bool = True, states=None, use_cache: bool = False):  # type: ignore[no-untyped-def]
        return self.get_trials(deepcopy=deepcopy, states=states)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._study, name)


class Reporter:
    """Report intermediate values (one per objective) at a step; raise ``TrialPruned`` when stopped.

    Objectives receive one as their second argument: ``def objective(params, report)``; calling
    ``report(value, step)`` records the value and asks the study's scheduler whether to go on.
    Works for single- and multi-objective studies.

    Args:
        trial: the running Optuna trial.
        pruner: the scheduler's pruner (defaults to the study's).
        visible_before: if set, the scheduler only sees trials numbered below it (deterministic mode).

    Example:
        >>> def objective(params, report):
        ...     for epoch in range(10):
        ...         report(1.0 / (epoch + 1), step=epoch)
        ...     return 0.1
    """

    def __init__(
        self, trial: Trial, pruner: BasePruner | None = None, visible_before: int | None = None
    ) -> None:
        self.trial = trial
        self._study = trial.study
        self._pruner = pruner if pruner is not None else trial.study.pruner
        self._visible_before = visible_before
        self._n_obj = len(trial.study.directions)
        self._next_step = 0

    def __call__(self, value: float | Sequence[float], step: int | None = None) -> None:
        step = self._next_step if step is None else int(step)
        if step < 0:
            raise ObjectiveError(f"report: 'step' must be >= 0, got {step}")
        self._next_step = step + 1
        values = [value] if not isinstance(value, Sequence) else list(value)
        if len(values) != self._n_obj:
            raise ObjectiveError(
                f"report: got {len(values)} value(s) at step {step}, "
                f"expected {self._n_obj} (one per objective)"
            )
        values = [float(v) for v in values]
        if not all(math.isfinite(v) for v in values):
            # Nothing to rank by; the trial goes on and its final value decides.
            return
        if self._n_obj == 1:
            self.trial.report(values[0], step)
        else:
            self.trial.set_user_attr(f"{IV_PREFIX}{step}", values)
        if self.should_prune():
            raise optuna.TrialPruned(f"stopped by the scheduler at step {step}")

    def should_prune(self) -> bool:
        storage = self._study._storage
        frozen = storage.get_trial(self.trial._trial_id)
        study = self._study
        if self._visible_before is not None:
            study = _VisibleTrials(self._study, self._visible_before, frozen.number)  # type: ignore[assignment]
        return bool(self._pruner.prune(study, frozen))
