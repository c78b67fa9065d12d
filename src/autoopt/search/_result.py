"""What a search returns: best params/value, the Pareto front, and a row per trial."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import optuna
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from autoopt.search._objective import METRICS_ATTR, REASON_ATTR
from autoopt.strategies._auto import STRATEGY_ATTR

__all__ = ["TrialRow", "TuneResult"]


@dataclass
class TrialRow:
    """One trial, flattened for tables and JSON."""

    number: int
    state: str
    params: dict[str, Any]
    values: list[float] | None
    duration_s: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    strategy: str | None = None
    feasible: bool = True

    @classmethod
    def of(cls, t: FrozenTrial) -> TrialRow:
        values = t.values
        if values is None and t.state == TrialState.PRUNED and t.intermediate_values:
            values = [t.intermediate_values[max(t.intermediate_values)]]
        return cls(
            number=t.number,
            state=t.state.name,
            params=dict(t.params),
            values=list(values) if values is not None else None,
            duration_s=t.duration.total_seconds() if t.duration is not None else None,
            metrics=dict(t.user_attrs.get(METRICS_ATTR, {})),
            reason=t.user_attrs.get(REASON_ATTR),
            strategy=t.system_attrs.get(STRATEGY_ATTR),
            feasible=all(v <= 0 for v in t.constraints.values()),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TuneResult:
    """The outcome of :func:`autoopt.tune`.

    Attributes:
        study: the Optuna study (storage, trials, everything Optuna offers).
        metrics: the objectives' names.
        interrupted: the search was stopped by Ctrl-C; results so far are kept.
        fixed: the space's fixed values, added to ``best_params``.
    """

    study: Study
    metrics: list[str]
    interrupted: bool = False
    fixed: dict[str, Any] = field(default_factory=dict)

    @property
    def directions(self) -> list[str]:
        return [d.name.lower() for d in self.study.directions]

    @property
    def multi_objective(self) -> bool:
        return len(self.study.directions) > 1

    @property
    def trials(self) -> list[TrialRow]:
        return [TrialRow.of(t) for t in self.study.get_trials(deepcopy=False)]

    @property
    def best_trial(self) -> FrozenTrial | None:
        """The best feasible complete trial (single objective), or ``None`` if there is none."""
        if self.multi_objective:
            raise AttributeError("best_trial is for single-objective searches; use .pareto")
        try:
            return self.study.best_trial
        except ValueError:
            return None

    @property
    def best_params(self) -> dict[str, Any] | None:
        t = self.best_trial
        return None if t is None else {**self.fixed, **t.params}

    @property
    def best_value(self) -> float | None:
        t = self.best_trial
        return None if t is None else t.value

    @property
    def pareto(self) -> list[TrialRow]:
        """The feasible non-dominated trials (a single objective's best trial otherwise)."""
        try:
            best = self.study.best_trials
        except ValueError:
            return []
        return [TrialRow.of(t) for t in sorted(best, key=lambda t: t.number)]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.study.get_trials(deepcopy=False):
            out[t.state.name] = out.get(t.state.name, 0) + 1
        return out

    def top(self, k: int = 10) -> list[TrialRow]:
        """The ``k`` best complete trials (feasible first), or the Pareto front for several objectives."""
        if self.multi_objective:
            return self.pareto[:k]
        sign = -1.0 if self.study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
        rows = [r for r in self.trials if r.state == "COMPLETE" and r.values]
        rows.sort(key=lambda r: (not r.feasible, sign * r.values[0]))  # type: ignore[index]
        return rows[:k]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "study_name": self.study.study_name,
            "directions": self.directions,
            "metrics": self.metrics,
            "counts": self.counts(),
            "interrupted": self.interrupted,
        }
        if self.multi_objective:
            d["pareto"] = [r.to_dict() for r in self.pareto]
        else:
            d["best_params"] = self.best_params
            d["best_value"] = self.best_value
            d["best_trial"] = self.best_trial.number if self.best_trial is not None else None
        d["trials"] = [r.to_dict() for r in self.trials]
        return d
