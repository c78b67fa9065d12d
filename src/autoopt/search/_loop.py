"""The ask/tell loop of one worker, and what it shares with the other workers."""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing as mp
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import optuna
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import Trial, TrialState

from autoopt.exceptions import FatalSearchError, StorageError
from autoopt.io import redact_url
from autoopt.search._budget import StudyBudget, requeue
from autoopt.search._objective import (
    REASON_ATTR,
    REJECTED_ATTR,
    ObjectiveRunner,
    TrialOutcome,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = [
    "ask",
    "Budget",
    "LoopConfig",
    "heartbeat",
    "run_loop",
    "tell",
    "check_initial_failures",
    "fail_interrupted",
    "first_line",
]


class Budget:
    """A trial budget shared by worker processes: each trial takes one unit before it is asked."""

    def __init__(self, remaining: int | None, ctx: mp.context.BaseContext | None = None) -> None:
        self.unbounded = remaining is None
        self._value = (ctx or mp).Value("q", 0 if remaining is None else max(0, remaining))
        self._stop = (ctx or mp).Event()

    def take(self) -> bool:
        if self._stop.is_set():
            return False
        if self.unbounded:
            return True
        with self._value.get_lock():
            if self._value.value <= 0:
                return False
            self._value.value -= 1
            return True

    def give_back(self) -> None:
        if not self.unbounded:
            with self._value.get_lock():
                self._value.value += 1

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def ask(self, study: Study, deadline: float | None, ask_fn: Callable[[Study], Trial]) -> Trial | None:
        """The next trial, or ``None`` when the budget is spent, the deadline passed or stopped."""
        if not self.take():
            return None
        if deadline is not None and time.time() >= deadline:
            self.give_back()
            return None
        return ask_fn(study)


@dataclass
class LoopConfig:
    """What a worker needs besides the study."""

    runner: ObjectiveRunner
    budget: Budget | StudyBudget
    deadline: float | None = None
    first_number: int = 0  # trials numbered below this belong to earlier sessions
    max_initial_failures: int = 5
    storage_patience: float = 60.0  # seconds of retrying an unreachable storage before stopping


_LOST = ("OperationalError", "InterfaceError", "DisconnectionError", "DatabaseError")


def _storage_lost(exc: BaseException) -> bool:
    """A dropped or refused database connection (SQLAlchemy/driver errors), not a bug of ours."""
    return any(type(e).__name__ in _LOST for e in (exc, exc.__cause__, exc.__context__) if e is not None)


def with_storage_retry(fn: Callable[[], T], study: Study, patience: float, what: str) -> T:
    """Call ``fn``; while the storage is unreachable retry with exponential backoff (0.5 s doubling to
    8 s) for up to ``patience`` seconds, then raise :class:`StorageError`."""
    start = time.monotonic()
    wait = 0.5
    while True:
        try:
            return fn()
        except Exception as e:
            if not _storage_lost(e):
                raise
            spent = time.monotonic() - start
            if spent >= patience:
                url = redact_url(str(getattr(getattr(study._storage, "_backend", None), "url", "")))
                first = str(getattr(e, "orig", None) or e).strip().splitlines()
                raise StorageError(
                    f"storage {url or '(study storage)'}: unreachable while trying to {what} for "
                    f"{spent:.0f} s ({first[0] if first else type(e).__name__}); this worker stopped. "
                    "Trials finished so far are kept: start the server again and rerun to resume"
                ) from None
            logger.warning("storage unreachable (%s); retrying in %.1f s", what, wait)
            time.sleep(min(wait, max(0.0, patience - spent)))
            wait = min(wait * 2, 8.0)


@contextlib.contextmanager
def heartbeat(study: Study, trial: Trial) -> Iterator[None]:
    """Record heartbeats of a running trial (RDB storages with heartbeat enabled), so a dead worker's
    trial is detected as stale and failed instead of staying RUNNING forever."""
    storage = study._storage
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):
                storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"autoopt-heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def ask(study: Study) -> Trial:
    """``study.ask()``; autoopt records heartbeats itself (see :func:`heartbeat`), so Optuna's warning
    that heartbeats belong to ``Study.optimize`` does not apply."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        return study.ask()


def fail_stale(study: Study) -> None:
    """Mark trials whose worker stopped sending heartbeats as failed."""
    if getattr(study._storage, "get_heartbeat_interval", lambda: None)():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)


def tell(study: Study, trial: Trial, outcome: TrialOutcome) -> None:
    """Record an outcome; pruned trials keep their last reported value (single objective)."""
    # A trial already failed as dead (its heartbeat was late) keeps that state; its retry runs instead.
    if outcome.state == TrialState.COMPLETE:
        study.tell(trial, outcome.values, skip_if_finished=True)
    elif outcome.state == TrialState.PRUNED:
        study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
    else:
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)


def _tell_once(study: Study, trial: Trial, outcome: TrialOutcome) -> None:
    """``tell``, where a retry after a dropped connection may find the first attempt committed."""
    with contextlib.suppress(UpdateFinishedTrialError):
        tell(study, trial, outcome)


def fail_interrupted(study: Study, trial: Trial) -> None:
    """A trial stopped by Ctrl-C: failed with that reason, and queued again with its parameters (it
    runs first when the search is resumed, and only the retry counts toward the budget)."""
    with contextlib.suppress(Exception):
        if study._storage.get_trial(trial._trial_id).state == TrialState.RUNNING:
            trial.set_user_attr(REASON_ATTR, "interrupted by the user (Ctrl-C)")
            study.tell(trial, state=TrialState.FAIL)
        requeue(study, trial._trial_id)


def first_line(text: str, limit: int = 600) -> str:
    """The first line of a failure's reason, cut at ``limit`` characters (for one-line messages)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 4].rstrip() + " ..."


