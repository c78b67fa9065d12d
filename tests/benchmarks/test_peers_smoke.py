"""Smoke test of every peer runner of benchmarks/peers (issue 10): 2 trials each, in the peers' venv.

Runs only where ``make bench-peers`` (or its install step) has created ``benchmarks/peers/.venv``; the
peers (Keras, Keras Tuner, Hyperopt) are never dependencies of autoopt itself.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEERS_PY = ROOT / "benchmarks" / "peers" / ".venv" / "bin" / "python"
RUN = ROOT / "benchmarks" / "peers" / "run.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not PEERS_PY.exists(),
        reason=f"the peers' virtual environment {PEERS_PY.parent.parent} does not exist; "
        "`make bench-peers` creates it (Keras 3, Keras Tuner, Hyperopt, Optuna, autoopt)",
    ),
]

NN_PEERS = [
    "kt-random",
    "kt-bayes",
    "kt-hyperband",
    "optuna-tpe",
    "optuna-random",
    "optuna-tpe-median",
    "optuna-random-median",
    "hyperopt-tpe",
    "autoopt-auto-asha",
    "autoopt-random",
]
SYNTHETIC_PEERS = ["kt-random", "optuna-tpe", "hyperopt-tpe", "autoopt-auto-asha"]  # kt-bayes: same code path


def run_job(tmp_path: Path, **job: object) -> dict:
    out = tmp_path / "run.json"
    env = dict(os.environ, KERAS_BACKEND="torch", OMP_NUM_THREADS="1", PYTHONPATH="")
    p = subprocess.run(
        [str(PEERS_PY), str(RUN), "--job", json.dumps(job), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert out.exists(), p.stderr[-2000:]
    row = json.loads(out.read_text())
    assert "error" not in row, row.get("error")
    assert p.returncode == 0
    return row


@pytest.mark.parametrize("peer", NN_PEERS)
def test_nn_runner_records_two_trials(peer: str, tmp_path: Path) -> None:
    row = run_job(tmp_path, peer=peer, task="breast_cancer", seed=0, trials=2, timeout=None, epochs=2)
    trials = row["trials"]
    assert len(trials) == 2
    for t in trials:
        assert 0.0 <= t["value"] <= 1.0 and 0.0 <= t["test"] <= 1.0
        assert t["wall_s"] > 0 and t["cpu_s"] > 0 and 1 <= t["epochs"] <= 2
    assert trials[1]["wall_s"] >= trials[0]["wall_s"]


@pytest.mark.parametrize("peer", SYNTHETIC_PEERS)
def test_synthetic_runner_records_two_trials(peer: str, tmp_path: Path) -> None:
    row = run_job(tmp_path, peer=peer, task="branin", seed=0, trials=2, timeout=None)
    assert [t["state"] for t in row["trials"]] == ["complete", "complete"]
    assert all(t["value"] >= 0.397887 for t in row["trials"])  # branin's minimum


def test_time_budget_stops_new_trials(tmp_path: Path) -> None:
    row = run_job(
        tmp_path, peer="kt-random", task="breast_cancer", seed=0, trials=None, timeout=0.01, epochs=1
    )
    assert len(row["trials"]) == 1  # the first trial runs, then the budget is spent


def test_hyperband_is_skipped_on_synthetic(tmp_path: Path) -> None:
    row = run_job(tmp_path, peer="kt-hyperband", task="branin", seed=0, trials=2, timeout=None)
    assert "needs epochs" in row["skipped"]
