"""``rl`` (REINFORCE and tabular Q-learning): conformance suites, determinism, synthetic NAS behaviour."""

from __future__ import annotations

import statistics

import pytest
from optuna.testing.pytest_samplers import BasicSamplerTestCase, RelativeSamplerTestCase

import autoopt
from autoopt.exceptions import InvalidSpecError
from autoopt.strategies import RLSampler, StrategyContext, make_sampler
from tests.strategies.test_regularized_evolution import failure_fraction, matches_study, median_best

ALGORITHMS = ["reinforce", "q-learning"]


class TestReinforceBasic(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: RLSampler("reinforce", seed=0)


class TestReinforceRelative(RelativeSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: RLSampler("reinforce", seed=0)


class TestQLearningBasic(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: RLSampler("q-learning", seed=0, n_trials=10)


class TestQLearningRelative(RelativeSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: RLSampler("q-learning", seed=0, n_trials=10)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_same_seed_same_trials(algorithm):
    a = matches_study("rl", 3, 40, algorithm=algorithm)
    b = matches_study("rl", 3, 40, algorithm=algorithm)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_new_process_replays_the_history(algorithm):
    # A second sampler (another worker, or a resumed search) learns from the trials in storage.
    study = matches_study("rl", 0, 60, algorithm=algorithm)
    other = RLSampler(algorithm, seed=5, n_trials=60)
    trial = study.ask()
    other.sample_relative(study, trial._cached_frozen_trial, other.infer_relative_search_space(study, trial))
    (ctrl,) = other._controllers.values()
    assert ctrl.seen == {t.number for t in study.trials if t.state.is_finished()}


# Median best after 150 trials over 5 seeds (max 10). Seen on seeds 0-4 / 5-9 / 10-14: random 6 / 6 / 6,
# REINFORCE 9 / 10 / 9, Q-learning 9 / 9 / 9.
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_beats_random_on_the_synthetic_nas_task(algorithm):
    seeds = range(5)
    assert median_best("rl", seeds, algorithm=algorithm) >= median_best("random", seeds) + 2


# Failure fraction of the last 50 of 150 trials, mean over 5 seeds, seen on seeds 0-4 / 5-9 / 10-14:
# random 0.22 / 0.25 / 0.18, REINFORCE 0.024 / 0.02 / 0.028, Q-learning 0.028 / 0.028 / 0.016.
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_avoids_a_failing_region(algorithm):
    seeds = range(5)
    ours = statistics.mean(
        failure_fraction(matches_study("rl", s, 150, fail_op=0, algorithm=algorithm)) for s in seeds
    )
    rnd = statistics.mean(failure_fraction(matches_study("random", s, 150, fail_op=0)) for s in seeds)
    assert ours < 0.5 * rnd, (ours, rnd)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_tune_end_to_end(algorithm):
    space = {
        "op": ["conv", "pool", "skip"],
        "depth": {"low": 1, "high": 4},
        "lr": {"low": 1e-4, "high": 1e-1, "log": True},
    }
    r = autoopt.tune(
        lambda p: (p["op"] != "conv") + abs(p["depth"] - 3),
        space=space,
        strategy="rl",
        strategy_options={"algorithm": algorithm},
        trials=40,
        seed=0,
    )
    assert r.counts() == {"COMPLETE": 40}
    assert r.best_value == 0


def test_invalid_options_and_several_objectives_are_clear_errors():
    with pytest.raises(InvalidSpecError, match="algorithm: expected one of reinforce, q-learning, got 'ppo'"):
        make_sampler("rl", StrategyContext(options={"algorithm": "ppo"}))
    with pytest.raises(InvalidSpecError, match="'rl' optimizes a single objective"):
        make_sampler("rl", StrategyContext(directions=["minimize", "minimize"]))
