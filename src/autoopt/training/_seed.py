"""Seeding every source of randomness a training run touches."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything", "seed_worker"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed python's ``random``, numpy and torch (all devices), and return a shuffling generator.

    With the same seed and the same data, a CPU run repeats exactly (same batches, same dropout
    masks, same history).

    Args:
        seed: a non-negative integer.

    Returns:
        A CPU ``torch.Generator`` seeded with ``seed``, for batch order.

    Example:
        >>> a = torch.randperm(5, generator=seed_everything(0))
        >>> torch.equal(a, torch.randperm(5, generator=seed_everything(0)))
        True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: derive numpy/random seeds from the worker's torch seed.

    Args:
        worker_id: the worker index (unused; torch already gives each worker its own seed).
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
