"""``autoopt export`` and ``autoopt evaluate`` on a real (tiny) tune run dir."""

from __future__ import annotations

import json

import pytest
import typer
import yaml
from typer.testing import CliRunner

from autoopt.cli._evaluate import register
from autoopt.pipeline import tune_spec

TINY = {
    "name": "tiny",
    "threads": 1,
    "data": {"name": "digits", "limit": 300},
    "model": {"name": "cnn", "params": {"blocks": 1}},
    "training": {"epochs": 1, "batch_size": 32, "device": "cpu"},
    "search": {"strategy": "random", "scheduler": None, "trials": 1, "space": {"model.channels": [8]}},
}

runner = CliRunner()
pytestmark = pytest.mark.slow  # one tune run and two exports: ~20 s for the module


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(TINY))
    tune_spec(spec, out=root / "tiny")
    return root / "tiny"


@pytest.fixture(scope="module")
def exported_run(app, run_dir):
    res = runner.invoke(app, ["export", str(run_dir), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_export_writes_final_with_the_run_in_its_card(exported_run, run_dir):
    final = run_dir / "final"
    assert sorted(p.name for p in final.iterdir()) == [
        "model.json",
        "model.onnx",
        "model.pt2",
        "model.safetensors",
    ]
    card = json.loads((final / "model.json").read_text())
    assert card == exported_run
    assert card["metrics"] == json.loads((run_dir / "best" / "metrics.json").read_text())
    assert card["spec"]["data"]["limit"] == 300 and card["spec"]["name"] == "tiny"
    assert card["model"]["name"] == "cnn" and card["model"]["config"] == {"blocks": 1, "channels": 8}
    assert card["parity"]["onnx"]["passed"]


def test_export_prints_a_summary_to_another_dir(app, run_dir, tmp_path):
    res = runner.invoke(app, ["export", str(run_dir), "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert "model.onnx" in res.stdout and "parity" in res.stdout and "latency p50" in res.stdout
    assert (tmp_path / "m" / "model.json").is_file()


def test_export_of_a_folder_that_is_no_run_dir(app, tmp_path):
    res = runner.invoke(app, ["export", str(tmp_path)])
    assert res.exit_code == 2
    assert "expected a run dir of 'autoopt tune'" in res.output and "missing: spec.yaml" in res.output


@pytest.mark.parametrize(
    "target", ["final/model.onnx", "final/model.pt2", "final", "", "best/model.safetensors"]
)
def test_evaluate_each_artifact_of_the_run_agrees_with_tune(app, exported_run, run_dir, target):
    res = runner.invoke(
        app, ["evaluate", str(run_dir / target), "--batch-sizes", "1,4", "--repeats", "3", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    # The data comes from the run's spec (or the card's): the same test split tune scored.
    assert out["metrics"]["accuracy"] == pytest.approx(exported_run["metrics"]["test_accuracy"])
    assert out["split"] == "test" and out["metrics"]["samples"] == 45
    assert set(out["latency"]["batches"]) == {"1", "4"} and out["latency"]["threads"] == 1


def test_evaluate_prints_tables_with_data_from_a_name(app, exported_run, run_dir):
    res = runner.invoke(
        app, ["evaluate", str(run_dir / "final" / "model.onnx"), "--data", "digits", "--split", "val"]
    )
    assert res.exit_code == 0, res.output
    assert "accuracy" in res.stdout and "p50 ms" in res.stdout and "onnxruntime" in res.stdout


def test_evaluate_with_a_spec_yaml_as_data(app, exported_run, run_dir):
    res = runner.invoke(
        app,
        ["evaluate", str(run_dir / "final" / "model.onnx"), "--data", str(run_dir / "spec.yaml"), "--json"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["metrics"]["samples"] == 45


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch-sizes", "1,x"], "--batch-sizes: expected comma-separated positive integers"),
        (["--split", "dev"], "--split: expected one of: train, val, test; got 'dev'"),
    ],
)
def test_evaluate_usage_errors(app, exported_run, run_dir, args, message):
    res = runner.invoke(app, ["evaluate", str(run_dir / "final" / "model.onnx"), *args])
    assert res.exit_code == 2 and message in res.output


def test_evaluate_an_onnx_file_without_a_recorded_dataset(app, exported_run, run_dir, tmp_path):
    (tmp_path / "m.onnx").write_bytes((run_dir / "final" / "model.onnx").read_bytes())
    res = runner.invoke(app, ["evaluate", str(tmp_path / "m.onnx")])
    assert res.exit_code == 2 and "--data:" in res.output and "records no dataset" in res.output
