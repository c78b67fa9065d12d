"""Built-in schedulers: Optuna's pruners for one objective, autoopt's MO variants for several."""

from __future__ import annotations

from typing import Any

from optuna.pruners import BasePruner, HyperbandPruner, MedianPruner, NopPruner, SuccessiveHalvingPruner

from autoopt.schedulers._mo import MOASHAPruner, MOHyperbandPruner, MOMedianPruner
from autoopt.schedulers._registry import schedulers


@schedulers.register("none")
def _none(n_objectives: int, **options: Any) -> BasePruner:
    return NopPruner()


@schedulers.register("median")
def _median(n_objectives: int, **options: Any) -> BasePruner:
    opts = {"n_startup_trials": 5, "n_warmup_steps": 1, **options}
    if n_objectives > 1:
        return MOMedianPruner(**opts)
    return MedianPruner(**opts)


@schedulers.register("asha", "successive-halving")
def _asha(n_objectives: int, **options: Any) -> BasePruner:
    """Asynchronous successive halving; ``min_resource`` is the first rung's step (default 1)."""
    opts = {"min_resource": 1, "reduction_factor": 3, **options}
    if n_objectives > 1:
        return MOASHAPruner(**opts)
    return SuccessiveHalvingPruner(**opts)


@schedulers.register("hyperband")
def _hyperband(n_objectives: int, **options: Any) -> BasePruner:
    """Hyperband; ``max_resource`` is the step count of a full trial (``"auto"`` for one objective)."""
    if n_objectives > 1:
        opts = {"min_resource": 1, "reduction_factor": 3, **options}
        if opts.get("max_resource", "auto") == "auto":
            opts["max_resource"] = 27
        return MOHyperbandPruner(**opts)
    return HyperbandPruner(**{"min_resource": 1, "reduction_factor": 3, **options})
