from __future__ import annotations

import math
import os
import re
import time

import optuna
import pytest

import autoopt
from autoopt.exceptions import FatalSearchError, InvalidSpecError, NoCompleteTrialError, StorageError
from autoopt.io import redact_url

SPACE = {"x": {"low": -5.0, "high": 5.0}, "y": {"low": -5.0, "high": 5.0}}


def sphere(p):
    return (p["x"] - 1.0) ** 2 + (p["y"] + 2.0) ** 2


def test_params_objective_and_result():
    r = autoopt.tune(sphere, space=SPACE, strategy="tpe", trials=25, seed=0)
    assert len(r.trials) == 25 and r.counts() == {"COMPLETE": 25}
    assert r.best_value == min(t.values[0] for t in r.trials)
    assert set(r.best_params) == {"x", "y"}
    row = r.trials[0]
    assert row.duration_s is not None and row.state == "COMPLETE" and row.metrics == {"value": row.values[0]}


def test_define_by_run_objective_and_maximize():
    r = autoopt.tune(
        lambda t: -abs(t.suggest_int("n", 0, 20) - 7), direction="maximize", strategy="tpe", trials=30, seed=1
    )
    assert r.best_params == {"n": 7} and r.best_value == 0


def test_fixed_values_reach_the_objective_and_best_params():
    seen = []
    r = autoopt.tune(
        lambda p: seen.append(p["epochs"]) or p["x"] ** 2,
        space={"x": {"low": -1.0, "high": 1.0}, "epochs": 3},
        trials=3,
        seed=0,
    )
    assert seen == [3, 3, 3] and r.best_params["epochs"] == 3


def test_dict_results_metrics_and_constraints():
    def objective(p):
        size = p["width"] * 1000
        return {"error": 1.0 / p["width"], "params": size}

    r = autoopt.tune(
        objective,
        space={"width": {"low": 1, "high": 100}},
        metrics=["error"],
        constraints=["params <= 40_000"],
        strategy="random",
        trials=40,
        seed=0,
    )
    feasible = [t for t in r.trials if t.metrics["params"] <= 40_000]
    assert feasible and r.best_params["width"] == max(t.params["width"] for t in feasible)
    assert r.best_trial.user_attrs["autoopt:metrics"]["params"] <= 40_000
    assert any(not t.feasible for t in r.trials)


def test_constraint_naming_a_missing_metric_fails_the_trial_with_the_fix():
    with pytest.raises(NoCompleteTrialError, match="no trial completed.*constraint 'params <= 5'") as e:
        autoopt.tune(
            lambda p: p["x"],
            space={"x": {"low": 0.0, "high": 1.0}},
            constraints=["params <= 5"],
            trials=2,
            seed=0,
            max_initial_failures=0,
        )
    r = e.value.result
    assert all(t.state == "FAIL" for t in r.trials)
    assert "constraint 'params <= 5': the trial has no metric or parameter 'params'" in r.trials[0].reason


def test_bad_constraint_syntax():
    with pytest.raises(InvalidSpecError, match=r"search.constraints\[0\]: expected 'NAME <= NUMBER'"):
        autoopt.tune(sphere, space=SPACE, trials=1, constraints=["params < 5"])


def test_multi_objective_returns_the_pareto_front():
    def objective(p):
        return p["x"] ** 2, (p["x"] - 2) ** 2

    r = autoopt.tune(
        objective,
        space={"x": {"low": -4.0, "high": 6.0}},
        directions=["minimize", "minimize"],
        metrics=["a", "b"],
        trials=30,
        seed=0,
    )
    front = r.pareto
    assert len(front) >= 3
    for row in front:  # nothing in the front is dominated by any complete trial
        for other in r.trials:
            assert not (other.values[0] < row.values[0] and other.values[1] < row.values[1])
    numbers = {row.number for row in front}
    for other in r.trials:  # and everything outside it is dominated by some member
        if other.number not in numbers:
            assert any(row.values[0] <= other.values[0] and row.values[1] <= other.values[1] for row in front)
    with pytest.raises(AttributeError, match="use .pareto"):
        _ = r.best_value
    assert r.to_dict()["pareto"]


def test_failing_trials_are_recorded_and_the_search_goes_on():
    def objective(p):
        if p["x"] < 0:
            raise RuntimeError("negative x is not supported")
        return p["x"]

    r = autoopt.tune(objective, space={"x": {"low": -1.0, "high": 1.0}}, strategy="random", trials=20, seed=0)
    failed = [t for t in r.trials if t.state == "FAIL"]
    assert failed and len(r.trials) == 20
    assert failed[0].reason == "RuntimeError: negative x is not supported"
    assert r.best_value >= 0