def check_initial_failures(study: Study, first_number: int, n: int) -> None:
    """Raise FatalSearchError when the first ``n`` trials of this session all failed."""
    if n <= 0:
        return
    mine = sorted(
        (t for t in study.get_trials(deepcopy=False) if t.number >= first_number), key=lambda t: t.number
    )[:n]
    if len(mine) < n or any(t.state != TrialState.FAIL for t in mine):
        return
    first = mine[0]
    if any("interrupted by the user" in str(t.user_attrs.get(REASON_ATTR, "")) for t in mine):
        return
    if any(t.user_attrs.get(REJECTED_ATTR) for t in mine):
        return  # candidates rejected by a budget or an unbuildable architecture: the objective works
    reason = str(first.user_attrs.get(REASON_ATTR) or "(no message)").strip() or "(no message)"
    err = FatalSearchError(
        f"the first {n} trials all failed; stopping the search. "
        f"The first failure, trial {first.number}: {first_line(reason)}"
    )
    err.trial = first.number  # its traceback is stored with the trial (TRACEBACK_ATTR)
    raise err


def run_loop(
    study: Study,
    cfg: LoopConfig,
    on_trial_end: Callable[[Study, TrialOutcome], None] | None = None,
) -> bool:
    """Ask, run, tell until the budget, the deadline or a stop. Returns True if interrupted (Ctrl-C)."""
    fail_stale(study)
    while True:
        trial: Trial | None = None
        try:
            trial = with_storage_retry(
                lambda: cfg.budget.ask(study, cfg.deadline, ask), study, cfg.storage_patience, "ask a trial"
            )
            if trial is None:
                break
            with heartbeat(study, trial):
                outcome = cfg.runner.run(trial)
            done = trial
            with_storage_retry(
                functools.partial(_tell_once, study, done, outcome),
                study,
                cfg.storage_patience,
                f"record trial {done.number}",
            )
            trial = None
        except StorageError:
            cfg.budget.stop()
            raise
        except KeyboardInterrupt:
            if trial is not None:
                fail_interrupted(study, trial)
            cfg.budget.stop()
            return True
        if on_trial_end is not None:
            on_trial_end(study, outcome)
        if outcome.interrupted:
            with contextlib.suppress(Exception):
                requeue(study, done._trial_id)
            cfg.budget.stop()
            return True
        if outcome.fatal:
            cfg.budget.stop()
            raise FatalSearchError(outcome.reason or "the objective asked to stop the search")
        try:
            check_initial_failures(study, cfg.first_number, cfg.max_initial_failures)
        except FatalSearchError:
            cfg.budget.stop()
            raise
    return False


def load_for_worker(
    study_name: str, storage: object, sampler: BaseSampler, pruner: optuna.pruners.BasePruner
) -> Study:
    return optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner)  # type: ignore[arg-type]
