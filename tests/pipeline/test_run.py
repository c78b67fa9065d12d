"""`autoopt run`: every stage, resume, --from, --more-trials, kills mid-stage, layout check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autoopt.cli import app
from autoopt.exceptions import InvalidSpecError
from autoopt.pipeline import run_spec

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

SPEC = {
    "name": "full",
    "threads": 1,
    "data": {"name": "digits", "limit": 400},
    "model": {"name": "cnn", "params": {"blocks": 2, "channels": 16}},
    "training": {"epochs": 2, "device": "cpu", "lr": 0.01},
    "search": {
        "strategy": "random",
        "scheduler": "none",
        "trials": 2,
        "space": {"training.weight_decay": {"low": 1.0e-5, "high": 1.0e-3, "log": True}},
    },
    "distill": {"student": {"name": "mlp", "params": {"depth": 1, "width": 16}}, "alpha": 0.5},
    "compress": {
        "steps": [
            {"prune": {"ratio": 0.5}},
            {"finetune": {"epochs": 1}},
            {"quantize": {"mode": "static", "calibration_samples": 128, "sensitivity": False}},
        ],
        "latency_repeats": 3,
        "max_accuracy_drop": 100,
    },
}


def write(tmp_path: Path, spec: dict) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    path = write(tmp, SPEC)
    return path, tmp / "run", run_spec(path, out=tmp / "run")


def test_every_stage_runs_into_one_run_directory(full_run):
    _, run_dir, res = full_run
    assert (
        res.stages["search"] == "ran" and res.stages["distill"] == "ran" and res.stages["compress"] == "ran"
    )
    for path in [
        "spec.yaml",
        "study.db",
        "events.jsonl",
        "best/model.safetensors",
        "distill/model.safetensors",
        "compress/metrics.json",
        "final/model.onnx",
        "final/model.json",
        "manifest.json",
        "candidates/searched/model.onnx",
        "candidates/distilled/model.onnx",
        "candidates/student_alone/model.onnx",
    ]:
        assert (run_dir / path).exists(), path
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    done = [e["stage"] for e in events if e["status"] == "done"]
    assert done == ["search", "distill", "compress", "export", "report"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    ids = [c["id"] for c in manifest["candidates"]]
    assert ids[:3] == ["searched", "distilled", "student_alone"] and ids[-1] == "compress_3_quantize"
    card = json.loads((run_dir / "final" / "model.json").read_text())
    assert card["shipped"]["candidate"] == manifest["shipped"] and card["deployable"] == "model.onnx"
    assert res.metrics["test_accuracy"] > 0.2 and res.summary[-1]["role"] == "shipped"


def test_rerun_skips_finished_stages_and_from_forces(full_run):
    path, run_dir, _ = full_run
    again = run_spec(path, out=run_dir)
    assert (
        again.stages["search"] == "skipped (up to date)"
        and again.stages["compress"] == "skipped (up to date)"
    )
    forced = run_spec(path, out=run_dir, from_stage="compress")
    assert forced.stages["search"] == "skipped (up to date)" and forced.stages["compress"] == "ran"


def test_more_trials_extends_the_search(full_run):
    path, run_dir, _ = full_run
    res = run_spec(path, out=run_dir, more_trials=1, from_stage=None)
    assert res.stages["search"] == "ran"
    import optuna

    from autoopt.io import open_storage

    study = optuna.load_study(study_name="full", storage=open_storage(run_dir / "study.db"))
    assert [t.number for t in study.get_trials()] == [0, 1, 2]


def test_unknown_stage_and_incompatible_layout(tmp_path):
    path = write(tmp_path, SPEC)
    with pytest.raises(InvalidSpecError, match="--from: unknown stage 'serch'"):
        run_spec(path, out=tmp_path / "r", from_stage="serch")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "run.json").write_text(json.dumps({"autoopt": "9.0", "layout": 99}))
    before = sorted(p.name for p in (tmp_path / "old").iterdir())
    with pytest.raises(InvalidSpecError, match=r"layout 99; this autoopt .* Nothing was changed"):
        run_spec(path, out=tmp_path / "old")
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == before


def _kill_when(cmd: list[str], ready, timeout: float = 600) -> None:
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_killed_during_search_and_during_compress_resumes(tmp_path):
    spec = {**SPEC, "search": {**SPEC["search"], "trials": 20}}  # long enough to be killed mid-search
    spec.pop("distill")
    path = write(tmp_path, spec)
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "autoopt", "run", str(path), "--out", str(run_dir), "--quiet"]
    _kill_when(cmd, lambda: (run_dir / "trials" / "1" / "history.json").exists())  # mid-search
    assert not (run_dir / "search" / "fingerprint.json").exists()
    _kill_when(cmd, lambda: (run_dir / "compress" / "0_baseline" / "model.onnx").exists())  # mid-compress
    assert (run_dir / "search" / "fingerprint.json").exists()
    assert not (run_dir / "compress" / "fingerprint.json").exists()
    res = runner.invoke(app, ["run", str(path), "--out", str(run_dir), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["stages"]["search"] == "skipped (up to date)" and out["stages"]["compress"] == "ran"
    import optuna

    from autoopt.io import open_storage

    study = optuna.load_study(study_name="full", storage=open_storage(run_dir / "study.db"))
    trials = study.get_trials()
    assert len({t.number for t in trials}) == len(trials)  # no duplicated numbers
    assert sum(t.state.name == "COMPLETE" for t in trials) >= 19


def test_changed_data_retrains_the_best_configuration(tmp_path):
    spec = {k: v for k, v in SPEC.items() if k not in ("distill", "compress")}
    path = write(tmp_path, spec)
    first = run_spec(path, out=tmp_path / "run")
    assert first.stages["search"] == "ran"
    changed = {**spec, "data": {**spec["data"], "limit": 450}}
    second = run_spec(write(tmp_path, changed), out=tmp_path / "run")
    assert second.stages["search"] == "ran"
    assert (tmp_path / "run" / "best" / "retrain" / "model.safetensors").is_file()
    import optuna

    from autoopt.io import open_storage

    study = optuna.load_study(study_name="full", storage=open_storage(tmp_path / "run" / "study.db"))
    assert len(study.get_trials()) == 2  # the search was kept, not run again


def test_warm_start_enqueues_compatible_configs_and_reports_the_rest(tmp_path):
    from autoopt.pipeline import tune_spec

    base = {k: v for k, v in SPEC.items() if k not in ("distill", "compress")}
    base["search"] = {
        **base["search"],
        "trials": 3,
        "space": {
            "training.weight_decay": {"low": 1.0e-5, "high": 1.0e-3, "log": True},
            "model.channels": [8, 16],
        },
    }
    first = tune_spec(write(tmp_path, base), out=tmp_path / "a")
    old = sorted(first.search.trials, key=lambda t: t.values[0], reverse=True)
    new = {
        **base,
        "name": "b",
        "search": {
            **base["search"],
            "trials": 4,
            "warm_start": str(tmp_path / "a"),
            "warm_start_top": 3,
            "space": {
                "training.weight_decay": {"low": 1.0e-5, "high": 1.0e-3, "log": True},
                "model.channels": [16, 32],
            },
        },
    }
    second = tune_spec(write(tmp_path, new), out=tmp_path / "b")
    carried = [t for t in old if t.params["model.channels"] == 16]
    dropped = [t for t in old if t.params["model.channels"] == 8]
    firsts = [t.params for t in second.search.trials[: len(carried)]]
    assert firsts == [t.params for t in carried]
    assert len(second.warm_start_incompatible) == len(dropped)
    assert all("model.channels=8 outside" in line for line in second.warm_start_incompatible)