def test_first_n_failures_stop_with_the_first_traceback():
    calls = []

    def objective(p):
        calls.append(1)
        raise ValueError("bad data path")

    with pytest.raises(
        FatalSearchError, match=r"the first 3 trials all failed.*trial 0: ValueError: bad data path$"
    ) as e:
        autoopt.tune(objective, space=SPACE, trials=50, max_initial_failures=3)
    assert len(calls) == 3 and e.value.trial == 0  # one line; the traceback stays with trial 0


@pytest.mark.parametrize(
    "objective, match",
    [
        (lambda p: float("nan"), "trial 0: ObjectiveError: objective value 'value' is nan"),
        (lambda p: 1 / 0, "trial 0: ZeroDivisionError: division by zero"),
    ],
)
def test_a_search_where_every_trial_failed_raises_with_the_first_reason(objective, match):
    with pytest.raises(NoCompleteTrialError, match=r"no trial completed \(3 failed.*" + match) as e:
        autoopt.tune(objective, space=SPACE, trials=3)
    assert e.value.result.counts() == {"FAIL": 3}


def test_params_objective_without_a_space_stops_at_once_naming_the_fix():
    calls = []

    def needs_params(p):
        calls.append(1)
        return p["x"]

    with pytest.raises(FatalSearchError, match=r"needs_params\(\) reads its argument as a dict.*--space"):
        autoopt.tune(needs_params, trials=5)
    assert len(calls) == 1


def test_trials_and_jobs_bounds():
    with pytest.raises(InvalidSpecError, match="search.trials: expected an integer >= 1; got 0"):
        autoopt.tune(sphere, space=SPACE, trials=0)
    with pytest.raises(InvalidSpecError, match="search.jobs: expected an integer >= 1; got 0"):
        autoopt.tune(sphere, space=SPACE, trials=1, jobs=0)
    too_many = (os.cpu_count() or 1) + 1
    with pytest.raises(InvalidSpecError, match=rf"search.jobs: {too_many} parallel processes.*cores"):
        autoopt.tune(sphere, space=SPACE, trials=1, jobs=too_many, storage="x.db")
    with pytest.raises(InvalidSpecError, match="search.jobs: expected an integer >= 1; got 0"):
        autoopt.tune(sphere, space=SPACE, trials=1, jobs=0, oversubscribe=True)


@pytest.mark.parametrize(
    "value, match",
    [
        (float("nan"), "objective value 'value' is nan; expected a finite number"),
        (float("inf"), "objective value 'value' is inf"),
        ((1.0, 2.0), r"the objective returned 2 value\(s\), expected 1"),
        ("text", "the objective returned str"),
        ({"a": 1.0, "b": 2.0}, "name the objective"),
    ],
)
def test_bad_objective_values_fail_the_trial(value, match):
    with pytest.raises(NoCompleteTrialError) as e:
        autoopt.tune(lambda p: value, space=SPACE, trials=1, max_initial_failures=0)
    r = e.value.result
    assert r.trials[0].state == "FAIL" and e.value.trial == 0 and "\n" not in str(e.value)
    assert re.search(match, r.trials[0].reason)


def test_resume_continues_numbering_and_loses_nothing(tmp_path):
    db = tmp_path / "study.db"
    r1 = autoopt.tune(sphere, space=SPACE, trials=6, seed=0, storage=db, study_name="s")
    first = [(t.number, t.params) for t in r1.trials]
    r2 = autoopt.tune(sphere, space=SPACE, trials=10, seed=0, storage=db, study_name="s")
    assert [t.number for t in r2.trials] == list(range(10))
    assert [(t.number, t.params) for t in r2.trials[:6]] == first
    r3 = autoopt.tune(sphere, space=SPACE, trials=10, seed=0, storage=db, study_name="s")  # already done
    assert len(r3.trials) == 10


def test_interrupt_marks_the_running_trial_and_keeps_results(tmp_path):
    db = tmp_path / "study.db"

    def objective(p):
        if len(seen) == 3:
            raise KeyboardInterrupt
        seen.append(p)
        return sphere(p)

    seen: list = []
    r = autoopt.tune(objective, space=SPACE, trials=10, seed=0, storage=db, study_name="s")
    assert r.interrupted
    assert [t.state for t in r.trials] == ["COMPLETE"] * 3 + ["FAIL", "WAITING"]  # queued again
    assert r.trials[3].reason == "interrupted by the user (Ctrl-C)"
    seen.clear()
    r2 = autoopt.tune(lambda p: sphere(p), space=SPACE, trials=10, seed=0, storage=db, study_name="s")
    # The interrupted trial is retried first, with its parameters, and only the retry counts: 10 complete.
    assert not r2.interrupted and r2.counts() == {"COMPLETE": 10, "FAIL": 1}
    retry = r2.study.trials[4]
    assert retry.params == r.trials[3].params and retry.system_attrs["failed_trial"] == 3
    assert "autoopt:fail_reason" not in retry.user_attrs


