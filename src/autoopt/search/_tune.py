"""``autoopt.tune``: hyperparameter search of any Python objective on an Optuna study."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.storages import BaseStorage, InMemoryStorage, JournalStorage
from optuna.study import Study
from optuna.trial import Trial, TrialState

from autoopt.exceptions import FatalSearchError, InvalidSpecError, NoCompleteTrialError, StorageError
from autoopt.io import open_storage
from autoopt.schedulers import make_pruner
from autoopt.search._budget import StudyBudget, budget_used, recover_dead_trials, requeue
from autoopt.search._loop import (
    Budget,
    LoopConfig,
    ask,
    check_initial_failures,
    fail_interrupted,
    fail_stale,
    first_line,
    heartbeat,
    run_loop,
    tell,
)
from autoopt.search._objective import (
    REASON_ATTR,
    ConstraintsArg,
    ObjectiveRunner,
    TrialOutcome,
    parse_constraints,
)
from autoopt.search._result import TuneResult
from autoopt.space import Space
from autoopt.strategies import StrategyContext, make_sampler

__all__ = ["tune", "Progress"]

CONFIG_ATTR = "autoopt:config"
DEFAULT_HEARTBEAT = 10  # seconds between heartbeats of a running trial (RDB storages)


class Progress(Protocol):
    """What ``tune`` tells a progress display (the CLI's is a rich progress bar)."""

    def start(self, total: int | None, done: int) -> None: ...
    def update(self, study: Study) -> None: ...
    def stop(self) -> None: ...


def _directions(direction: str, directions: Sequence[str] | None) -> list[str]:
    dirs = list(directions) if directions else [direction]
    bad = [d for d in dirs if d not in ("minimize", "maximize")]
    if bad:
        raise InvalidSpecError(f"direction: expected 'minimize' or 'maximize'; got {bad[0]!r}")
    return dirs


def is_remote_storage(storage: object) -> bool:
    """A database server (PostgreSQL, MySQL, ...): workers on other machines may share it."""
    if isinstance(storage, BaseStorage):
        engine = getattr(getattr(storage, "_backend", storage), "engine", None)
        return engine is not None and engine.dialect.name != "sqlite"
    text = str(storage) if storage is not None else ""
    return "://" in text and not text.startswith("sqlite:")


def check_jobs(jobs: object, storage: object = None, *, oversubscribe: bool = False) -> None:
    """``jobs``: an integer from 1 to the number of CPU cores (processes on this machine; a remote
    database storage may take more, e.g. when each trial waits on a GPU or a remote service, and so
    may a caller that says ``oversubscribe``)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InvalidSpecError(f"search.jobs: expected an integer >= 1; got {jobs!r}")
    cores = os.cpu_count() or 1
    if jobs > cores and not oversubscribe and not is_remote_storage(storage):
        raise InvalidSpecError(
            f"search.jobs: {jobs} parallel processes on a machine with {cores} CPU cores; expected at most "
            f"{cores} (more only with a database server storage, e.g. a postgresql:// URL, that workers "
            "on other machines share: autoopt worker)"
        )


#: Strategies whose sequence is kept in the study itself (QMC counts its samples there): resuming
#: them with the same seed continues the sequence, another seed would restart a different one.
_SEQUENCE_IN_STUDY = frozenset({"qmc"})


def resume_seed(seed: int | None, n_trials: int) -> int | None:
    """The sampler's seed for a session that finds ``n_trials`` trials already in the study.

    Optuna samplers are seeded when built, so a resumed search seeded like the first session would
    propose the first session's parameters again. The first session uses ``seed`` itself; a resumed
    one a seed derived from ``(seed, n_trials)``: still reproducible (the same sessions give the same
    trials), never the stream already used.
    """
    if seed is None or n_trials == 0:
        return seed
    import numpy as np

    return int(np.random.SeedSequence([seed, n_trials]).generate_state(1)[0] & 0x7FFFFFFF)


def _trials_in(storage: BaseStorage, name: str) -> int:
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return 0
    return len(storage.get_all_trials(study_id, deepcopy=False))


def tune(
    objective: Callable[..., Any],
    *,
    space: Space | Mapping[str, Any] | None = None,
    strategy: str = "auto",
    scheduler: str | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    jobs: int = 1,
    direction: str = "minimize",
    directions: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    constraints: ConstraintsArg = None,
    storage: str | Path | BaseStorage | None = None,
    study_name: str | None = None,
    seed: int | None = None,
    deterministic: bool = False,
    strategy_options: Mapping[str, Any] | None = None,
    scheduler_options: Mapping[str, Any] | None = None,
    max_initial_failures: int = 5,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retries: int | None = 2,
    storage_patience: float = 60.0,
    study_attrs: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    enqueue: Sequence[Mapping[str, Any]] | None = None,
    oversubscribe: bool = False,
) -> TuneResult:
    """Search the hyperparameters of ``objective``.

    Args:
        objective: ``def objective(trial)`` (define-by-run, Optuna style) or, with ``space``,
            ``def objective(params)``; either may take a second argument ``report`` to report
            intermediate values (``report(value, step)``) for early stopping. It returns a number, one
            number per direction, or a dict of named metrics (``metrics`` names the objectives).
        space: the search space (a :class:`~autoopt.space.Space` or its dict form).
        strategy: a registered strategy (``autoopt.strategies.list_strategies()``), default ``"auto"``.
        scheduler: early stopping: ``None``/``"none"``, ``"median"``, ``"asha"``, ``"hyperband"``.
        trials: the study's total number of trials; rerunning resumes up to it (finished trials of
            every state count).
        timeout: seconds after which no new trial starts.
        jobs: parallel trials, each in its own process, sharing the storage: from 1 to the number of
            CPU cores (more with a database server storage, or ``oversubscribe``).
        direction: ``"minimize"`` or ``"maximize"`` (one objective).
        directions: one direction per objective (several objectives).
        metrics: names of the objectives (keys of a returned dict).
        constraints: e.g. ``["params <= 200_000"]`` over returned metrics or params; infeasible trials
            are never picked as best.
        storage: ``None`` (in memory), a path (``study.db``, ``study.log``) or a URL.
        study_name: the study in the storage (created, or resumed when it exists).
        seed: makes the trials reproducible (with ``jobs > 1`` only under ``deterministic``).
        deterministic: with ``jobs > 1``, ask trials in batches of ``jobs`` and tell them in trial-number
            order, so the same seed gives the same trials whatever the timing (needs ``space``).
        strategy_options: keyword options for the strategy's sampler.
        scheduler_options: keyword options for the scheduler.
        max_initial_failures: stop with the first traceback when this session's first N trials all fail.
        heartbeat_interval: seconds between heartbeats of running trials (RDB storages; default
            10, 0 turns them off); a trial whose worker stopped beating for ``grace_period`` seconds
            (default ``3 * heartbeat_interval``) is failed and queued again. A trial whose worker
            process on this machine died is recovered at once, on any storage.
        max_retries: how often a trial whose worker died is queued again (same parameters; the
            lineage is in its system attrs ``failed_trial`` and ``retry_history``).
        storage_patience: seconds a worker retries an unreachable storage (with backoff) before it
            stops with a :class:`~autoopt.exceptions.StorageError`; finished trials are kept.
        study_attrs: user attributes stored with the study (``autoopt run`` stores its spec there, so
            ``autoopt worker`` needs only the storage URL and the study name).
        progress: a progress display (the CLI passes a rich progress bar).
        enqueue: parameter sets tried first when the study is new (warm start from an earlier search).
        oversubscribe: allow more ``jobs`` than CPU cores on a local storage (trials that mostly wait,
            on I/O or a remote service; storage stress tests). The CLI and specs never do.

    Returns:
        A :class:`TuneResult` with ``best_params``, ``best_value``, ``pareto``, ``trials`` and ``study``.

    Example:
        >>> import autoopt
        >>> result = autoopt.tune(lambda p: (p["x"] - 2) ** 2, space={"x": {"low": -5.0, "high": 5.0}},
        ...                       trials=20, seed=0)
        >>> abs(result.best_params["x"] - 2) < 1.5
        True
    """
    dirs = _directions(direction, directions)
    if space is not None and not isinstance(space, Space):
        space = Space.from_dict(space)
    if trials is None and timeout is None:
        raise InvalidSpecError(
            "search.trials: give a trial budget ('trials') or a time budget ('timeout'), or both"
        )
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise InvalidSpecError(f"search.trials: expected an integer >= 1; got {trials!r}")
    if timeout is not None and timeout <= 0:
        raise InvalidSpecError(f"search.timeout: expected seconds > 0; got {timeout!r}")
    check_jobs(jobs, storage, oversubscribe=oversubscribe)
    if deterministic and jobs > 1 and space is None:
        raise InvalidSpecError(
            "search.deterministic: the deterministic parallel mode needs a declared space (space=...), "
            "so that "
            "every trial's parameters are sampled in order by the coordinating process"
        )
    if strategy == "grid" and space is not None:
        size = space.grid_size()  # a grid is exhausted after this many trials
        trials = size if trials is None else min(trials, size)
    parsed_constraints = parse_constraints(constraints)
    pruner = make_pruner(scheduler, n_objectives=len(dirs), **dict(scheduler_options or {}))
    if jobs > 1 and (storage is None or isinstance(storage, InMemoryStorage)):
        raise InvalidSpecError(
            f"search.jobs: {jobs} parallel processes need a storage they can share; pass storage='study.db' "
            "(SQLite), a journal file ('study.log') or a database URL"
        )
    store = open_storage(
        storage,
        heartbeat_interval=DEFAULT_HEARTBEAT if heartbeat_interval is None else (heartbeat_interval or None),
        grace_period=grace_period,
        max_retries=max_retries,
    )
    name = study_name or getattr(objective, "__name__", None) or "autoopt"
    if name == "<lambda>":
        name = "autoopt"
    n_before = _trials_in(store, name)
    ctx = StrategyContext(
        seed=seed if strategy in _SEQUENCE_IN_STUDY else resume_seed(seed, n_before),
        space=space,
        n_trials=trials,
        directions=dirs,
        options=dict(strategy_options or {}),
        constrained=bool(parsed_constraints),
    )
    sampler = make_sampler(strategy, ctx)
    study = _create_or_resume(store, name, dirs, sampler, pruner)
    config = {
        "strategy": strategy,
        "scheduler": scheduler or "none",
        "directions": dirs,
        "metrics": list(metrics) if metrics else None,
        "constraints": [str(c) for c in parsed_constraints],
        "space": space.to_dict() if space is not None else None,
        "seed": seed,
    }
    study.set_user_attr(CONFIG_ATTR, config)
    for key, value in (study_attrs or {}).items():
        study.set_user_attr(key, value)
    if enqueue and not study.get_trials(deepcopy=False):
        for params in enqueue:
            study.enqueue_trial(dict(params), skip_if_exists=True)
    names = (
        list(metrics)
        if metrics
        else (["value"] if len(dirs) == 1 else [f"value_{i}" for i in range(len(dirs))])
    )
    runner = ObjectiveRunner(
        objective,
        space=space,
        directions=dirs,
        metrics=metrics,
        constraints=parsed_constraints,
        pruner=pruner,
    )

    fail_stale(study)
    shared = not isinstance(store, InMemoryStorage)
    # Finished trials count toward the budget, except an attempt that was queued again (a dead
    # worker's or an interrupted trial): its retry counts instead.
    used, running = budget_used(study)
    done = used - running
    remaining = None if trials is None else max(0, trials - used + running)
    deadline = None if timeout is None else time.time() + timeout
    first_number = len(study.get_trials(deepcopy=False))
    if progress is not None:
        progress.start(trials, done)
    interrupted = False
    try:
        if remaining == 0:
            pass
        elif jobs == 1:
            budget = StudyBudget(trials, max_retries=max_retries) if shared else Budget(remaining)
            cfg = LoopConfig(runner, budget, deadline, first_number, max_initial_failures, storage_patience)
            update = (lambda s, o: progress.update(s)) if progress is not None else None
            interrupted = run_loop(study, cfg, on_trial_end=update)
        elif deterministic:
            interrupted = _run_deterministic(
                study, runner, jobs, remaining, deadline, first_number, max_initial_failures, progress
            )
        else:
            interrupted = _run_processes(
                study,
                runner,
                store,
                strategy,
                ctx,
                jobs,
                remaining,
                deadline,
                first_number,
                max_initial_failures,
                progress,
                trials,
                max_retries,
                storage_patience,
            )
    finally:
        if progress is not None:
            with contextlib.suppress(Exception):
                progress.update(study)
            progress.stop()
    fixed = (
        {p.name: p.value for p in space if not p.condition and p.name not in space.distributions()}  # type: ignore[union-attr]
        if space
        else {}
    )
    result = TuneResult(study=study, metrics=names, interrupted=interrupted, fixed=fixed)
    if not interrupted:
        _check_some_complete(result, timeout)
    return result


def _check_some_complete(result: TuneResult, timeout: float | None) -> None:
    """Raise :class:`NoCompleteTrialError` when the study holds no complete trial: a search in which
    every trial failed is not a success, and nothing downstream has a best trial to use."""
    trials = result.study.get_trials(deepcopy=False)
    if any(t.state == TrialState.COMPLETE for t in trials):
        return
    name = result.study.study_name
    failed = [t for t in trials if t.state == TrialState.FAIL]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    real = [t for t in failed if "interrupted by the user" not in str(t.user_attrs.get(REASON_ATTR, ""))]
    if real:
        first = real[0]
        reason = str(first.user_attrs.get(REASON_ATTR) or "(no reason recorded)").strip()
        reason = first_line(reason) if reason else "(no reason recorded)"
        raise NoCompleteTrialError(
            f"search: no trial completed ({len(failed)} failed"
            + (f", {len(pruned)} pruned" if pruned else "")
            + f", study {name!r}); the first failure, trial {first.number}: {reason}",
            result=result,
            trial=first.number,
        )
    if pruned:
        raise NoCompleteTrialError(
            f"search: all {len(pruned)} finished trials were pruned (study {name!r}); none completed: "
            "lower the scheduler's aggressiveness or raise the budget",
            result=result,
        )
    within = f" within the timeout of {timeout:g} s" if timeout is not None else ""
    raise NoCompleteTrialError(
        f"search: no trial finished{within} (study {name!r}); raise 'timeout' or give a trial budget",
        result=result,
    )


def _create_or_resume(
    storage: BaseStorage, name: str, dirs: list[str], sampler: optuna.samplers.BaseSampler, pruner: Any
) -> Study:
    try:
        existing = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
    except KeyError:
        return optuna.create_study(
            study_name=name,
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            directions=dirs,  # type: ignore[arg-type]
        )
    have = [d.name.lower() for d in existing.directions]
    if have != dirs:
        raise InvalidSpecError(
            f"study {name!r} already exists in this storage with directions {have}, not {dirs}; "
            "use another study name or run directory"
        )
    return existing


# ---- parallel: independent worker processes ----------------------------------------------------------
def _mp_context() -> mp.context.BaseContext:
    # fork keeps closures and objectives defined in scripts usable; spawn where fork is unavailable.
    return mp.get_context("fork") if sys.platform.startswith("linux") else mp.get_context("spawn")


def _worker_main(
    study_name: str,
    storage: Any,
    strategy: str,
    ctx: StrategyContext,
    worker: int,
    cfg: LoopConfig,
    errors: Any,
) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _die_with_parent()
    _own_storage_identity(storage)
    seed = None if ctx.seed is None else ctx.seed + 7919 * (worker + 1)
    sampler = make_sampler(strategy, StrategyContext(**{**ctx.__dict__, "seed": seed}))
    study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=sampler, pruner=cfg.runner.pruner
    )
    try:
        run_loop(study, cfg)
    except (FatalSearchError, StorageError) as e:
        errors.put((type(e).__name__, str(e)))
    except KeyboardInterrupt:
        pass


def _own_storage_identity(storage: Any) -> None:
    """After fork: fresh database connections, and a journal writer id of this process's own (a
    forked JournalStorage keeps its parent's id, so each process would take the others' new trials
    for its own and two workers could run the same trial)."""
    if isinstance(storage, BaseStorage) and hasattr(storage, "engine"):
        storage.engine.dispose(close=False)  # never reuse the parent's connections after fork
    if isinstance(storage, JournalStorage):
        storage.__setstate__(storage.__getstate__())  # new worker id, replay from the log


def _die_with_parent() -> None:
    """A worker process ends when its coordinator dies (Linux), so no orphan keeps running trials; its
    running trial is recovered (failed and queued again) when the command is run again."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _run_processes(
    study: Study,
    runner: ObjectiveRunner,
    storage: BaseStorage,
    strategy: str,
    ctx: StrategyContext,
    jobs: int,
    remaining: int | None,
    deadline: float | None,
    first_number: int,
    max_initial_failures: int,
    progress: Progress | None,
    total: int | None = None,
    max_retries: int | None = 2,
    storage_patience: float = 60.0,
) -> bool:
    mpc: Any = _mp_context()
    budget = StudyBudget(total, max_retries=max_retries, ctx=mpc)
    errors = mpc.Queue()
    cfg = LoopConfig(runner, budget, deadline, first_number, max_initial_failures, storage_patience)
    procs = [
        mpc.Process(
            target=_worker_main, args=(study.study_name, storage, strategy, ctx, i, cfg, errors), daemon=False
        )
        for i in range(jobs)
    ]
    interrupted = False
    try:
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs):
            for p in procs:
                p.join(timeout=0.5)
            if progress is not None:
                with contextlib.suppress(Exception):  # the storage may be briefly unreachable
                    progress.update(study)
    except KeyboardInterrupt:
        interrupted = True
        budget.stop()
        for p in procs:
            p.join(timeout=30)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
    with contextlib.suppress(Exception):  # best effort: a lost storage is recovered at the next run
        recover_dead_trials(study, max_retries)  # a killed worker's trial: failed, queued again
        _fail_orphans(study, first_number, "its worker process stopped")
    if not errors.empty():
        kind, message = errors.get()
        raise (StorageError if kind == "StorageError" else FatalSearchError)(message)
    if any(
        "interrupted by the user" in str(t.user_attrs.get(REASON_ATTR, ""))
        for t in study.get_trials(deepcopy=False)[first_number:]
    ):
        interrupted = True
    return interrupted


