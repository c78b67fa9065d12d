"""Calling an objective and turning what it returns into recorded values, metrics and constraints."""

from __future__ import annotations

import inspect
import math
import operator
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import optuna
from optuna.trial import Trial, TrialState

from autoopt.exceptions import FatalSearchError, InvalidSpecError, ObjectiveError, TrialRejected
from autoopt.schedulers import Reporter
from autoopt.space import Space

__all__ = ["Constraint", "ObjectiveRunner", "TrialOutcome", "parse_constraints"]

METRICS_ATTR = "autoopt:metrics"
REASON_ATTR = "autoopt:fail_reason"
TRACEBACK_ATTR = "autoopt:traceback"
REJECTED_ATTR = "autoopt:rejected"

_OPS = {"<=": operator.le, ">=": operator.ge}
_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=)\s*([-+0-9.eE_]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``name <= bound`` or ``name >= bound`` over a trial's metrics (or params)."""

    name: str
    op: str
    bound: float

    def violation(self, value: float) -> float:
        """Optuna's convention: <= 0 is feasible."""
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.bound:g}"


ConstraintsArg = Union[Sequence[str | Constraint], Mapping[str, Any], None]


def parse_constraints(constraints: ConstraintsArg, *, key: str = "search.constraints") -> list[Constraint]:
    """Parse ``["params <= 200_000", "accuracy >= 0.9"]`` (or ``{"params": "<= 2e5"}``)."""
    if constraints is None:
        return []
    items: list[str | Constraint]
    if isinstance(constraints, Mapping):
        items = [f"{k} {v}" for k, v in constraints.items()]
    elif isinstance(constraints, (str, bytes)):
        items = [str(constraints)]
    else:
        items = list(constraints)
    out, errors = [], []
    for i, c in enumerate(items):
        if isinstance(c, Constraint):
            out.append(c)
            continue
        m = _CONSTRAINT_RE.match(str(c))
        if not m:
            errors.append(f"{key}[{i}]: expected 'NAME <= NUMBER' or 'NAME >= NUMBER', got {c!r}")
            continue
        try:
            out.append(Constraint(m.group(1), m.group(2), float(m.group(3).replace("_", ""))))
        except ValueError:
            errors.append(f"{key}[{i}]: {m.group(3)!r} is not a number")
    if errors:
        raise InvalidSpecError(errors=errors)
    return out


@dataclass
class TrialOutcome:
    """What running one trial produced (picklable: crosses process boundaries in parallel modes)."""

    number: int
    state: TrialState
    values: list[float] | None = None
    reason: str | None = None
    interrupted: bool = False
    fatal: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)


def _n_required_args(fn: Callable[..., Any]) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1
    n = 0
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
        elif p.kind == p.VAR_POSITIONAL:
            return 2
    return n


