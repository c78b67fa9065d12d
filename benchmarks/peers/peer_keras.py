"""Keras Tuner (Keras 3, torch backend): RandomSearch, BayesianOptimization, Hyperband.

The NN tasks use Keras Tuner the usual way (a build function, ``tuner.search(x, y, epochs=...,
validation_data=...)``) with a Keras model that mirrors ``tasks.build_torch``: same layers, Glorot-uniform
weights and zero biases (Keras' defaults), Adam with the same epsilon, the same epochs and batch size.
The synthetic functions use the documented "tune anything" form: a Tuner subclass whose ``run_trial``
returns the value (RandomSearch and BayesianOptimization; Hyperband needs epochs, so it is skipped there).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from tasks import NNTask, Recorder, eval_synthetic, is_nn, load_nn_task, synthetic_problem

PEERS = ["kt-random", "kt-bayes", "kt-hyperband"]

_STATE: dict[str, Any] = {}  # module-level: Keras Tuner deep-copies callbacks for every trial


def kt_params(hp: Any, space: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, s in space.items():
        t = s.get("type", "float")
        if t == "categorical":
            out[k] = hp.Choice(k, list(s["choices"]))
        elif t == "int":
            out[k] = hp.Int(k, s["low"], s["high"])
        else:
            out[k] = hp.Float(k, s["low"], s["high"], sampling="log" if s.get("log") else "linear")
    return out


def build_keras(task: NNTask, params: dict[str, Any]) -> Any:
    import keras
    from keras import layers

    n_classes = int(task.data["n_classes"])
    if task.kind == "cnn":
        c, h = int(params["channels"]), int(params["hidden"])
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                layers.Conv2D(c, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
                layers.Conv2D(2 * c, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
                layers.Flatten(),
                layers.Dropout(float(params["dropout"])),
                layers.Dense(h, activation="relu"),
                layers.Dense(n_classes),
            ]
        )
    else:
        stack: list[Any] = [keras.Input((task.data["Xtr"].shape[1],))]
        for _ in range(int(params["depth"])):
            stack += [
                layers.Dense(int(params["width"]), activation="relu"),
                layers.Dropout(float(params["dropout"])),
            ]
        model = keras.Sequential([*stack, layers.Dense(n_classes)])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=float(params["lr"]), epsilon=1e-7),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _keras_arrays(task: NNTask) -> dict[str, Any]:
    d = dict(task.data)
    if task.kind == "cnn":  # NCHW -> NHWC, Keras' default layout
        for k in ("Xtr", "Xva", "Xte"):
            d[k] = d[k].transpose(0, 2, 3, 1).copy()
    return d


def _epoch_callback() -> Any:
    import keras

    class TestAtBestVal(keras.callbacks.Callback):
        """Records the best epoch's val accuracy and the test accuracy of that epoch's weights."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            cur = _STATE["current"]
            cur["epochs"] += 1
            va = float((logs or {}).get("val_accuracy", 0.0))
            if va > cur["val_acc"]:
                logits = keras.ops.convert_to_numpy(self.model(_STATE["Xte"], training=False))
                cur["val_acc"], cur["test_acc"] = va, float((logits.argmax(1) == _STATE["yte"]).mean())

    return TestAtBestVal()


def run(peer: str, task: str, seed: int, trials: int | None, timeout: float | None) -> dict[str, Any]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import keras_tuner as kt

    keras.utils.set_random_seed(seed)
    tuners = {"kt-random": kt.RandomSearch, "kt-bayes": kt.BayesianOptimization, "kt-hyperband": kt.Hyperband}
    base = tuners[peer]
    nn = is_nn(task)
    if nn:
        t = load_nn_task(task)
        d = _keras_arrays(t)
        _STATE.update(Xte=d["Xte"], yte=d["yte"])
    else:
        if peer == "kt-hyperband":
            raise SystemExit("kt-hyperband needs epochs; it is not run on the synthetic functions")
        prob = synthetic_problem(task)
    rec = Recorder()

    class Tuner(base):  # type: ignore[misc, valid-type]
        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
            if not nn:
                params = kt_params(trial.hyperparameters, prob.space)
                return eval_synthetic(prob, params, rec)
            _STATE["current"] = {"val_acc": 0.0, "test_acc": 0.0, "epochs": 0}
            return super().run_trial(trial, *args, **kwargs)

        def on_trial_end(self, trial: Any) -> None:
            super().on_trial_end(trial)
            if nn:
                cur = _STATE["current"]
                state = "complete" if trial.status == "COMPLETED" else "fail"
                rec.add(cur["val_acc"], test=cur["test_acc"], epochs=cur["epochs"], state=state)
            elif trial.status != "COMPLETED":
                rec.add(float("inf"), state="fail")
            if timeout is not None and rec.elapsed() >= timeout:
                self.oracle.max_trials = len(self.oracle.trials)  # no new trial starts after the budget

    with tempfile.TemporaryDirectory() as tmp:
        kw: dict[str, Any] = {"seed": seed, "directory": tmp, "project_name": "p", "overwrite": True}
        if nn:
            kw["hypermodel"] = lambda hp: build_keras(t, kt_params(hp, t.space))
            kw["objective"] = "val_accuracy"
        else:
            kw["objective"] = kt.Objective("score", "min")
        if peer == "kt-hyperband":
            # iterations unbounded: the trial (or time) budget ends the search, as for every other peer
            kw.update(max_epochs=t.epochs, factor=3, hyperband_iterations=10**6)
        else:
            kw["max_trials"] = trials if trials is not None else 10**6
        tuner = Tuner(**kw)
        if peer == "kt-hyperband":
            tuner.oracle.max_trials = trials  # Hyperband stops after its brackets or at this many trials
        if nn:
            tuner.search(
                d["Xtr"], d["ytr"], epochs=t.epochs, batch_size=t.batch_size,
                validation_data=(d["Xva"], d["yva"]), callbacks=[_epoch_callback()], shuffle=True, verbose=0,
            )
        else:
            tuner.search(verbose=0)
    return {"trials": rec.trials}
