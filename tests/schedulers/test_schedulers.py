from __future__ import annotations

import numpy as np
import optuna
import pytest

import autoopt
from autoopt.exceptions import NoCompleteTrialError, ObjectiveError, UnknownNameError
from autoopt.schedulers import (
    MOASHAPruner,
    MOHyperbandPruner,
    intermediate_vectors,
    list_schedulers,
    make_pruner,
    nondominated_rank,
)

SPACE = {"x": {"low": -3.0, "high": 3.0}}
EPOCHS = 9


def curve(params, report):
    """A learning curve whose level is set by x: bad x stays bad at every epoch."""
    level = (params["x"] - 1.0) ** 2
    for epoch in range(EPOCHS):
        report(level + 1.0 / (epoch + 1), step=epoch)
    return level


@pytest.mark.parametrize("scheduler", ["asha", "hyperband", "median"])
def test_scheduler_prunes_bad_trials_and_keeps_the_best(scheduler):
    r = autoopt.tune(curve, space=SPACE, strategy="random", scheduler=scheduler, trials=30, seed=0)
    counts = r.counts()
    assert counts.get("PRUNED", 0) >= 10, counts
    # A pruned trial stopped early: fewer reported steps than the full curve.
    pruned = [t for t in r.study.get_trials() if t.state.name == "PRUNED"]
    assert all(len(t.intermediate_values) < EPOCHS for t in pruned)
    # Early stopping never throws away the best region: the best complete trial is near x = 1.
    rnd = autoopt.tune(curve, space=SPACE, strategy="random", trials=30, seed=0)
    assert r.best_value <= rnd.best_value + 1e-12


def test_no_scheduler_prunes_nothing():
    r = autoopt.tune(curve, space=SPACE, strategy="random", scheduler="none", trials=10, seed=0)
    assert r.counts() == {"COMPLETE": 10}


def test_multi_objective_asha_prunes_dominated_trials():
    def two(params, report):
        a, b = params["x"] ** 2, (params["x"] - 2) ** 2
        for epoch in range(EPOCHS):
            report([a + 1 / (epoch + 1), b + 1 / (epoch + 1)], step=epoch)
        return a, b

    space = {"x": {"low": -6.0, "high": 8.0}}
    r = autoopt.tune(
        two,
        space=space,
        strategy="random",
        scheduler="asha",
        trials=30,
        seed=0,
        directions=["minimize", "minimize"],
    )
    counts = r.counts()
    assert counts.get("PRUNED", 0) >= 10 and counts.get("COMPLETE", 0) >= 2, counts
    # Trials with x in [0, 2] are Pareto-optimal; those outside it (dominated) are the pruned ones.
    front_x = [t.params["x"] for t in r.pareto]
    assert front_x and all(-0.5 <= x <= 2.5 for x in front_x)
    pruned_x = [t.params["x"] for t in r.study.get_trials() if t.state.name == "PRUNED"]
    assert np.median([abs(x - 1) for x in pruned_x]) > 2


@pytest.mark.parametrize("scheduler", ["hyperband", "median"])
def test_multi_objective_other_schedulers(scheduler):
    def two(params, report):  # the second objective is maximized: the same trade-off as above
        a, b = params["x"] ** 2, -((params["x"] - 2) ** 2)
        for epoch in range(EPOCHS):
            report([a, b], step=epoch)
        return a, b

    r = autoopt.tune(
        two,
        space={"x": {"low": -6.0, "high": 8.0}},
        strategy="random",
        scheduler=scheduler,
        trials=30,
        seed=0,
        directions=["minimize", "maximize"],
    )
    assert r.counts().get("PRUNED", 0) >= 3
    assert all(intermediate_vectors(t) for t in r.study.get_trials())


def test_nondominated_rank_orders_fronts_then_crowding():
    pts = np.array([[3.0, 3.0], [1.0, 1.0], [0.0, 2.0], [2.0, 0.0], [1.5, 1.5]])
    order = list(nondominated_rank(pts))
    assert set(order[:3]) == {1, 2, 3}  # the first front
    assert order[3:] == [4, 0]


def test_mo_asha_promotes_top_third_at_a_rung():
    study = optuna.create_study(directions=["minimize", "minimize"])
    pruner = MOASHAPruner(min_resource=1, reduction_factor=3)
    decisions = []
    for v in [[1, 1], [2, 2], [3, 3], [0.5, 0.5], [4, 4], [5, 5]]:
        t = study.ask()
        t.set_user_attr("autoopt:iv:1", v)
        decisions.append(pruner.prune(study, study._storage.get_trial(t._trial_id)))
    # 1st: alone -> on; 2nd: worse than [1,1] among 2 -> stop; 3rd: 3 rows, top 1 is [1,1] -> stop;
    # 4th: best -> on; 5th and 6th: dominated -> stop.
    assert decisions == [False, True, True, False, True, True]


def test_mo_hyperband_brackets():
    assert MOHyperbandPruner(1, 27, 3).n_brackets == 4
    with pytest.raises(ValueError, match="max_resource"):
        MOHyperbandPruner(5, 2)


def test_reporter_checks_arity():
    def bad(params, report):
        report([1.0, 2.0], step=0)
        return 1.0

    with pytest.raises(NoCompleteTrialError) as e:
        autoopt.tune(bad, space=SPACE, trials=1, seed=0, max_initial_failures=0)
    row = e.value.result.trials[0]
    assert row.state == "FAIL" and "report: got 2 value(s) at step 0, expected 1" in row.reason


def test_unknown_scheduler():
    assert list_schedulers() == ["asha", "hyperband", "median", "none"]
    with pytest.raises(UnknownNameError, match="unknown scheduler 'ashaa'.*Did you mean 'asha'"):
        make_pruner("ashaa")


def test_objective_error_class_is_value_error():
    assert issubclass(ObjectiveError, ValueError)
