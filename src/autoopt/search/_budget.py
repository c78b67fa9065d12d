"""A trial budget kept in the storage itself, so any number of workers on any machines share it exactly.

Every worker asks for a trial under a study-wide lock (a PostgreSQL advisory lock, or a lock file next
to a SQLite or journal file) after counting the study's trials: a trial counts once it runs, whatever
it ends as, except a trial that failed because its worker died and was queued again (its retry counts
instead). So ``trials=N`` ends with exactly N finished trials however many workers join or die.

Before each ask the worker recovers trials of dead workers: trials whose heartbeat stopped (RDB
storages, Optuna's heartbeat) and trials whose worker process on this machine no longer exists (any
storage: each trial records ``machine:pid:start`` of its worker, the machine being its boot id).
Such a trial is failed and queued again (same parameters, lineage in ``failed_trial`` and
``retry_history``) up to a retry limit.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import multiprocessing as mp
import os
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.storages import BaseStorage, JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.study import Study
from optuna.trial import Trial, TrialState

__all__ = ["StudyBudget", "WORKER_ATTR", "worker_id", "recover_dead_trials", "budget_used", "requeue"]

WORKER_ATTR = "autoopt:worker"
RETRIED_ATTR = "failed_trial"  # set by RetryHeartbeatStaleTrialCallback on every retry


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot (tells a reused pid apart), or ''."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


def _machine() -> str:
    """This boot of this machine: the kernel's boot id (hostnames of cloned machines can collide)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return socket.gethostname().replace(":", "_")


def worker_id() -> str:
    """``machine:pid:start`` of this process (see :func:`_machine`)."""
    pid = os.getpid()
    return f"{_machine()}:{pid}:{_start_ticks(pid)}"


def _is_dead_here(worker: str) -> bool:
    """True when ``worker`` ran on this machine and that process no longer exists."""
    host, _, rest = worker.partition(":")
    pid_s, _, start = rest.partition(":")
    if host != _machine() or not pid_s.isdigit():
        return False
    pid = int(pid_s)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a zombie (killed, not yet reaped) is dead too; a reused pid has another start time
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat[stat.rindex(")") + 2 :].split()[0]
    return state in ("Z", "X") or (bool(start) and _start_ticks(pid) != start)


def _backend(storage: BaseStorage) -> BaseStorage:
    return getattr(storage, "_backend", storage)  # optuna wraps RDB storages in a cache


def _retry_callback(storage: BaseStorage, max_retries: int | None) -> RetryHeartbeatStaleTrialCallback:
    cb = getattr(_backend(storage), "heartbeat_stale_trial_callback", None)
    if isinstance(cb, RetryHeartbeatStaleTrialCallback):
        return cb
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=max_retries, inherit_intermediate_values=True)


_last_stale_check: dict[int, float] = {}


def recover_dead_trials(study: Study, max_retries: int | None = 2, *, force: bool = True) -> list[int]:
    """Fail the running trials whose worker died and queue them again; return their numbers.

    A worker is dead when its heartbeat is older than the storage's grace period (RDB storages with a
    heartbeat; checked at most once per heartbeat interval unless ``force``) or when it ran on this
    machine and its process is gone (any storage).
    """
    storage = study._storage
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return []
    failed: list[int] = []
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    now = time.monotonic()
    if interval and (force or now - _last_stale_check.get(id(storage), 0.0) >= interval):
        _last_stale_check[id(storage)] = now
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # runs the storage's retry callback
        for t in running:
            if storage.get_trial(t._trial_id).state == TrialState.FAIL:
                failed.append(t.number)
    callback = _retry_callback(storage, max_retries)
    for t in running:
        worker = t.system_attrs.get(WORKER_ATTR)
        if t.number in failed:
            continue
        if isinstance(worker, str):
            if not _is_dead_here(worker):
                continue
        elif not _unclaimed_for_long(t):
            continue
        try:
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        except UpdateFinishedTrialError:  # another worker got there first
            continue
        failed.append(t.number)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            callback(study, storage.get_trial(t._trial_id))
    return sorted(failed)


def requeue(study: Study, trial_id: int) -> bool:
    """Queue an interrupted trial again with the same parameters; return whether it was queued.

    Used for a trial stopped by Ctrl-C: it is failed (its reason says so) and its retry is the next
    trial a worker asks for, so the interrupted configuration is run to the end when the search is
    resumed, and the interrupted attempt does not count toward the budget (the retry carries
    ``failed_trial``, as the retry of a dead worker's trial does; see :func:`budget_used`). Only the
    parameters and the lineage are copied: the attempt's reason, traceback, metrics and worker stay
    with it. A trial stopped before its parameters were sampled is queued too, without parameters: its
    retry samples afresh, and the interrupted attempt still does not count toward the budget.
    """
    frozen = study._storage.get_trial(trial_id)
    if frozen.state != TrialState.FAIL:
        return False
    history = [*frozen.system_attrs.get("retry_history", []), frozen.number]
    attrs = {
        RETRIED_ATTR: frozen.system_attrs.get(RETRIED_ATTR, frozen.number),
        "retry_history": history,
    }
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.WAITING,
            params=frozen.params,
            distributions=frozen.distributions,
            system_attrs=attrs,
        )
    )
    return True


