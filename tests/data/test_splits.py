from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt.data import load_data, split_indices
from autoopt.data._splits import split_counts, subsample


@given(n=st.integers(0, 500), a=st.floats(0.05, 1), b=st.floats(0, 1), c=st.floats(0, 1))
@settings(max_examples=60, deadline=None)
def test_split_counts_sum_to_n_and_follow_ratios(n: int, a: float, b: float, c: float) -> None:
    counts = split_counts(n, (a, b, c))
    assert sum(counts) == n
    total = a + b + c
    for count, r in zip(counts, (a, b, c), strict=True):
        assert abs(count - n * r / total) < 1


def test_same_seed_same_split_other_seed_other_split() -> None:
    y = np.repeat(np.arange(4), 25)
    first = split_indices(100, (0.6, 0.2, 0.2), y, seed=3)
    again = split_indices(100, (0.6, 0.2, 0.2), y, seed=3)
    other = split_indices(100, (0.6, 0.2, 0.2), y, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
    joined = np.concatenate(first)
    assert sorted(joined.tolist()) == list(range(100))  # a partition: no overlap, nothing lost


@pytest.mark.parametrize("seed", range(5))
def test_split_is_stratified(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat([0, 1, 2], [500, 300, 200]))
    parts = split_indices(len(y), (0.7, 0.15, 0.15), y, seed=seed)
    assert [len(p) for p in parts] == [700, 150, 150]
    for part in parts:
        for cls, share in ((0, 0.5), (1, 0.3), (2, 0.2)):
            assert abs((y[part] == cls).sum() - share * len(part)) <= 2


def test_subsample_is_stratified_and_seeded() -> None:
    y = np.repeat([0, 1], [900, 100])
    keep = subsample(1000, 100, y, seed=0)
    assert len(keep) == 100 and (y[keep] == 1).sum() == 10
    assert np.array_equal(keep, subsample(1000, 100, y, seed=0))
    assert np.array_equal(subsample(10, 50), np.arange(10))


def test_loaded_split_is_deterministic_and_stratified() -> None:
    a = load_data({"name": "digits", "seed": 7})
    b = load_data({"name": "digits", "seed": 7})
    c = load_data({"name": "digits", "seed": 8})
    assert a.meta.extra["split"] == b.meta.extra["split"]
    assert (a.train.x == b.train.x).all() and (a.test.y == b.test.y).all()
    assert not (a.train.x.shape == c.train.x.shape and (a.train.x == c.train.x).all())
    counts = np.bincount(a.test.y.numpy(), minlength=10)
    expected = np.bincount(load_data({"name": "digits", "split": [0.999, 0.001, 0.0]}).train.y.numpy()) * 0.15
    assert np.all(np.abs(counts - expected) <= 2)
