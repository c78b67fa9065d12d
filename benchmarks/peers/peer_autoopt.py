"""autoopt: ``autoopt.tune`` with ``auto`` + ASHA, and ``random`` without early stopping."""

from __future__ import annotations

from typing import Any

from tasks import Recorder, eval_nn, eval_synthetic, is_nn, load_nn_task, synthetic_problem

PEERS = ["autoopt-auto-asha", "autoopt-random"]


def run(peer: str, task: str, seed: int, trials: int | None, timeout: float | None) -> dict[str, Any]:
    import optuna

    import autoopt

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    strategy, scheduler = ("auto", "asha") if peer == "autoopt-auto-asha" else ("random", None)
    if is_nn(task):
        t = load_nn_task(task)
        rec = Recorder()  # the clock starts after the data is loaded, as for the other peers

        def objective(params: dict[str, Any], report: Any) -> float:
            return eval_nn(t, params, rec, report)

        space, direction = t.space, "maximize"
    else:
        prob = synthetic_problem(task)
        rec = Recorder()

        def objective(params: dict[str, Any]) -> float:  # type: ignore[misc]
            return eval_synthetic(prob, params, rec)

        space, direction = prob.space, "minimize"
    autoopt.tune(
        objective,
        space=space,
        strategy=strategy,
        scheduler=scheduler,
        trials=trials,
        timeout=timeout,
        seed=seed,
        direction=direction,
        max_initial_failures=10**6,
    )
    return {"trials": rec.trials}
