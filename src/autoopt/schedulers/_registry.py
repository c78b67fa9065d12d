"""The scheduler registry: early stopping of bad trials, by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from optuna.pruners import BasePruner

from autoopt._registry import Registry
from autoopt.exceptions import InvalidSpecError

__all__ = ["schedulers", "make_pruner", "list_schedulers"]

# A factory takes the number of objectives and the scheduler's options from the spec.
SchedulerFactory = Callable[..., BasePruner]
schedulers: Registry[SchedulerFactory] = Registry("scheduler")


def make_pruner(
    name: str | None, *, n_objectives: int = 1, key: str = "search.scheduler", **options: Any
) -> BasePruner:
    """Build the pruner of scheduler ``name`` (``None`` means ``"none"``).

    Example:
        >>> make_pruner("asha").__class__.__name__
        'SuccessiveHalvingPruner'
        >>> make_pruner("asha", n_objectives=2).__class__.__name__
        'MOASHAPruner'
    """
    factory = schedulers.get(name or "none", key=key)
    try:
        return factory(n_objectives, **options)
    except TypeError as e:
        raise InvalidSpecError(f"{key}_options: invalid option for scheduler {name!r}: {e}") from None


def list_schedulers() -> list[str]:
    """Names of every registered scheduler."""
    return schedulers.names()
