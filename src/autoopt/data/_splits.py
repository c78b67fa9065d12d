"""Seeded, stratified splits: the same seed gives the same split; every class keeps its share.

The idea: give the samples of each class evenly spaced keys ``(rank + offset) / n_class``
(rank in a random order, offset random per class) and sort all samples by key. Any prefix of
that order, and so any contiguous chunk, then holds each class in proportion to within one or two
samples, and the chunk sizes are exact.

Example:
    >>> import numpy as np
    >>> y = np.array([0] * 50 + [1] * 50)
    >>> train, val, test = split_indices(100, (0.8, 0.1, 0.1), y=y, seed=0)
    >>> len(train), len(val), len(test), int((y[test] == 1).sum())
    (80, 10, 10, 5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["split_counts", "split_indices", "stratified_order", "subsample"]

# Distinct streams for the subsample and the split, so changing ``limit`` does not reuse draws.
_SPLIT_STREAM = 1
_SUBSAMPLE_STREAM = 2


def split_counts(n: int, ratios: Sequence[float]) -> list[int]:
    """Integer sizes summing to ``n``, proportional to ``ratios`` (largest remainder rounding).

    Args:
        n: number of samples.
        ratios: non-negative fractions; they are rescaled to sum to 1.
    """
    total = float(sum(ratios))
    if n < 0 or total <= 0 or any(r < 0 for r in ratios):
        raise ValueError(f"expected n >= 0 and non-negative ratios with a positive sum, got {n}, {ratios}")
    exact = [n * r / total for r in ratios]
    counts = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


def stratified_order(n: int, y: np.ndarray | None = None, *, seed: int = 0, stream: int = 0) -> np.ndarray:
    """A seeded permutation of ``range(n)`` whose every prefix is stratified by ``y``.

    Args:
        n: number of samples.
        y: class labels (any comparable values) for stratification; ``None`` for a plain shuffle.
        seed: the random seed.
        stream: an extra integer mixed into the seed to get independent orders for different uses.
    """
    rng = np.random.default_rng([seed, stream])
    if y is None:
        return rng.permutation(n)
    if len(y) != n:
        raise ValueError(f"expected {n} labels, got {len(y)}")
    _, inverse = np.unique(np.asarray(y), return_inverse=True)
    inverse = inverse.reshape(-1)
    keys = np.empty(n, dtype=np.float64)
    for c in range(int(inverse.max()) + 1 if n else 0):
        members = rng.permutation(np.flatnonzero(inverse == c))
        keys[members] = (np.arange(len(members)) + rng.random()) / len(members)
    return np.lexsort((rng.random(n), keys))


def split_indices(
    n: int, ratios: Sequence[float], y: np.ndarray | None = None, *, seed: int = 0
) -> list[np.ndarray]:
    """Split ``range(n)`` into ``len(ratios)`` sorted index arrays, stratified when ``y`` is given.

    Args:
        n: number of samples.
        ratios: fraction of each part (rescaled to sum to 1), e.g. ``(0.7, 0.15, 0.15)``.
        y: class labels to stratify by; ``None`` (regression) for a random split.
        seed: the same seed gives the same split.
    """
    order = stratified_order(n, y, seed=seed, stream=_SPLIT_STREAM)
    bounds = np.cumsum([0, *split_counts(n, ratios)])
    return [np.sort(order[bounds[i] : bounds[i + 1]]) for i in range(len(ratios))]


def subsample(n: int, k: int, y: np.ndarray | None = None, *, seed: int = 0) -> np.ndarray:
    """Sorted indices of a seeded, stratified subsample of ``k`` out of ``n`` samples (all if k >= n).

    Args:
        n: number of samples.
        k: how many to keep.
        y: class labels to stratify by, or ``None``.
        seed: the random seed.
    """
    if k >= n:
        return np.arange(n)
    return np.sort(stratified_order(n, y, seed=seed, stream=_SUBSAMPLE_STREAM)[:k])
