"""Issue 10: autoopt side by side with Keras Tuner, plain Optuna and Hyperopt on the same tasks.

Runs every peer x task x seed, each run in its own subprocess (one intra-op thread), once with a trial
budget and once with a wall-time budget; each run writes its per-trial (value, wall time, CPU time) to
``benchmarks/.cache/peers/<mode>/<peer>__<task>__<seed>.json`` (rerunning skips runs already there;
``--fresh`` starts over). Then ``report.py`` writes the peers section of ``benchmarks/RESULTS.md`` and
the PNG plots in ``benchmarks/peers/plots/``.

Needs the peers' virtual environment (``make bench-peers`` creates it and runs this)::

    KERAS_BACKEND=torch nice -n 10 benchmarks/peers/.venv/bin/python benchmarks/peers/run.py [--quick]

One run in the child process::

    benchmarks/peers/.venv/bin/python benchmarks/peers/run.py --job '{"peer": "optuna-tpe", "task":
    "digits", "seed": 0, "trials": 2, "timeout": null}' --out /tmp/r.json
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
CACHE = HERE.parent / ".cache" / "peers"

KT = ["kt-random", "kt-bayes", "kt-hyperband"]
OPTUNA = ["optuna-tpe", "optuna-random", "optuna-tpe-median", "optuna-random-median"]
AUTOOPT = ["autoopt-auto-asha", "autoopt-random"]
ALL_PEERS = KT + OPTUNA + ["hyperopt-tpe"] + AUTOOPT
# On the synthetic functions there are no epochs: pruner variants would be identical to their base
# sampler, and Keras Tuner's Hyperband allocates epochs, so these are not run there. Keras Tuner's
# RandomSearch/BayesianOptimization can run them (the smoke test and --quick do), but 40 more runs of ~5 s
# of Keras imports each did not fit the full plan's 45 minutes on the loaded machine.
SYNTHETIC_PEERS = ["optuna-tpe", "optuna-random", "hyperopt-tpe"] + AUTOOPT
QUICK_SYNTHETIC_PEERS = ["kt-random", "kt-bayes"] + SYNTHETIC_PEERS

# (task -> trial budget), (task -> wall-time budget in s) for the full and the quick run.
FULL = {
    "seeds": 5,
    "trials": {"digits": 12, "breast_cancer": 12, "branin": 25, "hartmann6": 25, "rosenbrock4": 25,
               "ackley10": 25},
    "timeout": {"digits": 8.0},
    "synthetic_peers": SYNTHETIC_PEERS,
}
QUICK = {
    "seeds": 2,
    "trials": {"digits": 4, "breast_cancer": 4, "branin": 8},
    "timeout": {"digits": 4.0},
    "synthetic_peers": QUICK_SYNTHETIC_PEERS,
}


def module_for(peer: str) -> Any:
    if peer.startswith("kt-"):
        import peer_keras as m
    elif peer.startswith("optuna-"):
        import peer_optuna as m
    elif peer.startswith("hyperopt-"):
        import peer_hyperopt as m
    elif peer.startswith("autoopt-"):
        import peer_autoopt as m
    else:
        raise SystemExit(f"--job: unknown peer {peer!r}; expected one of {ALL_PEERS}")
    return m


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "keras", "keras-tuner", "optuna", "hyperopt", "autoopt", "numpy", "scikit-learn"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "-"
    return out


def child(job: dict[str, Any], out: Path) -> int:
    """Run one job in this process and write its JSON (errors included: a failed run is a result)."""
    t0, c0 = time.perf_counter(), time.process_time()
    if job["task"] in ("digits", "breast_cancer") or job["peer"].startswith(("kt-", "autoopt-")):
        import numpy as np
        import torch  # the synthetic runs of Optuna and Hyperopt never load it

        torch.set_num_threads(1)
        # weight init and batch order come from the global RNGs (Keras Tuner reseeds them the same way)
        torch.manual_seed(int(job["seed"]))
        np.random.seed(int(job["seed"]))
    row: dict[str, Any] = dict(job, trials_budget=job.get("trials"))  # "trials" becomes the trial list
    try:
        m = module_for(job["peer"])
        if job.get("epochs"):  # the smoke test's shortcut; benchmark jobs never set it
            import tasks

            tasks.NN_TASKS[job["task"]]["epochs"] = int(job["epochs"])
        res = m.run(job["peer"], job["task"], int(job["seed"]), job.get("trials"), job.get("timeout"))
        row.update(res)
    except SystemExit as e:
        row["skipped"] = str(e)
    except BaseException:
        row["error"] = traceback.format_exc()[-4000:]
    row["process_wall_s"] = time.perf_counter() - t0
    row["process_cpu_s"] = time.process_time() - c0
    row["versions"] = versions()
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(row))
    tmp.replace(out)
    return 0 if "error" not in row else 1


def jobs_for(cfg: dict[str, Any], peers: list[str], tasks: list[str] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for mode, budgets in (("trials", cfg["trials"]), ("time", cfg["timeout"])):
        for task, budget in budgets.items():
            if tasks and task not in tasks:
                continue
            allowed = ALL_PEERS if task in ("digits", "breast_cancer") else cfg["synthetic_peers"]
            for peer in [p for p in peers if p in allowed]:
                for seed in range(cfg["seeds"]):
                    out.append(
                        {
                            "mode": mode,
                            "peer": peer,
                            "task": task,
                            "seed": seed,
                            "trials": budget if mode == "trials" else None,
                            "timeout": budget if mode == "time" else None,
                        }
                    )
    return out


def job_path(cache: Path, job: dict[str, Any]) -> Path:
    return cache / job["mode"] / f"{job['peer']}__{job['task']}__{job['seed']}.json"


def cached(cache: Path, job: dict[str, Any]) -> bool:
    """A finished run of this job with the same budgets (a changed budget reruns it)."""
    path = job_path(cache, job)
    if not path.exists():
        return False
    row = json.loads(path.read_text())
    return row.get("trials_budget", -1) == job["trials"] and row.get("timeout") == job["timeout"]


def launch(job: dict[str, Any], cache: Path, hard_limit: float) -> dict[str, Any]:
    path = job_path(cache, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--job", json.dumps(job), "--out", str(path)]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=hard_limit)
        if not path.exists():
            row = dict(job, error=f"exit {p.returncode}: {p.stderr[-3000:]}")
            path.write_text(json.dumps(row))
    except subprocess.TimeoutExpired:
        path.write_text(json.dumps(dict(job, error=f"killed after the hard limit of {hard_limit:.0f} s")))
    row = json.loads(path.read_text())
    n = len(row.get("trials", []))
    status = "skipped" if "skipped" in row else ("ERROR" if "error" in row else f"{n} trials")
    print(
        f"[{time.strftime('%H:%M:%S')}] {job['mode']:6s} {job['task']:13s} {job['peer']:22s} "
        f"seed {job['seed']}: {status} in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--job", help="run one job (JSON) in this process; used by the driver")
    ap.add_argument("--out", type=Path, help="with --job: where to write its JSON")
    ap.add_argument("--quick", action="store_true", help="2 seeds, 4-8 trials, 3 tasks: a few minutes")
    ap.add_argument("--workers", type=int, default=2, help="runs at once (each uses one thread)")
    ap.add_argument("--peers", default=",".join(ALL_PEERS))
    ap.add_argument("--tasks", default=None, help="comma-separated subset of the tasks")
    ap.add_argument("--fresh", action="store_true", help="ignore cached runs")
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()
    if args.job:
        sys.exit(child(json.loads(args.job), args.out))

    cfg = QUICK if args.quick else FULL
    cache = CACHE / ("quick" if args.quick else "full")
    jobs = jobs_for(cfg, args.peers.split(","), args.tasks.split(",") if args.tasks else None)
    todo = [j for j in jobs if args.fresh or not cached(cache, j)]
    keep = {job_path(cache, j) for j in jobs}
    for stale in cache.glob("*/*.json"):  # runs of budgets or tasks no longer in the plan
        if stale not in keep:
            stale.unlink()
    print(f"{len(jobs)} runs, {len(todo)} to do, {args.workers} at a time", flush=True)
    t0, load0 = time.perf_counter(), os.getloadavg()[0]

    def hard_limit(job: dict[str, Any]) -> float:  # generous; a run past it is killed and counted failed
        return 600.0 if job["mode"] == "trials" else 3 * job["timeout"] + 120

    # A fixed shuffle: every peer's runs meet the same mix of background load (the machine is shared),
    # so that wall times compare fairly between peers.
    random.Random(0).shuffle(todo)
    meta_path = cache / "driver.json"
    if todo:
        # The wall time reported is from the first start of this plan to the end, restarts included.
        meta = {"started": time.time(), "loadavg": [load0, None], "workers": args.workers}
        if not args.fresh and len(todo) < len(jobs) and meta_path.exists():
            old = json.loads(meta_path.read_text())
            meta.update(started=old["started"], loadavg=[old["loadavg"][0], None])
            meta["restarted"] = old.get("restarted", 0) + 1
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta_path.write_text(json.dumps(meta))
        with ThreadPoolExecutor(args.workers) as ex:
            list(ex.map(lambda j: launch(j, cache, hard_limit(j)), todo))
        meta["driver_wall_s"] = time.time() - meta["started"]
        meta["loadavg"][1] = os.getloadavg()[0]
        meta_path.write_text(json.dumps(meta))
        print(f"runs done in {time.perf_counter() - t0:.0f} s", flush=True)
    if not args.no_report and meta_path.exists():
        import report

        meta = json.loads(meta_path.read_text())
        report.write(
            cache, cfg, quick=args.quick, driver_wall_s=meta["driver_wall_s"], workers=meta["workers"],
            loadavg=tuple(meta["loadavg"]), restarted=meta.get("restarted", 0),
        )


if __name__ == "__main__":
    main()