class ObjectiveRunner:
    """Runs a user objective on a trial and classifies the outcome.

    The objective is either define-by-run, ``objective(trial)`` / ``objective(trial, report)``, or
    over a declared space, ``objective(params)`` / ``objective(params, report)``. It may return a
    number, one number per objective, or a dict of named metrics (``metrics`` names the objectives).
    """

    def __init__(
        self,
        objective: Callable[..., Any],
        *,
        space: Space | None,
        directions: Sequence[str],
        metrics: Sequence[str] | None = None,
        constraints: Sequence[Constraint] = (),
        pruner: optuna.pruners.BasePruner | None = None,
    ) -> None:
        if not callable(objective):
            raise InvalidSpecError(f"objective: expected a callable, got {type(objective).__name__}")
        self.objective = objective
        self.space = space
        self.directions = list(directions)
        self.metrics = list(metrics) if metrics else None
        if self.metrics is not None and len(self.metrics) != len(self.directions):
            raise InvalidSpecError(
                f"metrics: {len(self.metrics)} name(s) {self.metrics} "
                f"for {len(self.directions)} direction(s); "
                "give one name per objective"
            )
        self.constraints = list(constraints)
        self.pruner = pruner
        self._wants_report = _n_required_args(objective) >= 2

    def call(self, trial: Trial, visible_before: int | None = None) -> Any:
        reporter = Reporter(trial, self.pruner, visible_before)
        first: Any = self.space.sample(trial) if self.space is not None else trial
        return self.objective(first, reporter) if self._wants_report else self.objective(first)

    def values_of(self, out: Any, params: Mapping[str, Any]) -> tuple[list[float], dict[str, Any]]:
        """Turn the objective's return into (objective values, metrics dict); raise ObjectiveError."""
        n = len(self.directions)
        if isinstance(out, Mapping):
            metrics = dict(out)
            names = self.metrics or (list(metrics) if len(metrics) == n else None)
            if names is None:
                raise ObjectiveError(
                    f"the objective returned a dict with keys {sorted(metrics)}; name the objective(s) with "
                    f"metrics=[...] ({n} expected)"
                )
            missing = [k for k in names if k not in metrics]
            if missing:
                raise ObjectiveError(
                    f"the objective's result has no {missing}; it returned keys {sorted(metrics)}"
                )
            raw = [metrics[k] for k in names]
        elif isinstance(out, (int, float)) and not isinstance(out, bool):
            raw, metrics = [out], {}
        elif isinstance(out, Sequence) and not isinstance(out, str):
            raw, metrics = list(out), {}
        elif hasattr(out, "item") and callable(out.item):  # numpy / torch scalars
            raw, metrics = [out.item()], {}
        else:
            raise ObjectiveError(
                f"the objective returned {type(out).__name__}; expected a number, a list or a dict"
            )
        if len(raw) != n:
            raise ObjectiveError(
                f"the objective returned {len(raw)} value(s), expected {n} (one per direction)"
            )
        values = []
        names = self.metrics or [f"value_{i}" if n > 1 else "value" for i in range(n)]
        for name, v in zip(names, raw, strict=False):
            try:
                f = float(v)
            except (TypeError, ValueError):
                raise ObjectiveError(f"objective value {name!r} is {v!r}, not a number") from None
            if not math.isfinite(f):
                raise ObjectiveError(f"objective value {name!r} is {f}; expected a finite number")
            values.append(f)
        metrics = {**{k: v for k, v in zip(names, values, strict=False)}, **metrics}
        return values, metrics

    def run(self, trial: Trial, visible_before: int | None = None) -> TrialOutcome:
        """Run the objective on ``trial``; never raises for the objective's own errors."""
        try:
            out = self.call(trial, visible_before)
            values, metrics = self.values_of(out, trial.params)
            self._record(trial, metrics)
            return TrialOutcome(trial.number, TrialState.COMPLETE, values, metrics=metrics)
        except optuna.TrialPruned as e:
            return TrialOutcome(trial.number, TrialState.PRUNED, reason=str(e) or "pruned")
        except KeyboardInterrupt:
            return self._fail(trial, "interrupted by the user (Ctrl-C)", interrupted=True)
        except FatalSearchError as e:
            return self._fail(trial, f"fatal: {e}", fatal=True)
        except TrialRejected as e:  # broke a hard budget or cannot be built: expected, not a bug
            try:
                trial.set_user_attr(REJECTED_ATTR, True)
            except Exception:
                pass
            return self._fail(trial, f"rejected: {e}")
        except Exception as e:  # a failed trial is recorded; the search goes on
            if self.space is None and isinstance(e, TypeError) and "'Trial' object is not" in str(e):
                # objective(params) without a declared space: every trial would fail the same way
                name = getattr(self.objective, "__name__", "objective")
                return self._fail(
                    trial,
                    f"fatal: {name}() reads its argument as a dict of parameters ({e}) but no search space "
                    "was given; pass --space SPACE.yaml (space=...), or write it define-by-run "
                    "(trial.suggest_float(...))",
                    fatal=True,
                )
            return self._fail(trial, f"{type(e).__name__}: {e}", tb=traceback.format_exc())

    def _record(self, trial: Trial, metrics: dict[str, Any]) -> None:
        serializable = {
            k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) or v is None
        }
        trial.set_user_attr(METRICS_ATTR, serializable)
        lookup = {**trial.params, **metrics}
        for c in self.constraints:
            if c.name not in lookup:
                raise ObjectiveError(
                    f"constraint '{c}': the trial has no metric or parameter {c.name!r}; return it from the "
                    f"objective in a dict (got {sorted(lookup)})"
                )
            trial.set_constraint(c.name, c.violation(float(lookup[c.name])))

    @staticmethod
    def _fail(trial: Trial, reason: str, *, tb: str | None = None, **flags: Any) -> TrialOutcome:
        try:
            trial.set_user_attr(REASON_ATTR, reason[:2000])
            if tb:
                trial.set_user_attr(TRACEBACK_ATTR, tb[-8000:])
        except Exception:  # the storage itself may be what failed; the outcome still says why
            pass
        return TrialOutcome(trial.number, TrialState.FAIL, reason=reason, **flags)