def test_interrupted_trial_in_memory_is_queued_again_without_spending_budget():
    calls = []

    def objective(p):
        calls.append(dict(p))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return sphere(p)

    storage = optuna.storages.InMemoryStorage()
    r = autoopt.tune(
        objective, space=SPACE, strategy="random", trials=4, seed=0, storage=storage, study_name="m"
    )
    assert r.interrupted and r.study.trials[-1].state.name == "WAITING"
    r2 = autoopt.tune(
        objective, space=SPACE, strategy="random", trials=4, seed=0, storage=storage, study_name="m"
    )
    assert calls[2] == calls[1]  # the retry ran first, with the interrupted trial's parameters
    assert r2.counts() == {"COMPLETE": 4, "FAIL": 1} and len(calls) == 5


STRATEGY_SPACES = {"grid": {"x": {"low": 0, "high": 11}, "y": {"choices": ["a", "b"]}}}


@pytest.mark.parametrize(
    "strategy",
    ["random", "tpe", "auto", "qmc", "evolution", "cmaes", "bayes", "regularized-evolution", "rl", "grid"],
)
def test_resume_never_proposes_the_same_parameters_again(tmp_path, strategy):
    """3 trials, then the same command with 6 on the same storage: six distinct parameter sets (the
    sampler was once re-seeded identically, so the last three repeated the first three)."""
    space = STRATEGY_SPACES.get(strategy, SPACE)
    kwargs = dict(space=space, strategy=strategy, seed=0, storage=tmp_path / "s.db", study_name="s")
    autoopt.tune(lambda p: float(hash(str(sorted(p.items()))) % 97), trials=3, **kwargs)
    r = autoopt.tune(lambda p: float(hash(str(sorted(p.items()))) % 97), trials=6, **kwargs)
    sets = [tuple(sorted(t.params.items())) for t in r.trials]
    assert len(sets) == 6 and len(set(sets)) == 6, sets


def test_resumed_sessions_are_reproducible(tmp_path):
    def two_sessions(db):
        kwargs = dict(space=SPACE, strategy="tpe", seed=3, storage=db, study_name="s")
        autoopt.tune(sphere, trials=3, **kwargs)
        return [t.params for t in autoopt.tune(sphere, trials=6, **kwargs).trials]

    assert two_sessions(tmp_path / "a.db") == two_sessions(tmp_path / "b.db")


def test_timeout_budget():
    t0 = time.time()
    r = autoopt.tune(
        lambda p: time.sleep(0.05) or sphere(p), space=SPACE, timeout=0.5, strategy="random", seed=0
    )
    assert 2 <= len(r.trials) <= 15 and time.time() - t0 < 3


def _slow_sphere(p):
    time.sleep(0.05)
    return sphere(p) + 0 * os.getpid()


@pytest.mark.parametrize("storage_name", ["study.db", "study.log"])
def test_parallel_jobs_no_duplicated_or_lost_trials(tmp_path, storage_name):
    r = autoopt.tune(
        _slow_sphere,
        space=SPACE,
        strategy="random",
        trials=12,
        jobs=2,
        seed=0,
        storage=tmp_path / storage_name,
        study_name="p",
    )
    numbers = [t.number for t in r.trials]
    assert numbers == list(range(12)) and r.counts() == {"COMPLETE": 12}
    assert len({(t.params["x"], t.params["y"]) for t in r.trials}) == 12


def _pid_objective(p, report):
    for step in range(3):
        report(sphere(p), step)
    return sphere(p)


