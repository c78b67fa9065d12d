"""Many workers on one study: killed workers, load, lost storage, full disk (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
import torch

import autoopt
from autoopt.exceptions import CheckpointError, StorageError
from autoopt.models import load_checkpoint, save_checkpoint
from autoopt.search._budget import WORKER_ATTR, recover_dead_trials

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# A coordinator with 3 worker processes; each trial marks its start (trial number, pid), writes an
# epoch checkpoint twice and returns.
WORKERS = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import torch
    import autoopt
    from autoopt.models import save_checkpoint

    storage, out, trials, jobs, pause = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \\
        float(sys.argv[5])

    def objective(trial):
        x = trial.suggest_float("x", -1.0, 1.0)
        (out / "started" / f"{trial.number}-{os.getpid()}").touch()
        model = torch.nn.Linear(4, 2)
        for epoch in range(2):
            time.sleep(pause)
            save_checkpoint(model, out / "trials" / str(trial.number) / "model.safetensors",
                            metadata={"epoch": str(epoch)})
        return x * x

    (out / "started").mkdir(parents=True, exist_ok=True)
    autoopt.tune(objective, trials=trials, jobs=jobs, storage=storage, study_name="s", seed=0,
                 strategy="random", storage_patience=float(os.environ.get("PATIENCE", "60")),
                 oversubscribe=True)  # trials that sleep: more workers than cores on purpose
    """
)


def _start(tmp_path: Path, storage: str, trials: int, jobs: int, pause: float, **env: str):
    script = tmp_path / "workers.py"
    script.write_text(WORKERS)
    environ = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **env}
    return subprocess.Popen(
        [sys.executable, str(script), storage, str(tmp_path), str(trials), str(jobs), str(pause)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _started(tmp_path: Path) -> list[tuple[int, int]]:
    folder = tmp_path / "started"
    if not folder.is_dir():
        return []
    return sorted(tuple(int(v) for v in p.name.split("-")) for p in folder.iterdir())  # type: ignore[misc]


@pytest.fixture(params=["sqlite", "postgres"])
def storage_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    server = request.getfixturevalue("postgres")
    name = f"t{abs(hash(request.node.name)) % 10**8}"
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(server.port), "-U", "autoopt", "-d", "autoopt", "-qc",
         f"CREATE DATABASE {name}"],
        env={**os.environ, "PGPASSWORD": "autoopt-local"},
        check=True,
        capture_output=True,
    )  # fmt: skip
    return server.url.rsplit("/", 1)[0] + f"/{name}"


def test_kill_one_of_three_workers_mid_trial(tmp_path, storage_url):
    proc = _start(tmp_path, storage_url, trials=9, jobs=3, pause=0.25)
    victim = None
    end = time.time() + 60
    while victim is None and time.time() < end and proc.poll() is None:
        started = _started(tmp_path)
        if len(started) >= 4:  # every worker is running trials: kill the newest one's worker now
            victim = max(started)
            os.kill(victim[1], signal.SIGKILL)
        time.sleep(0.02)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert victim is not None, "the workers finished before one could be killed"

    study = optuna.load_study(study_name="s", storage=storage_url)
    trials = study.get_trials(deepcopy=False)
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == 9  # exactly the requested total
    assert "RUNNING" not in states and "WAITING" not in states
    killed = trials[victim[0]]
    assert killed.state.name == "FAIL"
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].state.name == "COMPLETE"
    assert retries[0].params == killed.params  # the same configuration, run again
    numbers = [n for n, _ in _started(tmp_path)]
    assert len(numbers) == len(set(numbers))  # no trial number ran twice
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    for t in trials:  # every checkpoint left behind is whole (its content hash matches)
        ckpt = tmp_path / "trials" / str(t.number) / "model.safetensors"
        if ckpt.exists():
            load_checkpoint(torch.nn.Linear(4, 2), ckpt)
        elif t.state.name == "COMPLETE":
            pytest.fail(f"trial {t.number} completed without its checkpoint")


def test_load_four_workers_no_lost_or_duplicated_trials(tmp_path, storage_url):
    r = autoopt.tune(
        lambda p: p["x"] ** 2,
        space={"x": {"low": -1.0, "high": 1.0}},
        strategy="random",
        trials=60,
        jobs=4,
        oversubscribe=True,  # more workers than a small machine's cores, on purpose
        storage=storage_url,
        study_name="load",
        seed=0,
    )
    trials = r.study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 60
    assert sorted(t.number for t in trials) == list(range(60))
    assert len({t.system_attrs[WORKER_ATTR].split(":")[1] for t in trials}) >= 2  # spread over workers


def test_sigkilled_single_process_run_leaves_no_running_trial_after_resume(tmp_path):
    db = f"sqlite:///{tmp_path / 'study.db'}"
    proc = _start(tmp_path, db, trials=4, jobs=1, pause=5.0)
    end = time.time() + 60
    while not _started(tmp_path) and time.time() < end:
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no handler runs, the trial stays RUNNING in the file
    proc.communicate(timeout=30)
    study = optuna.load_study(study_name="s", storage=db)
    assert [t.state.name for t in study.get_trials()] == ["RUNNING"]
    proc = _start(tmp_path, db, trials=4, jobs=1, pause=0.01)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    states = [t.state.name for t in optuna.load_study(study_name="s", storage=db).get_trials()]
    assert states == ["FAIL"] + ["COMPLETE"] * 4


