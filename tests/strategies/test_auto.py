from __future__ import annotations

import optuna
import pytest
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
)

import autoopt
from autoopt.strategies import AutoSampler, SpaceSummary, choose_strategy
from autoopt.strategies._auto import STRATEGY_ATTR, gp_stagnated

NUMERIC2 = SpaceSummary(n_float=2)


@pytest.mark.parametrize(
    "summary, kw, expected",
    [
        (NUMERIC2, dict(n_finished=0, budget=50), "tpe-plain"),  # Optuna's TPE starts
        (NUMERIC2, dict(n_finished=19, budget=50), "tpe-plain"),
        (NUMERIC2, dict(n_finished=20, budget=50), "bayes"),  # then the GP, from max(20, 4 * dims)
        (SpaceSummary(n_float=6), dict(n_finished=20, budget=100), "tpe-plain"),
        (SpaceSummary(n_float=6), dict(n_finished=24, budget=100), "bayes"),
        (NUMERIC2, dict(n_finished=50, budget=100, gp_stagnant=True), "tpe-plain"),
        (NUMERIC2, dict(n_finished=99, budget=1000), "bayes"),
        (NUMERIC2, dict(n_finished=100, budget=1000), "cmaes"),
        (NUMERIC2, dict(n_finished=140, budget=150), "bayes"),  # whole budget stays on GP
        (NUMERIC2, dict(n_finished=100, budget=1000, constrained=True), "tpe"),
        (SpaceSummary(n_float=1), dict(n_finished=100, budget=1000), "tpe"),
        (SpaceSummary(n_float=2, n_categorical=1), dict(n_finished=0, budget=50), "tpe"),
        (SpaceSummary(n_float=2, conditional=True), dict(n_finished=0, budget=50), "tpe"),
        (SpaceSummary(n_float=30), dict(n_finished=0, budget=50), "tpe"),
        (SpaceSummary(n_float=30), dict(n_finished=0, budget=500), "cmaes"),
        (SpaceSummary(known=False), dict(n_finished=0, budget=50), "tpe-plain"),
        (NUMERIC2, dict(n_finished=0, budget=50, n_objectives=2), "tpe"),
        (NUMERIC2, dict(n_finished=0, budget=500, n_objectives=2), "evolution"),
    ],
)
def test_choice_rule(summary, kw, expected):
    assert choose_strategy(summary, **kw)[0] == expected


def test_auto_records_its_choice_and_switches_from_gp_to_cmaes():
    space = {"x": {"low": -3.0, "high": 3.0}, "y": {"low": -3.0, "high": 3.0}}
    r = autoopt.tune(
        lambda p: p["x"] ** 2 + p["y"] ** 2,
        space=space,
        trials=16,
        seed=0,
        strategy_options={"gp_max_trials": 12, "tpe_trials": 4},
    )
    used = [t.system_attrs[STRATEGY_ATTR] for t in r.study.get_trials()]
    assert used[:4] == ["tpe"] * 4 and used[4:12] == ["bayes"] * 8 and used[12:] == ["cmaes"] * 4
    assert r.best_value < 1.0


def test_auto_uses_tpe_for_categorical_spaces():
    r = autoopt.tune(
        lambda p: {"a": 0.0, "b": 1.0}[p["c"]] + p["x"] ** 2,
        space={"c": ["a", "b"], "x": {"low": -1.0, "high": 1.0}},
        trials=5,
        seed=0,
    )
    assert {t.system_attrs[STRATEGY_ATTR] for t in r.study.get_trials()} == {"tpe"}


# Optuna's shipped sampler conformance suites, run against autoopt's `auto`.
class TestAutoBasic(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: AutoSampler(seed=0, gp_max_trials=5, startup_trials=0, tpe_trials=2)


class TestAutoRelative(RelativeSamplerTestCase):
    # gp_max_trials=0 sends numeric spaces to CMA-ES at once: the GP delegate is Optuna's own sampler,
    # tested by Optuna; fitting it 360 times here would cost a minute.
    @pytest.fixture
    def sampler(self):
        return lambda: AutoSampler(seed=0, gp_max_trials=0, startup_trials=0, tpe_trials=0)


class TestAutoMultiObjective(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: AutoSampler(seed=0)


def test_auto_inside_plain_optuna():
    study = optuna.create_study(sampler=AutoSampler(seed=1, n_trials=15))
    study.optimize(lambda t: (t.suggest_float("x", -2, 2) - 0.5) ** 2, n_trials=15)
    assert study.best_value < 0.05


def test_auto_starts_as_the_same_search_as_plain_optuna_tpe():
    def f(t):
        return (t.suggest_float("x", -3, 3) - 1) ** 2 + (t.suggest_float("y", -3, 3) + 0.5) ** 2

    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3))
    plain.optimize(f, n_trials=20)
    auto = optuna.create_study(sampler=AutoSampler(seed=3, n_trials=40))
    auto.optimize(f, n_trials=22)
    assert [t.params for t in auto.trials[:20]] == [t.params for t in plain.trials]
    assert [t.system_attrs[STRATEGY_ATTR] for t in auto.trials[20:]] == ["bayes", "bayes"]


def _done(number, value, strategy):
    t = optuna.trial.create_trial(
        value=value, params={}, distributions={}, system_attrs={STRATEGY_ATTR: strategy}
    )
    t.number = number
    return t


def test_gp_stagnation_needs_patience_trials_without_a_new_best():
    tpe = [_done(i, 10.0 - i, "tpe") for i in range(20)]  # best before the GP: 10 - 19 = -9
    flat = [_done(20 + i, -5.0, "bayes") for i in range(15)]
    assert gp_stagnated(tpe + flat, dim=2, minimize=True)  # 15 = max(15, 3 * 2) GP trials, no new best
    assert not gp_stagnated(tpe + flat[:14], dim=2, minimize=True)  # not yet 15
    better = flat[:7] + [_done(27, -9.5, "bayes")] + flat[8:]
    assert not gp_stagnated(tpe + better, dim=2, minimize=True)  # a new best inside the window
    rising = [_done(20 + i, 11.0 + i, "bayes") for i in range(15)]  # above the best 10 when maximizing
    assert not gp_stagnated(tpe + rising, dim=2, minimize=False)
    assert gp_stagnated(tpe + rising, dim=2, minimize=True)
