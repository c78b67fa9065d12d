"""Plain Optuna: TPESampler / RandomSampler, with or without MedianPruner (Optuna's defaults)."""

from __future__ import annotations

from typing import Any

import optuna
from tasks import Recorder, eval_nn, eval_synthetic, is_nn, load_nn_task, synthetic_problem

PEERS = ["optuna-tpe", "optuna-random", "optuna-tpe-median", "optuna-random-median"]


def suggest(trial: optuna.Trial, space: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, s in space.items():
        t = s.get("type", "float")
        if t == "categorical":
            out[k] = trial.suggest_categorical(k, s["choices"])
        elif t == "int":
            out[k] = trial.suggest_int(k, s["low"], s["high"], log=s.get("log", False))
        else:
            out[k] = trial.suggest_float(k, s["low"], s["high"], log=s.get("log", False))
    return out


def run(peer: str, task: str, seed: int, trials: int | None, timeout: float | None) -> dict[str, Any]:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler_cls = optuna.samplers.TPESampler if "-tpe" in peer else optuna.samplers.RandomSampler
    pruner = optuna.pruners.MedianPruner() if peer.endswith("-median") else optuna.pruners.NopPruner()
    if is_nn(task):
        t = load_nn_task(task)
        space, direction = t.space, "maximize"
    else:
        prob = synthetic_problem(task)
        space, direction = prob.space, "minimize"
    rec = Recorder()
    study = optuna.create_study(direction=direction, sampler=sampler_cls(seed=seed), pruner=pruner)

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, space)
        if not is_nn(task):
            return eval_synthetic(prob, params, rec)

        def report(value: float, step: int) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        return eval_nn(t, params, rec, report)

    study.optimize(objective, n_trials=trials, timeout=timeout, catch=(Exception,))
    return {"trials": rec.trials}