def _fail_orphans(study: Study, first_number: int, why: str) -> None:
    """Trials of this session still RUNNING after all workers ended: mark them failed, with the reason."""
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.number >= first_number:
            with contextlib.suppress(Exception):
                study._storage.set_trial_user_attr(t._trial_id, REASON_ATTR, why)
                study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
                requeue(study, t._trial_id)  # run again, with the same parameters, when resumed


# ---- parallel and reproducible: batches asked in order, told in order ----------------------------------
_DET: dict[str, Any] = {}


def _det_init() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _own_storage_identity(_DET["storage"])


def _det_run(trial_id: int, cutoff: int) -> TrialOutcome:
    study = optuna.load_study(study_name=_DET["name"], storage=_DET["storage"], pruner=_DET["runner"].pruner)
    trial = Trial(study, trial_id)
    with heartbeat(study, trial):
        return _DET["runner"].run(trial, visible_before=cutoff)


def _run_deterministic(
    study: Study,
    runner: ObjectiveRunner,
    jobs: int,
    remaining: int | None,
    deadline: float | None,
    first_number: int,
    max_initial_failures: int,
    progress: Progress | None,
) -> bool:
    assert runner.space is not None  # checked by tune()
    _DET.update(name=study.study_name, storage=study._storage, runner=runner)
    left = remaining
    batch: list[Trial] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context(), initializer=_det_init) as pool:
        try:
            while left is None or left > 0:
                if deadline is not None and time.time() >= deadline:
                    break
                n = jobs if left is None else min(jobs, left)
                batch = []
                for _ in range(n):
                    t = ask(study)
                    runner.space.sample(t)  # parameters fixed here, in trial-number order
                    batch.append(t)
                futures = [pool.submit(_det_run, t._trial_id, batch[0].number) for t in batch]
                outcomes = [f.result() for f in futures]
                for t, o in zip(batch, outcomes, strict=False):
                    tell(study, t, o)
                    if o.interrupted:
                        fail_interrupted(study, t)
                batch = []
                if progress is not None:
                    progress.update(study)
                if any(o.interrupted for o in outcomes):
                    return True
                fatal = [o for o in outcomes if o.fatal]
                if fatal:
                    raise FatalSearchError(fatal[0].reason or "the objective asked to stop the search")
                check_initial_failures(study, first_number, max_initial_failures)
                if left is not None:
                    left -= n
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            for t in batch:
                fail_interrupted(study, t)
            return True
    return False
