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
from autoopt.strategies._auto import STRATEGY_ATTR

NUMERIC2 = SpaceSummary(n_float=2)


@pytest.mark.parametrize(
    "summary, kw, expected",
    [
        (NUMERIC2, dict(n_finished=0, budget=50), "bayes"),
        (NUMERIC2, dict(n_finished=99, budget=1000), "bayes"),
        (NUMERIC2, dict(n_finished=100, budget=1000), "cmaes"),
        (NUMERIC2, dict(n_finished=140, budget=150), "bayes"),  # whole budget stays on GP
        (NUMERIC2, dict(n_finished=100, budget=1000, constrained=True), "tpe"),
        (SpaceSummary(n_float=1), dict(n_finished=100, budget=1000), "tpe"),
        (SpaceSummary(n_float=2, n_categorical=1), dict(n_finished=0, budget=50), "tpe"),
        (SpaceSummary(n_float=2, conditional=True), dict(n_finished=0, budget=50), "tpe"),
        (SpaceSummary(n_float=30), dict(n_finished=0, budget=50), "tpe"),
        (SpaceSummary(n_float=30), dict(n_finished=0, budget=500), "cmaes"),
        (SpaceSummary(known=False), dict(n_finished=0, budget=50), "tpe"),
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
        strategy_options={"gp_max_trials": 12},
    )
    used = [t.system_attrs[STRATEGY_ATTR] for t in r.study.get_trials()]
    assert used[:12] == ["bayes"] * 12 and used[12:] == ["cmaes"] * 4
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
        return lambda: AutoSampler(seed=0, gp_max_trials=5, startup_trials=0)


class TestAutoRelative(RelativeSamplerTestCase):
    # gp_max_trials=0 sends numeric spaces to CMA-ES at once: the GP delegate is Optuna's own sampler,
    # tested by Optuna; fitting it 360 times here would cost a minute.
    @pytest.fixture
    def sampler(self):
        return lambda: AutoSampler(seed=0, gp_max_trials=0, startup_trials=0)


class TestAutoMultiObjective(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: AutoSampler(seed=0)


def test_auto_inside_plain_optuna():
    study = optuna.create_study(sampler=AutoSampler(seed=1, n_trials=15))
    study.optimize(lambda t: (t.suggest_float("x", -2, 2) - 0.5) ** 2, n_trials=15)
    assert study.best_value < 0.05