def test_heartbeat_stale_trial_of_another_machine_is_retried(tmp_path):
    """A worker elsewhere (no pid to check here) that stops beating is failed after the grace period."""
    from autoopt.io import open_storage

    db = tmp_path / "hb.db"
    storage = open_storage(db, heartbeat_interval=1, grace_period=1)
    study = optuna.create_study(storage=storage, study_name="h")
    with pytest.warns(UserWarning, match="Heartbeat"):
        orphan = study.ask({"x": optuna.distributions.FloatDistribution(-1, 1)})
    storage.set_trial_system_attr(orphan._trial_id, WORKER_ATTR, "elsewhere:1:1")
    storage.record_heartbeat(orphan._trial_id)
    assert recover_dead_trials(study) == []  # still beating recently
    time.sleep(2.2)
    assert recover_dead_trials(study) == [0]
    retry = study.get_trials()[1]
    assert retry.state.name == "WAITING" and retry.params == orphan.params
    assert retry.system_attrs["retry_history"] == [0]


def test_retries_stop_at_the_limit(tmp_path):
    from autoopt.io import open_storage

    storage = open_storage(tmp_path / "r.db", heartbeat_interval=1, grace_period=1, max_retries=1)
    study = optuna.create_study(storage=storage, study_name="r")
    for _ in range(2):  # the trial and its one retry both die
        with pytest.warns(UserWarning, match="Heartbeat"):
            t = study.ask()
        storage.set_trial_system_attr(t._trial_id, WORKER_ATTR, "elsewhere:1:1")
        storage.record_heartbeat(t._trial_id)
        time.sleep(2.2)
        assert recover_dead_trials(study) == [t.number]
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "FAIL"]  # no third attempt is queued
    assert trials[1].system_attrs["retry_history"] == [0]


def test_server_lost_mid_run_retries_then_stops_cleanly(tmp_path, fresh_postgres):
    server = fresh_postgres
    proc = _start(tmp_path, server.url, trials=1000, jobs=2, pause=0.05, PATIENCE="3")
    end = time.time() + 60
    while len(_started(tmp_path)) < 6 and time.time() < end:
        time.sleep(0.05)
    server.stop("immediate")
    lost = time.time()
    out, _ = proc.communicate(timeout=90)
    stopped_after = time.time() - lost
    assert proc.returncode != 0
    assert "unreachable" in out and "this worker stopped" in out and "autoopt-local" not in out
    assert stopped_after < 30  # bounded: 3 s of retries with backoff, not forever
    server.start()
    server.wait_ready()
    study = optuna.load_study(study_name="s", storage=server.url)
    complete = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert complete and all(t.value is not None for t in complete)  # finished trials kept


def test_disk_full_while_writing_a_checkpoint_fails_the_trial_cleanly(tmp_path, monkeypatch):
    import autoopt.models._checkpoint as ck

    real = ck.save_file
    calls = {"n": 0}

    def full_disk(tensors, path, metadata=None):
        calls["n"] += 1
        if calls["n"] == 3:  # the third checkpoint: the disk fills up halfway through
            Path(path).write_bytes(b"\0" * 10)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tensors, path, metadata=metadata)

    monkeypatch.setattr(ck, "save_file", full_disk)

    def objective(trial):
        model = torch.nn.Linear(4, 2)
        save_checkpoint(model, tmp_path / str(trial.number) / "model.safetensors")
        return trial.suggest_float("x", 0, 1)

    r = autoopt.tune(objective, trials=4, storage=tmp_path / "s.db", study_name="d", seed=0)
    assert [t.state for t in r.trials] == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    assert "No space left" in (r.trials[2].reason or "")
    for n in (0, 1, 3):  # the others stay valid
        load_checkpoint(torch.nn.Linear(4, 2), tmp_path / str(n) / "model.safetensors")
    assert not (tmp_path / "2" / "model.safetensors").exists()
    assert not list((tmp_path / "2").glob("*.tmp"))  # no half-written file left


def test_corrupt_checkpoint_is_refused(tmp_path):
    path = save_checkpoint(torch.nn.Linear(4, 2), tmp_path / "m.safetensors")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the last tensor's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt checkpoint: its content hash does not match"):
        load_checkpoint(torch.nn.Linear(4, 2), path)


def test_storage_error_names_url_without_password(postgres):
    url = postgres.url.replace("autoopt-local", "wrong-secret")
    with pytest.raises(StorageError) as e:
        autoopt.tune(lambda p: 0.0, space={"x": {"low": 0.0, "high": 1.0}}, trials=1, storage=url)
    msg = str(e.value)
    assert "wrong-secret" not in msg and "autoopt:***@127.0.0.1" in msg
    assert "password authentication failed" in msg and "fix the user name or password" in msg
    assert "\n" not in msg


def test_a_trial_never_claimed_by_a_worker_is_recovered_after_the_grace(tmp_path, monkeypatch):
    """A process killed between creating a trial and claiming it leaves a RUNNING trial with no owner
    and no heartbeat; a resumed search once waited for it forever (seen in CI)."""
    from autoopt.io import open_storage
    from autoopt.search import _budget

    db = tmp_path / "orphan.db"
    storage = open_storage(db, heartbeat_interval=1, grace_period=1)
    study = optuna.create_study(storage=storage, study_name="o")
    with pytest.warns(UserWarning, match="Heartbeat"):
        study.ask({"x": optuna.distributions.FloatDistribution(-1, 1)})  # no owner, no heartbeat
    assert recover_dead_trials(study) == []  # too young: its worker may be claiming it right now
    monkeypatch.setattr(_budget, "UNCLAIMED_GRACE_S", 0.0)
    assert recover_dead_trials(study) == [0]
    res = autoopt.tune(
        lambda p: p["x"] ** 2,
        space={"x": {"type": "float", "low": -1, "high": 1}},
        trials=3,
        storage=str(db),
        study_name="o",
        seed=0,
    )
    states = [t.state.name for t in res.study.get_trials()]
    assert states.count("COMPLETE") == 3 and "RUNNING" not in states
