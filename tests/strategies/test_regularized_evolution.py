"""``regularized-evolution``: Optuna's conformance suites, determinism, behaviour on a synthetic NAS task."""

from __future__ import annotations

import statistics

import numpy as np
import optuna
import pytest
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
)

import autoopt
from autoopt.exceptions import InvalidSpecError
from autoopt.strategies import RegularizedEvolutionSampler, StrategyContext, make_sampler

N_DECISIONS, N_OPTIONS = 10, 5
SPACE = {f"d{i}": list(range(N_OPTIONS)) for i in range(N_DECISIONS)}


def matches_study(
    strategy: str, seed: int, trials: int, fail_op: int | None = None, **options
) -> optuna.Study:
    """Maximize the number of decisions matching a hidden target (max 10); ``fail_op`` at d0 fails."""
    target = np.random.RandomState(1000 + seed).randint(N_OPTIONS, size=N_DECISIONS)
    ctx = StrategyContext(seed=seed, n_trials=trials, directions=["maximize"], options=options)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(strategy, ctx))

    def objective(trial: optuna.Trial) -> float:
        ops = [trial.suggest_categorical(f"d{i}", list(range(N_OPTIONS))) for i in range(N_DECISIONS)]
        if fail_op is not None and ops[0] == fail_op:
            raise ValueError("invalid architecture")
        return float(sum(int(o == t) for o, t in zip(ops, target, strict=True)))

    study.optimize(objective, n_trials=trials, catch=(ValueError,))
    return study


def median_best(strategy: str, seeds, trials: int = 150, **options) -> float:
    return statistics.median(matches_study(strategy, s, trials, **options).best_value for s in seeds)


def failure_fraction(study: optuna.Study, last: int = 50) -> float:
    return sum(t.state == optuna.trial.TrialState.FAIL for t in study.trials[-last:]) / last


class TestBasic(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: RegularizedEvolutionSampler(population_size=4, sample_size=2, seed=0)


class TestRelative(RelativeSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: RegularizedEvolutionSampler(population_size=1, sample_size=1, seed=0)


class TestMultiObjective(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: RegularizedEvolutionSampler(population_size=3, sample_size=2, seed=0)


def test_same_seed_same_trials():
    a = matches_study("regularized-evolution", 3, 60)
    b = matches_study("regularized-evolution", 3, 60)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_children_differ_from_a_population_member_in_exactly_one_decision():
    study = matches_study("regularized-evolution", 0, 40, population_size=10, sample_size=3)
    done = [t for t in study.trials]
    for child in done[10:]:
        earlier = done[max(0, child.number - 10) : child.number]
        diffs = [sum(child.params[k] != p.params[k] for k in SPACE) for p in earlier]
        assert 1 in diffs


# Median best after 150 trials over 5 seeds (max 10). Seen on seeds 0-4 / 5-9 / 10-14: random 6 / 6 / 6,
# evolution 9 / 9 / 9.
def test_beats_random_on_the_synthetic_nas_task():
    seeds = range(5)
    assert median_best("regularized-evolution", seeds) >= median_best("random", seeds) + 2


# With option 0 of d0 always failing, random fails 20% of the time; evolution never breeds from failed
# trials, so only a mutation of d0 to 0 fails (~2.5%). Failure fraction of the last 50 of 150 trials, mean
# over 5 seeds, seen on seeds 0-4 / 5-9 / 10-14: random 0.22 / 0.25 / 0.18, evolution 0.02 / 0.02 / 0.02.
def test_avoids_a_failing_region():
    seeds = range(5)
    ours = statistics.mean(
        failure_fraction(matches_study("regularized-evolution", s, 150, fail_op=0)) for s in seeds
    )
    rnd = statistics.mean(failure_fraction(matches_study("random", s, 150, fail_op=0)) for s in seeds)
    assert ours < 0.5 * rnd, (ours, rnd)


def test_tune_end_to_end_with_ints_and_floats():
    space = {
        "op": ["conv", "pool", "skip"],
        "width": {"low": 8, "high": 64, "step": 8},
        "lr": {"low": 1e-4, "high": 1e-1, "log": True},
    }

    def objective(p: dict) -> float:
        return (p["op"] != "conv") + abs(p["width"] - 32) / 8 + abs(np.log10(p["lr"]) + 2)

    r = autoopt.tune(objective, space=space, strategy="regularized-evolution", trials=60, seed=0)
    assert r.counts() == {"COMPLETE": 60}
    assert r.best_value < 1.5


def test_several_objectives_use_nondominated_ranking():
    r = autoopt.tune(
        lambda p: (p["x"], 10 - p["x"] + p["y"]),
        space={"x": {"low": 0, "high": 10}, "y": {"low": 0, "high": 5}},
        strategy="regularized-evolution",
        directions=["minimize", "minimize"],
        trials=40,
        seed=0,
    )
    assert r.counts() == {"COMPLETE": 40}


def test_invalid_options_are_clear_errors():
    with pytest.raises(
        InvalidSpecError, match=r"sample_size: expected an int in \[1, population_size=4\], got 9"
    ):
        make_sampler(
            "regularized-evolution", StrategyContext(options={"population_size": 4, "sample_size": 9})
        )
