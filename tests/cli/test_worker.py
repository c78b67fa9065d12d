"""`autoopt run --workers N` and `autoopt worker` on one PostgreSQL study; bad storages; loopback binding."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from autoopt.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

SPEC = {
    "name": "scale",
    "threads": 1,
    "data": {"name": "digits", "limit": 200},
    "model": {"name": "mlp", "params": {"depth": 1, "width": 8}},
    "training": {"epochs": 2, "device": "cpu", "lr": 0.01},
    "search": {
        "strategy": "random",
        "scheduler": "none",
        "trials": 6,
        "space": {"training.weight_decay": {"low": 1.0e-5, "high": 1.0e-3, "log": True}},
    },
}


def _autoopt(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "autoopt", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_killed_coordinator_resumes_with_exact_totals_and_a_worker_joins(tmp_path, postgres):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    run_dir = tmp_path / "run"
    cmd = ["run", str(spec), "--out", str(run_dir), "--storage", postgres.url, "--workers", "2", "--quiet"]
    first = _autoopt(*cmd)
    end = time.time() + 90
    while time.time() < end and first.poll() is None:
        trials = run_dir / "trials"
        if trials.is_dir() and len(list(trials.iterdir())) >= 3:
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # the coordinator dies; its workers die with it
    first_out, _ = first.communicate(timeout=30)

    # Rerun the same command, and a worker joins from "another machine" with only URL + study name.
    again = _autoopt(*cmd)
    join = ["worker", "--storage", postgres.url, "--study", "scale", "--out", str(run_dir), "--quiet"]
    worker = _autoopt(*join)
    out, _ = again.communicate(timeout=240)
    worker_out, _ = worker.communicate(timeout=240)
    assert again.returncode == 0, out
    assert worker.returncode == 0, worker_out

    study = optuna.load_study(study_name="scale", storage=postgres.url)
    trials = study.get_trials(deepcopy=False)
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == 6  # exactly the spec's total across both sessions and the worker
    assert "RUNNING" not in states and "WAITING" not in states
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert failed, "no trial was running when the coordinator was killed"
    for t in failed:  # each trial killed with the coordinator was retried
        assert [r.number for r in trials if r.system_attrs.get("failed_trial") == t.number]
    assert (run_dir / "final" / "model.onnx").is_file()

    # The password of the storage URL is nowhere: command output, run files, events.jsonl, report.
    secret = "autoopt-local"
    assert secret not in first_out + out + worker_out
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".yaml", ".html", ".md", ".txt", ".log"):
            assert secret not in path.read_text(errors="replace"), path
    stored = study.user_attrs["autoopt:spec"]
    assert stored["name"] == "scale" and secret not in str(stored)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_worker_with_server_down_is_one_line_naming_the_url_and_the_fix():
    url = f"postgresql://alice:hunter2@127.0.0.1:{_closed_port()}/autoopt"
    r = runner.invoke(app, ["worker", "--storage", url, "--study", "s"])
    assert r.exit_code == 2
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "hunter2" not in r.output
    assert f"alice:***@127.0.0.1:{url.split(':')[3].split('/')[0]}/autoopt" in lines[0]
    assert "start the database server or fix host and port" in lines[0]


def test_worker_with_wrong_password_names_the_fix(postgres):
    url = postgres.url.replace("autoopt-local", "not-the-password")
    r = runner.invoke(app, ["worker", "--storage", url, "--study", "s"])
    assert r.exit_code == 2 and "not-the-password" not in r.output
    assert "password authentication failed" in r.output and "fix the user name or password" in r.output


def test_worker_of_unknown_study_says_how_to_start_it(tmp_path):
    r = runner.invoke(app, ["worker", "--storage", str(tmp_path / "s.db"), "--study", "nope"])
    assert r.exit_code == 2
    assert "no study 'nope'" in r.output and "autoopt run SPEC.yaml --storage URL" in r.output


def test_dashboard_binds_loopback_by_default(tmp_path, monkeypatch):
    import optuna_dashboard

    optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}", study_name="d")
    seen = {}
    monkeypatch.setattr(optuna_dashboard, "run_server", lambda storage, host, port: seen.update(host=host))
    r = runner.invoke(app, ["dashboard", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert seen["host"] == "127.0.0.1"
