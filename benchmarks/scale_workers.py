"""Throughput of 1, 2 and 4 workers on one study (SQLite and a local PostgreSQL), and fault figures.

    .venv/bin/python benchmarks/scale_workers.py [--per-worker 250] [--work-ms 0 50] [--repeats 3]

Each run asks ``workers x per_worker`` trials of an objective that does ``work-ms`` milliseconds of
sleep (0: the storage and autoopt's per-trial bookkeeping are all there is) through ``autoopt.tune``
with ``jobs=workers``; it checks that no trial is lost or duplicated and reports trials/s (median of
the repeats) and the ratio to one worker. The fault section kills one of 3 workers in the middle of a
trial and measures how long until its retry starts, and stops the PostgreSQL server mid-run and
measures how long until the workers stop. Prints markdown for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

import autoopt
from autoopt.testing.postgres import LocalPostgres, install_postgres

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _objective(work_s: float):
    def objective(params):
        if work_s:
            time.sleep(work_s)
        return params["x"] ** 2

    return objective


def _fresh_pg_db(server: LocalPostgres, name: str) -> str:
    env = {**os.environ, "PGPASSWORD": "autoopt-local"}
    base = ["psql", "-h", "127.0.0.1", "-p", str(server.port), "-U", "autoopt", "-d", "autoopt", "-qc"]
    subprocess.run([*base, f"DROP DATABASE IF EXISTS {name}"], env=env, check=True, capture_output=True)
    subprocess.run([*base, f"CREATE DATABASE {name}"], env=env, check=True, capture_output=True)
    return server.url.rsplit("/", 1)[0] + f"/{name}"


def one_run(storage: str, workers: int, per_worker: int, work_s: float) -> float:
    total = workers * per_worker
    t0 = time.perf_counter()
    r = autoopt.tune(
        _objective(work_s),
        space={"x": {"low": -1.0, "high": 1.0}},
        strategy="random",
        trials=total,
        jobs=workers,
        oversubscribe=True,  # the trials sleep: 4 workers measure the storage even on 2 cores
        storage=storage,
        study_name="bench",
        seed=0,
    )
    wall = time.perf_counter() - t0
    trials = r.study.get_trials(deepcopy=False)
    states = [t.state.name for t in trials]
    if states.count("COMPLETE") != total or len(trials) != total:
        done = states.count("COMPLETE")
        raise SystemExit(f"lost or duplicated trials on {storage}: {len(trials)} trials, {done} complete")
    if sorted(t.number for t in trials) != list(range(total)):
        raise SystemExit("trial numbers are not 0..N-1")
    return total / wall


KILL_SCRIPT = """
import os, sys, time
from pathlib import Path
import autoopt
out = Path(sys.argv[2])
def objective(trial):
    x = trial.suggest_float("x", -1, 1)
    (out / f"{trial.number}-{os.getpid()}").touch()
    time.sleep(0.5)
    return x * x
autoopt.tune(objective, trials=12, jobs=3, storage=sys.argv[1], study_name="kill", seed=0,
             strategy="random", storage_patience=float(sys.argv[3]), oversubscribe=True)
"""


def kill_recovery(storage: str, tmp: Path) -> tuple[float, int]:
    """Kill one of 3 workers mid-trial: seconds until its retry starts; COMPLETE count at the end."""
    marks = tmp / "marks"
    marks.mkdir()
    script = tmp / "kill.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), storage, str(marks), "60"])
    victim = None
    while victim is None and proc.poll() is None:
        started = sorted(tuple(int(v) for v in p.name.split("-")) for p in marks.iterdir())
        if len(started) >= 4:
            victim = max(started)
            os.kill(victim[1], signal.SIGKILL)
            killed_at = time.time()
        time.sleep(0.01)
    proc.wait()
    study = optuna.load_study(study_name="kill", storage=storage)
    retry = next(t for t in study.get_trials() if t.system_attrs.get("failed_trial") == victim[0])
    complete = sum(t.state.name == "COMPLETE" for t in study.get_trials())
    return retry.datetime_start.timestamp() - killed_at, complete


def lost_server(tmp: Path, patience: float) -> float:
    """Stop the server mid-run: seconds until the workers have stopped (bounded retry)."""
    server = LocalPostgres(tmp / "lost").start()
    marks = tmp / "lost-marks"
    marks.mkdir()
    script = tmp / "kill.py"
    script.write_text(KILL_SCRIPT.replace("trials=12", "trials=1000").replace("0.5", "0.05"))
    proc = subprocess.Popen(
        [sys.executable, str(script), server.url, str(marks), str(patience)], stderr=subprocess.DEVNULL
    )
    while len(list(marks.iterdir())) < 6:
        time.sleep(0.05)
    server.stop("immediate")
    t0 = time.time()
    proc.wait()
    return time.time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-worker", type=int, default=250)
    ap.add_argument("--work-ms", type=float, nargs="+", default=[0.0, 50.0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--faults", action=argparse.BooleanOptionalAction, default=True)
    a = ap.parse_args()
    why = install_postgres()
    if why:
        raise SystemExit(why)
    tmp = Path(tempfile.mkdtemp(prefix="autoopt-scale-"))
    shutil.chown(tmp, "postgres", "postgres") if os.geteuid() == 0 else None
    server = LocalPostgres(tmp / "pg").start()
    try:
        print(f"per worker: {a.per_worker} trials; median of {a.repeats}; {os.cpu_count()} CPUs\n")
        print("| storage | work per trial | workers | trials | trials/s (median) | vs 1 worker |")
        print("|---|---|---|---|---|---|")
        for work in a.work_ms:
            for kind in ("sqlite", "postgresql"):
                base = None
                for w in a.workers:
                    rates = []
                    for rep in range(a.repeats):
                        if kind == "sqlite":
                            db = tmp / f"s{work}-{w}-{rep}.db"
                            url = f"sqlite:///{db}"
                        else:
                            url = _fresh_pg_db(server, f"b{int(work)}_{w}_{rep}")
                        rates.append(one_run(url, w, a.per_worker, work / 1000))
                    rate = statistics.median(rates)
                    base = base or rate
                    n = w * a.per_worker
                    row = f"| {kind} | {work:g} ms | {w} | {n} | {rate:.1f} | {rate / base:.2f}x |"
                    print(row, flush=True)
        if a.faults:
            print("\n| fault | storage | figure |")
            print("|---|---|---|")
            for kind in ("sqlite", "postgresql"):
                sub = tmp / f"kill-{kind}"
                sub.mkdir()
                url = f"sqlite:///{sub / 'k.db'}" if kind == "sqlite" else _fresh_pg_db(server, "killbench")
                delay, complete = kill_recovery(url, sub)
                print(f"| kill -9 one of 3 workers mid-trial | {kind} | retry started {delay:.2f} s after "
                      f"the kill; {complete}/12 COMPLETE |", flush=True)
            stop = lost_server(tmp, patience=10.0)
            print(f"| server stopped mid-run (storage_patience 10 s) | postgresql | workers stopped "
                  f"{stop:.1f} s after the server |")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
