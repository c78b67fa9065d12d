"""Progress on long steps: the trial's epoch in the search bar, an epoch bar for every other training."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from autoopt.cli import app
from autoopt.cli._output import EpochBars, RichProgress

runner = CliRunner()


def test_epochs_of_a_trial_go_to_the_search_bar_while_it_runs():
    search = RichProgress("search")
    bars = EpochBars(search, stage="distill")
    search.start(total=4, done=0)
    try:
        bars.start(3, "accuracy")
        bars.epoch(1, 3, {"val_accuracy": 0.8125, "val_loss": 0.5})
        field = search._progress.tasks[0].fields["epoch"]
        assert field == "trial epoch 2/3 val_accuracy 0.8125"
        bars.end()
    finally:
        search.stop()
    assert bars.shown == []  # no bar of its own during the search
    bars.start(2, "accuracy")  # the search ended: the next training (e.g. distill) gets its own bar
    bars.epoch(0, 2, {"val_accuracy": 0.5})
    bars.epoch(1, 2, {"val_accuracy": 0.75})
    bars.end()
    assert bars.shown == [("distill", 2, 2)]


SPEC = {
    "name": "prog",
    "threads": 1,
    "data": {"name": "digits", "limit": 200},
    "model": {"name": "mlp"},
    "training": {"epochs": 2, "batch_size": 32, "device": "cpu"},
    "search": {
        "strategy": "random",
        "scheduler": "none",
        "trials": 1,
        "retrain_best": True,
        "space": {"training.lr": [0.01]},
    },
}


def test_cli_shows_an_epoch_bar_for_retraining_and_quiet_hides_it(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    res = runner.invoke(app, ["tune", str(spec), "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    bar = [line for line in res.output.splitlines() if line.startswith("retrain best")]
    assert bar and "epoch 2/2" in bar[-1] and "val_accuracy" in bar[-1], res.output
    quiet = runner.invoke(app, ["tune", str(spec), "--out", str(tmp_path / "b"), "--quiet"])
    assert quiet.exit_code == 0 and "epoch 2/2" not in quiet.output and "retrain best" not in quiet.output
