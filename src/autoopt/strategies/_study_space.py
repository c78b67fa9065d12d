"""The searched part of a study's space, shared by autoopt's own samplers."""

from __future__ import annotations

import threading

from optuna.distributions import BaseDistribution
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study

__all__ = ["StudySpace"]


class StudySpace:
    """The intersection search space of a study's trials (single-valued parameters left out), cached
    per study and safe to call from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._space = IntersectionSearchSpace()
        self._study: int | None = None

    def __call__(self, study: Study) -> dict[str, BaseDistribution]:
        with self._lock:
            if self._study != study._study_id:
                self._space, self._study = IntersectionSearchSpace(), study._study_id
            space = self._space.calculate(study, use_cache=True)
        return {n: d for n, d in space.items() if not d.single()}
