from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoopt.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
OBJ = """
import time
def f(params):
    time.sleep(float(params.get("sleep", 0)))
    return (params["x"] - 1) ** 2
def mo(params):
    return {"err": (params["x"] - 1) ** 2, "size": params["x"] * 10}
"""
SPACE = "space:\n  x: {type: float, low: -3.0, high: 3.0}\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "obj.py").write_text(OBJ)
    (tmp_path / "space.yaml").write_text(SPACE)
    return tmp_path


def test_tune_python_objective_json(files):
    out = files / "run"
    res = runner.invoke(
        app,
        [
            "tune",
            f"{files}/obj.py:f",
            "--space",
            f"{files}/space.yaml",
            "--trials",
            "8",
            "--seed",
            "0",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["counts"] == {"COMPLETE": 8} and abs(data["best_params"]["x"] - 1) < 1.5
    assert (out / "study.db").exists() and json.loads((out / "run.json").read_text())["study"] == "f"
    assert json.loads((out / "result.json").read_text())["best_value"] == data["best_value"]


def test_tune_prints_a_table_and_show_reads_the_run(files):
    out = files / "run"
    res = runner.invoke(
        app,
        [
            "tune",
            f"{files}/obj.py:f",
            "--space",
            f"{files}/space.yaml",
            "--trials",
            "5",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Top 5 trials" in res.stdout and "best params" in res.stdout
    res = runner.invoke(app, ["show", str(out), "--top", "2"])
    assert res.exit_code == 0 and "Top 2 trials" in res.stdout and "trials: 5 complete" in res.stdout


def test_multi_objective_with_constraint_from_cli(files):
    res = runner.invoke(
        app,
        [
            "tune",
            f"{files}/obj.py:mo",
            "--space",
            f"{files}/space.yaml",
            "--trials",
            "10",
            "--directions",
            "minimize,minimize",
            "--metrics",
            "err,size",
            "--constraint",
            "size <= 20",
            "--out",
            str(files / "mo"),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    front = json.loads(res.stdout)["pareto"]
    assert front and all(row["metrics"]["size"] <= 20 for row in front)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--strategy", "rnd"], "unknown strategy 'rnd'"),
        (["--scheduler", "asa"], "unknown scheduler 'asa'"),
        (["--storage", "postgresql://u:pw@127.0.0.1:1/x"], "u:***@127.0.0.1:1/x"),
    ],
)
def test_bad_input_is_one_clear_line(files, args, message):
    res = runner.invoke(
        app,
        [
            "tune",
            f"{files}/obj.py:f",
            "--space",
            f"{files}/space.yaml",
            "--trials",
            "2",
            "--out",
            str(files / "r"),
            *args,
        ],
    )
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output and "pw@" not in res.output


def test_bad_space_and_target(files):
    (files / "bad.yaml").write_text("x: {low: 2.0, high: 1.0}\n")
    res = runner.invoke(
        app,
        [
            "tune",
            f"{files}/obj.py:f",
            "--space",
            f"{files}/bad.yaml",
            "--trials",
            "2",
            "--out",
            str(files / "r"),
        ],
    )
    assert res.exit_code == 2 and "search.space.x: 'low' (2.0) must be below 'high' (1.0)" in res.output
    res = runner.invoke(app, ["tune", f"{files}/obj.py:g", "--trials", "2"])
    assert res.exit_code == 2 and "has no function 'g'; it defines: f, mo" in res.output
    res = runner.invoke(app, ["show", str(files / "nothing")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_list():
    res = runner.invoke(app, ["list", "strategies"])
    assert res.exit_code == 0 and res.stdout.split() == [
        "auto",
        "bayes",
        "cmaes",
        "evolution",
        "grid",
        "qmc",
        "random",
        "regularized-evolution",
        "rl",
        "tpe",
    ]


@pytest.mark.slow
def test_ctrl_c_keeps_results_and_rerun_resumes(files):
    (files / "space2.yaml").write_text(SPACE + "  sleep: 0.4\n")
    cmd = [
        sys.executable,
        "-m",
        "autoopt",
        "tune",
        f"{files}/obj.py:f",
        "--space",
        f"{files}/space2.yaml",
        "--trials",
        "8",
        "--seed",
        "0",
        "--out",
        str(files / "run"),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A suite started as a background job inherits SIGINT ignored, and Python keeps it ignored:
        # give the child the default disposition so Ctrl-C reaches it as it would in a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Interrupt once at least one trial has finished (polling the run's study, whatever the load).
    deadline = time.time() + 90
    while time.time() < deadline:
        time.sleep(0.5)
        if (files / "run" / "study.db").exists():
            shown = runner.invoke(app, ["show", str(files / "run"), "--json"])
            if shown.exit_code == 0 and json.loads(shown.stdout)["counts"].get("COMPLETE", 0) >= 1:
                break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "interrupted" in out and "best params" in out
    res = runner.invoke(app, ["show", str(files / "run"), "--json"])
    shown = json.loads(res.stdout)["trials"]
    states = [t["state"] for t in shown]
    failed = next(t for t in shown if t["state"] == "FAIL")
    # The interrupted trial is failed and queued again with its parameters (with none when Ctrl-C came
    # between ask and sampling, as seen at load 10: its retry then samples afresh).
    assert 1 <= states.count("COMPLETE") < 8 and states[-2:] == ["FAIL", "WAITING"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    trials = json.loads(runner.invoke(app, ["show", str(files / "run"), "--json"]).stdout)["trials"]
    # The retry ran and only it counts toward the 8 trials: 8 complete plus the interrupted attempt.
    assert [t["number"] for t in trials] == list(range(9)) and trials[0]["state"] == "COMPLETE"
    assert [t["state"] for t in trials].count("COMPLETE") == 8
    if failed["params"]:
        assert trials[len(states) - 1]["params"] == trials[len(states) - 2]["params"]
