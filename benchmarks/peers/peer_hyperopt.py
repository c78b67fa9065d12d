"""Hyperopt: ``fmin`` with ``tpe.suggest`` (no early stopping: Hyperopt has none)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from tasks import Recorder, eval_nn, eval_synthetic, is_nn, load_nn_task, synthetic_problem

PEERS = ["hyperopt-tpe"]


def hp_space(space: dict[str, Any]) -> dict[str, Any]:
    from hyperopt import hp

    out: dict[str, Any] = {}
    for k, s in space.items():
        t = s.get("type", "float")
        if t == "categorical":
            out[k] = hp.choice(k, list(s["choices"]))
        elif t == "int":
            out[k] = hp.uniformint(k, s["low"], s["high"])
        elif s.get("log"):
            out[k] = hp.loguniform(k, math.log(s["low"]), math.log(s["high"]))
        else:
            out[k] = hp.uniform(k, s["low"], s["high"])
    return out


def run(peer: str, task: str, seed: int, trials: int | None, timeout: float | None) -> dict[str, Any]:
    from hyperopt import STATUS_FAIL, STATUS_OK, Trials, fmin, tpe

    if is_nn(task):
        t = load_nn_task(task)
        space, sign = t.space, -1.0  # fmin minimizes: loss = -val accuracy
    else:
        prob = synthetic_problem(task)
        space, sign = prob.space, 1.0
    ints = {k for k, s in space.items() if s.get("type") == "int"}
    rec = Recorder()

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        params = {k: int(v) if k in ints else v for k, v in params.items()}
        try:
            v = eval_nn(t, params, rec) if is_nn(task) else eval_synthetic(prob, params, rec)
        except Exception:
            return {"status": STATUS_FAIL}
        return {"loss": sign * v, "status": STATUS_OK}

    fmin(
        objective,
        hp_space(space),
        algo=tpe.suggest,
        max_evals=trials if trials is not None else 10**9,
        timeout=timeout,
        trials=Trials(),
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )
    return {"trials": rec.trials}
