from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from autoopt.cli._distill import register
from autoopt.data import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.io import write_yaml
from autoopt.models import build_model, load_checkpoint, save_checkpoint
from autoopt.pipeline import load_spec
from autoopt.pipeline._distill import check_distill_spec, distill_spec

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "name": "tiny_kd",
    "threads": 1,
    "data": {"name": "digits", "limit": 300},
    "model": {"name": "mlp", "params": {"depth": 1, "width": 16}},
    "training": {"epochs": 3, "batch_size": 32, "lr": 5e-3, "device": "cpu"},
    "distill": {
        "teacher": {
            "model": {"name": "cnn", "params": {"blocks": 2, "channels": 16}},
            "training": {"epochs": 3},
        },
        "alpha": 0.7,
        "temperature": 4.0,
        "compare_baseline": True,
    },
}


def write(tmp_path: Path, spec: dict, name: str = "spec.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(spec))
    return p


def with_distill(**changes: object) -> dict:
    spec = copy.deepcopy(TINY)
    spec["distill"].update(changes)
    return spec


def test_distill_spec_trains_the_teacher_then_the_student_and_writes_the_stage(tmp_path):
    r = distill_spec(write(tmp_path, TINY), out=tmp_path / "run")
    stage = tmp_path / "run" / "distill"
    for name in ("model.safetensors", "metrics.json", "params.yaml", "spec.yaml", "history.json"):
        assert (stage / name).is_file(), name
    assert (stage / "teacher" / "model.safetensors").is_file()
    assert (stage / "baseline" / "model.safetensors").is_file()
    metrics = json.loads((stage / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(r.metrics))
    for key in (
        "test_accuracy",
        "test_errors",
        "val_accuracy",
        "teacher_test_accuracy",
        "baseline_test_accuracy",
    ):
        assert key in metrics, key
    assert metrics["alpha"] == 0.7 and metrics["temperature"] == 4.0
    assert metrics["params"] < metrics["teacher_params"]
    assert metrics["test_accuracy"] > 0.3  # 10 classes: chance is 0.1
    params = yaml.safe_load((stage / "params.yaml").read_text())
    assert params["model"] == "mlp" and params["model_params"] == {"depth": 1, "width": 16}
    assert params["distill"] == {"alpha": 0.7, "temperature": 4.0, "feature_weight": 0.0}
    assert params["teacher"]["name"] == "cnn" and params["teacher"]["source"] == "trained"
    assert [row["model"] for row in r.rows()] == ["teacher", "student (KD)", "student alone"]
    # The written student is the one the metrics describe.
    meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
    load_checkpoint(
        build_model("mlp", params["model_params"], meta), stage / "model.safetensors", strict_head=True
    )


def test_a_search_over_alpha_and_temperature_keeps_the_best_trial(tmp_path):
    spec = with_distill(compare_baseline=False, feature_weight=0.5)
    spec["search"] = {
        "strategy": "random",
        "scheduler": "none",
        "trials": 2,
        "space": {
            "distill.alpha": [0.5, 0.9],
            "distill.temperature": {"type": "float", "low": 1.0, "high": 8.0, "log": True},
        },
    }
    r = distill_spec(write(tmp_path, spec), out=tmp_path / "run")
    assert r.search is not None and len(r.search.trials) == 2
    best = r.search.best_trial
    assert r.metrics["trial"] == best.number and r.params["trial"] == best.number
    assert r.metrics["alpha"] == best.params["distill.alpha"]
    assert r.metrics["temperature"] == pytest.approx(best.params["distill.temperature"])
    assert r.metrics["feature_weight"] == 0.5
    stage = tmp_path / "run" / "distill"
    assert (stage / "study.db").is_file() and (
        stage / "trials" / str(best.number) / "model.safetensors"
    ).is_file()
    assert "baseline_test_accuracy" not in r.metrics


def _fake_tune_run(tmp_path: Path, num_classes: int) -> Path:
    """A run dir laid out like ``autoopt tune``'s: spec.yaml, best/{model.safetensors, params.yaml}."""
    run = tmp_path / f"tuned{num_classes}"
    meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=num_classes)
    save_checkpoint(
        build_model("cnn", {"blocks": 1, "channels": 8}, meta), run / "best" / "model.safetensors"
    )
    write_yaml(run / "best" / "params.yaml", {"model": "cnn", "model_params": {"blocks": 1}, "trial": 0})
    write_yaml(run / "spec.yaml", {"model": {"name": "cnn", "params": {"channels": 8}}})
    return run


def test_teacher_from_a_tune_run_dir(tmp_path):
    run = _fake_tune_run(tmp_path, 10)
    spec = with_distill(teacher=str(run), compare_baseline=False)
    r = distill_spec(write(tmp_path, spec), out=tmp_path / "out")
    assert r.params["teacher"] == {"name": "cnn", "params": {"channels": 8, "blocks": 1}, "source": str(run)}
    assert "teacher_test_accuracy" in r.metrics


@pytest.mark.parametrize("form", ["run_dir", "checkpoint"])
def test_a_teacher_trained_on_other_classes_names_distill_teacher(tmp_path, form):
    run = _fake_tune_run(tmp_path, 5)
    teacher = (
        str(run)
        if form == "run_dir"
        else {
            "checkpoint": str(run / "best" / "model.safetensors"),
            "model": {"name": "cnn", "params": {"blocks": 1, "channels": 8}},
        }
    )
    with pytest.raises(InvalidSpecError, match=r"distill\.teacher: the teacher predicts 5 classes but data"):
        distill_spec(write(tmp_path, with_distill(teacher=teacher)), out=tmp_path / "out")


def test_every_spec_problem_is_listed_before_anything_runs(tmp_path):
    spec = with_distill(alpha=1.5, student={"name": "mlp", "params": {"widht": 8}}, training={"lr": -1})
    spec["distill"]["teacher"] = {"run_dir": str(tmp_path / "nowhere")}
    spec["search"] = {"space": {"distill.temperature": {"low": 0.0, "high": 4.0}, "distill.teacher": [1, 2]}}
    with pytest.raises(InvalidSpecError) as info:
        check_distill_spec(write(tmp_path, spec))
    text = str(info.value)
    for expected in (
        "distill.alpha: must be <= 1.0; got 1.5",
        "search.space.distill.temperature: must be > 0.0; got 0.0",
        "search.space.distill.teacher: 'distill' searches one of: alpha, temperature, feature_weight",
    ):
        assert expected in text
    assert not (tmp_path / "runs").exists()


def test_every_model_and_file_problem_is_listed(tmp_path):
    spec = with_distill(student={"name": "mlp", "params": {"widht": 8}}, training={"lr": -1})
    spec["distill"]["teacher"] = {"run_dir": str(tmp_path / "nowhere")}
    spec["search"] = {"space": {"model.width": [8, 16]}}
    with pytest.raises(InvalidSpecError) as info:
        check_distill_spec(write(tmp_path, spec))
    text = str(info.value)
    for expected in (
        "distill.student.params.widht: unknown parameter for model 'mlp'",
        "distill.training.lr: must be > 0",
        "distill.teacher.run_dir: ",
        "is not a finished tune run",
        "search.space.model.width: model.* searches the spec's model:, but the student is distill.student",
    ):
        assert expected in text


def test_shipped_example_validates():
    path = ROOT / "examples" / "digits_distill.yaml"
    spec, cfg = check_distill_spec(path)
    assert cfg.teacher.source == "train" and cfg.compare_baseline
    load_spec(path)  # also a valid spec for the rest of autoopt


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        pass

    register(app)
    return app


def test_cli_distill_prints_json_and_errors_on_one_line(tmp_path):
    runner = CliRunner()
    spec = write(tmp_path, with_distill(compare_baseline=False))
    res = runner.invoke(_app(), ["distill", str(spec), "--out", str(tmp_path / "run"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["metrics"]["test_accuracy"] > 0.3 and out["counts"] is None
    bad = write(tmp_path, with_distill(alpha=3), "bad.yaml")
    res = runner.invoke(_app(), ["distill", str(bad)])
    assert res.exit_code == 2 and "distill.alpha" in res.output


def test_cli_distill_prints_the_comparison_table(tmp_path):
    runner = CliRunner()
    res = runner.invoke(_app(), ["distill", str(write(tmp_path, TINY)), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert "student (KD)" in res.output and "student alone" in res.output and "teacher" in res.output


def test_a_rerun_reuses_the_teacher_trained_with_the_same_recipe(tmp_path):
    path = write(tmp_path, with_distill(compare_baseline=False))
    first = distill_spec(path, out=tmp_path / "run")
    ckpt = tmp_path / "run" / "distill" / "teacher" / "model.safetensors"
    stamp = ckpt.stat().st_mtime_ns
    again = distill_spec(path, out=tmp_path / "run")
    assert ckpt.stat().st_mtime_ns == stamp
    assert again.metrics["teacher_test_accuracy"] == first.metrics["teacher_test_accuracy"]
    changed = with_distill(compare_baseline=False)
    changed["distill"]["teacher"]["training"] = {"epochs": 2}
    distill_spec(write(tmp_path, changed), out=tmp_path / "run")
    assert ckpt.stat().st_mtime_ns != stamp
