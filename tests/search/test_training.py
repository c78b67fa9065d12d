"""The trial objective of a model search (``autoopt.search.training``): one for every stage that trains."""

from __future__ import annotations

import torch
from torch import nn

from autoopt.data import DataBundle, load_data
from autoopt.models import build_model, count_params
from autoopt.search import tune
from autoopt.search.training import training_objective
from autoopt.training import FitResult, TrainConfig, fit


def test_one_objective_reports_static_metrics_and_trains_with_the_given_function(tmp_path):
    data = load_data({"name": "digits", "limit": 200})
    seen: list[int] = []

    def train(model: nn.Module, d: DataBundle, cfg: TrainConfig, params, reporter, out_dir) -> FitResult:
        seen.append(cfg.epochs)
        return fit(model, d, cfg, reporter=reporter, out_dir=out_dir)

    objective = training_objective(
        data,
        build=lambda p: build_model("mlp", {"depth": 1, "width": int(p["model.width"])}, data.meta),
        train_config=lambda p: TrainConfig(epochs=1, device="cpu", lr=float(p["training.lr"])),
        metrics=["val_accuracy", "params"],
        trials_dir=tmp_path / "trials",
        threads=1,
        train=train,
    )
    result = tune(
        objective,
        space={"model.width": [8, 32], "training.lr": {"low": 1e-3, "high": 1e-2, "log": True}},
        trials=2,
        strategy="random",
        scheduler=None,
        directions=["maximize", "minimize"],
        metrics=["val_accuracy", "params"],
        seed=0,
    )
    assert seen == [1, 1]  # the stage's own training ran, with the stage's settings
    for r in result.trials:  # static metrics of the trial's own model
        built = build_model("mlp", {"depth": 1, "width": int(r.params["model.width"])}, data.meta)
        assert r.metrics["params"] == count_params(built) and r.metrics["macs"] > 0
        assert 0.0 <= r.metrics["val_accuracy"] <= 1.0 and r.metrics["epochs"] == 1
        assert (tmp_path / "trials" / str(r.number) / "model.safetensors").is_file()
    assert torch.get_num_threads() == 1


def test_retry_of_a_dead_trial_starts_from_its_last_epoch_checkpoint(tmp_path):
    """The retry (a new trial number) gets the dead attempt's last.pt, so fit goes on after its epoch."""
    import optuna

    from autoopt.search.training import _resume_from_failed_attempt
    from autoopt.training import RESUME_NAME

    study = optuna.create_study()
    dead = study.ask()
    study.tell(dead, state=optuna.trial.TrialState.FAIL)
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING, system_attrs={"failed_trial": 0, "retry_history": [0]}
        )
    )
    retry = study.ask()
    (tmp_path / "trials" / "0").mkdir(parents=True)
    (tmp_path / "trials" / "0" / RESUME_NAME).write_bytes(b"state after epoch 3")
    _resume_from_failed_attempt(retry, tmp_path / "trials", tmp_path / "trials" / str(retry.number))
    assert (tmp_path / "trials" / "1" / RESUME_NAME).read_bytes() == b"state after epoch 3"
    fresh = study.ask()  # not a retry: starts from scratch
    _resume_from_failed_attempt(fresh, tmp_path / "trials", tmp_path / "trials" / str(fresh.number))
    assert not (tmp_path / "trials" / str(fresh.number)).exists()
