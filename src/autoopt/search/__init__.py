"""Hyperparameter search: ``tune`` and what it returns.

Example:
    >>> from autoopt.search import tune
    >>> r = tune(lambda t: t.suggest_float("x", -1, 1) ** 2, trials=5, seed=0)
    >>> len(r.trials)
    5
"""

from autoopt.search._objective import Constraint, parse_constraints
from autoopt.search._result import TrialRow, TuneResult
from autoopt.search._trial import STATIC_METRICS, epoch_reporter, trial_metrics
from autoopt.search._tune import Progress, check_jobs, resume_seed, tune

__all__ = [
    "STATIC_METRICS",
    "epoch_reporter",
    "trial_metrics",
    "Constraint",
    "Progress",
    "TrialRow",
    "TuneResult",
    "check_jobs",
    "parse_constraints",
    "resume_seed",
    "tune",
]