def test_parallel_really_uses_two_processes(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()

    def objective(p):
        (pids / str(os.getpid())).touch()
        time.sleep(0.1)
        return sphere(p)

    autoopt.tune(
        objective, space=SPACE, strategy="random", trials=6, jobs=2, seed=0, storage=tmp_path / "s.db"
    )
    assert len(list(pids.iterdir())) == 2 and str(os.getpid()) not in os.listdir(pids)


def test_deterministic_parallel_mode_reproduces_trials(tmp_path):
    def run(name):
        return autoopt.tune(
            _pid_objective,
            space=SPACE,
            strategy="tpe",
            scheduler="asha",
            trials=10,
            jobs=2,
            deterministic=True,
            seed=7,
            storage=tmp_path / "d.db",
            study_name=name,
        )

    a, b = run("a"), run("b")
    assert [(t.params, t.state, t.values) for t in a.trials] == [
        (t.params, t.state, t.values) for t in b.trials
    ]
    assert [t.number for t in a.trials] == list(range(10))


def test_deterministic_needs_a_space(tmp_path):
    with pytest.raises(InvalidSpecError, match="deterministic parallel mode needs a declared space"):
        autoopt.tune(lambda t: 0.0, trials=2, jobs=2, deterministic=True, storage=tmp_path / "x.db")


def test_jobs_need_a_shared_storage():
    with pytest.raises(InvalidSpecError, match="search.jobs: 2 parallel processes need a storage"):
        autoopt.tune(sphere, space=SPACE, trials=2, jobs=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(), "give a trial budget"),
        (dict(trials=-1), r"search.trials: expected an integer >= 1; got -1"),
        (dict(trials=3, jobs=0), "search.jobs: expected an integer >= 1"),
        (dict(trials=3, direction="up"), "direction: expected 'minimize' or 'maximize'; got 'up'"),
        (dict(trials=3, strategy="nope"), "search.strategy: unknown strategy 'nope'"),
        (dict(trials=3, scheduler="nope"), "search.scheduler: unknown scheduler 'nope'"),
        (dict(trials=3, metrics=["a", "b"]), r"metrics: 2 name\(s\)"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(InvalidSpecError, match=match):
        autoopt.tune(sphere, space=SPACE, **kwargs)


def test_resume_with_other_directions_is_refused(tmp_path):
    autoopt.tune(sphere, space=SPACE, trials=1, storage=tmp_path / "s.db", study_name="s")
    with pytest.raises(
        InvalidSpecError, match=r"already exists in this storage with directions \['minimize'\]"
    ):
        autoopt.tune(
            sphere, space=SPACE, trials=2, storage=tmp_path / "s.db", study_name="s", direction="maximize"
        )


def test_storage_that_cannot_be_opened_names_the_url_without_password(tmp_path):
    with pytest.raises(StorageError, match=r"folder .* does not exist"):
        autoopt.tune(sphere, space=SPACE, trials=1, storage=tmp_path / "missing" / "s.db")
    with pytest.raises(StorageError) as e:
        autoopt.tune(sphere, space=SPACE, trials=1, storage="postgresql://bob:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(e.value) and "bob:***@127.0.0.1:1/db" in str(e.value)


def test_redact_url():
    assert redact_url("postgresql://u:p%40ss@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact_url("sqlite:///a/b.db") == "sqlite:///a/b.db"


def test_heartbeat_fails_a_dead_workers_trial(tmp_path):
    db = tmp_path / "hb.db"
    from autoopt.io import open_storage

    storage = open_storage(db, heartbeat_interval=1)
    study = optuna.create_study(storage=storage, study_name="h")
    with pytest.warns(UserWarning, match="Heartbeat"):
        orphan = study.ask()  # a worker that asked, beat once and died
    storage.record_heartbeat(orphan._trial_id)
    # The grace period is max(3 * interval, 10) s: make the heartbeat old instead of waiting.
    with storage.engine.begin() as con:
        from sqlalchemy import text

        con.execute(text("UPDATE trial_heartbeats SET heartbeat = datetime('now', '-1 hour')"))
    r = autoopt.tune(sphere, space=SPACE, trials=3, storage=storage, study_name="h", heartbeat_interval=1)
    # The dead trial is failed and queued again with its lineage; the retry takes its place in the budget.
    assert r.trials[0].state == "FAIL" and len(r.trials) == 4
    assert [t.state for t in r.trials[1:]] == ["COMPLETE"] * 3
    assert r.study.trials[1].system_attrs["retry_history"] == [0]
    assert math.isfinite(r.best_value)


def test_rejected_candidates_never_stop_the_search_as_a_broken_objective() -> None:
    from autoopt.exceptions import TrialRejected

    def objective(params: dict) -> float:
        if params["x"] < 0.9:
            raise TrialRejected(f"x {params['x']:.2f} breaks the budget")
        return params["x"]

    res = autoopt.tune(
        objective,
        space={"x": {"type": "float", "low": 0.0, "high": 1.0}},
        strategy="random",
        trials=12,
        seed=0,
        max_initial_failures=3,
    )
    assert len(res.trials) == 12  # far more than 3 rejections in a row, and the search went on
    rejected = [r for r in res.trials if r.state == "FAIL"]
    assert len(rejected) >= 3 and all(r.reason.startswith("rejected: x ") for r in rejected)
    assert all(t.user_attrs.get("autoopt:rejected") for t in res.study.get_trials() if t.state.name == "FAIL")


def test_a_trial_interrupted_before_sampling_is_queued_again_and_costs_no_budget():
    from autoopt.search._budget import budget_used, requeue

    study = optuna.create_study()
    first = study.ask()
    study.tell(first, 1.0)
    stopped = study.ask()  # Ctrl-C between ask and sampling: no parameters yet
    study.tell(stopped, state=optuna.trial.TrialState.FAIL)
    assert requeue(study, stopped._trial_id)
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].params == {}
    assert budget_used(study) == (1, 0)  # the completed trial only; the retry counts once it runs
    retry = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    assert retry.number == waiting[0].number and 0 <= retry.params["x"] <= 1