#: A worker claims its trial in the same locked step that creates it, so a trial still without an owner
#: after this many seconds was created by a process killed between the two writes (or by a version
#: before the claim existed): it has no heartbeat either, and nothing else would ever end it.
UNCLAIMED_GRACE_S = 30.0


def _unclaimed_for_long(t: optuna.trial.FrozenTrial) -> bool:
    if t.datetime_start is None:
        return False
    started = t.datetime_start.timestamp()
    return time.time() - started > UNCLAIMED_GRACE_S


def budget_used(study: Study) -> tuple[int, int]:
    """``(trials that count toward the budget, trials running now)``.

    A trial counts from the moment it runs; a failed trial that was queued again does not (its retry
    does). Waiting (enqueued) trials count once a worker picks them up.
    """
    backend = _backend(study._storage)
    if isinstance(backend, RDBStorage):
        return _used_sql(backend, study._study_id)
    trials = study.get_trials(deepcopy=False)
    started = sum(1 for t in trials if t.state != TrialState.WAITING)
    retried = sum(1 for t in trials if RETRIED_ATTR in t.system_attrs)
    running = sum(1 for t in trials if t.state == TrialState.RUNNING)
    return started - retried, running


def _used_sql(storage: RDBStorage, study_id: int) -> tuple[int, int]:
    from sqlalchemy import text

    with storage.engine.connect() as con:
        rows: dict[Any, Any] = dict(
            con.execute(
                text("SELECT state, COUNT(*) FROM trials WHERE study_id = :s GROUP BY state"), {"s": study_id}
            ).all()
        )
        retried = con.execute(
            text(
                "SELECT COUNT(*) FROM trial_system_attributes a JOIN trials t ON a.trial_id = t.trial_id "
                "WHERE t.study_id = :s AND a.key = :k"
            ),
            {"s": study_id, "k": RETRIED_ATTR},
        ).scalar_one()
    started = sum(n for state, n in rows.items() if str(state) not in ("WAITING", "TrialState.WAITING"))
    running = sum(n for state, n in rows.items() if str(state) in ("RUNNING", "TrialState.RUNNING"))
    return started - int(retried), running


@contextlib.contextmanager
def study_lock(study: Study) -> Iterator[None]:
    """A lock held by one worker at a time across processes and machines sharing the study."""
    backend = _backend(study._storage)
    key = int.from_bytes(hashlib.sha256(study.study_name.encode()).digest()[:8], "big", signed=True)
    if isinstance(backend, RDBStorage) and backend.engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with backend.engine.connect() as con:
            con.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                con.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                con.commit()
        return
    path = _lock_path(backend)
    if path is None:  # in memory or another storage: one process only
        yield
        return
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released by the kernel if this process dies
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _lock_path(backend: BaseStorage) -> str | None:
    if isinstance(backend, RDBStorage) and backend.engine.dialect.name == "sqlite":
        db = backend.engine.url.database
        return f"{db}.lock" if db and db != ":memory:" else None
    if isinstance(backend, JournalStorage):
        path = getattr(getattr(backend, "_backend", None), "_file_path", None)
        return f"{path}.lock" if path else None
    return None


class StudyBudget:
    """The study's total trial count, shared through the storage by every worker on every machine.

    Args:
        total: the study's total number of trials; ``None``: no limit (a time budget).
        max_retries: how often a trial whose worker died is queued again.
        poll: seconds between checks while the budget is spent but trials still run elsewhere (one
            of them may die and need a retry).
    """

    def __init__(
        self,
        total: int | None,
        *,
        max_retries: int | None = 2,
        poll: float = 0.5,
        ctx: mp.context.BaseContext | None = None,
    ) -> None:
        self.total = total
        self.max_retries = max_retries
        self.poll = poll
        self._stop = (ctx or mp).Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def ask(self, study: Study, deadline: float | None, ask_fn: object) -> Trial | None:
        """The next trial of this worker, or ``None`` when the study's budget is spent (and nothing
        still running could need a retry), the deadline passed or the search was stopped."""
        while not self.stopped:
            if deadline is not None and time.time() >= deadline:
                return None
            trial = None
            with study_lock(study):  # held for one count and one insert: it serializes every worker
                recover_dead_trials(study, self.max_retries, force=False)
                used, running = budget_used(study)
                if self.total is None or used < self.total:
                    trial = ask_fn(study)  # type: ignore[operator]
                    # Claimed in the same locked step, so a trial without an owner is an orphan.
                    study._storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR, worker_id())
            if trial is not None:
                return trial
            if running == 0 or not _can_detect_deaths(study):
                return None
            time.sleep(self.poll)
        return None


def _can_detect_deaths(study: Study) -> bool:
    """Whether a running trial of another worker may still turn out dead and need a retry here."""
    return bool(getattr(study._storage, "get_heartbeat_interval", lambda: None)()) or any(
        isinstance(t.system_attrs.get(WORKER_ATTR), str)
        and t.system_attrs[WORKER_ATTR].startswith(_machine() + ":")
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    )
