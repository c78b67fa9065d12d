"""Tables, goal checks and plots of the peer benchmark, from the per-run JSON files of ``run.py``.

Definitions (every number is computed here from the recorded trials; nothing is typed in):
- a trial's value on an NN task is its best epoch's validation accuracy (for every peer; a trial stopped
  early counts with what it reached); on a synthetic function, simple regret ``f - f_opt``;
- best at equal trials: the best value over the run's trials (the trial budget);
- selected model: the best *completed* trial (first on ties), as each tool's own "best trial" (Optuna
  and autoopt never pick a pruned trial); its test accuracy is that of its best-val epoch's weights;
- time to target: wall time from the start of the search to the end of the first trial whose value
  reaches the target (not reached: counted as never);
- search wall / CPU: from the start of the search (after imports and data loading) to the end of the
  last trial; process CPU adds the imports and the start-up of the subprocess.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "RESULTS.md"
PLOTS = HERE / "plots"
SECTION = "## Peers: autoopt vs Keras Tuner, Optuna, Hyperopt (issue 10)"
NN = ("digits", "breast_cancer")


def load(cache: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"trials": [], "time": []}
    for mode in out:
        for p in sorted((cache / mode).glob("*.json")):
            out[mode].append(json.loads(p.read_text()))
    return out


def fopt(task: str) -> float:
    from tasks import synthetic_problem

    return float(synthetic_problem(task).fopt)


def curve(row: dict[str, Any]) -> list[float]:
    """Best-so-far per trial: max val accuracy (NN) or min regret (synthetic)."""
    vals = [t["value"] for t in row.get("trials", [])]
    if row["task"] in NN:
        return list(np.maximum.accumulate(vals)) if vals else []
    off = fopt(row["task"])
    vals = [v - off if math.isfinite(v) else math.inf for v in vals]
    return list(np.minimum.accumulate(vals)) if vals else []


def selected_test(row: dict[str, Any]) -> float:
    done = [t for t in row.get("trials", []) if t.get("state") == "complete"]
    if not done:
        return math.nan
    best = max(done, key=lambda t: t["value"])  # max() keeps the first on ties
    return float(best["test"])


def time_to(row: dict[str, Any], target: float, clock: str = "wall_s") -> float:
    best = -math.inf
    for t in row.get("trials", []):
        best = max(best, t["value"])
        if best >= target - 1e-9:
            return float(t[clock])
    return math.inf


def q(xs: list[float], p: float) -> float:
    """Quantile; with "never" (inf) among the values, an observed value (no inf - inf interpolation)."""
    xs = [x for x in xs if not math.isnan(x)]
    if not xs:
        return math.nan
    return float(np.quantile(xs, p, method="inverted_cdf" if any(map(math.isinf, xs)) else "linear"))


def fmt(x: float, digits: int = 4) -> str:
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "never"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4):
        return f"{x:.2e}"
    return f"{x:.{digits}g}"


def med_iqr(xs: list[float], digits: int = 4) -> str:
    if not xs:
        return "-"
    return f"{fmt(q(xs, 0.5), digits)} [{fmt(q(xs, 0.25), digits)}, {fmt(q(xs, 0.75), digits)}]"


def group(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if "skipped" in r:
            continue
        out.setdefault((r["task"], r["peer"]), []).append(r)
    return out


def peers_in(groups: dict, task: str, order: list[str]) -> list[str]:
    return [p for p in order if (task, p) in groups]


def nn_table(groups: dict, task: str, order: list[str], target: float, mode: str) -> list[str]:
    head = "| peer | best val acc | test acc of selected | "
    head += f"time to {target:.0%} val (s) | " if mode == "trials" else "trials run | "
    head += "search wall (s) | process CPU (s) | failed trials / runs |"
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for peer in peers_in(groups, task, order):
        rows = groups[(task, peer)]
        ok = [r for r in rows if "error" not in r]
        best = [curve(r)[-1] for r in ok if r.get("trials")]
        test = [selected_test(r) for r in ok]
        wall = [r["trials"][-1]["wall_s"] for r in ok if r.get("trials")]
        cpu = [r["process_cpu_s"] for r in ok]
        fails = sum(t.get("state") == "fail" for r in ok for t in r["trials"])
        if mode == "trials":
            tt = [time_to(r, target) for r in ok]
            reached = sum(math.isfinite(x) for x in tt)
            mid = f"{fmt(q(tt, 0.5), 3)} ({reached}/{len(tt)} reached)"
        else:
            mid = med_iqr([float(len(r["trials"])) for r in ok], 3)
        lines.append(
            f"| {peer} | {med_iqr(best)} | {med_iqr(test)} | {mid} | {med_iqr(wall, 3)} | "
            f"{med_iqr(cpu, 3)} | {fails} / {len(rows) - len(ok)} |"
        )
    return lines


def synthetic_table(groups: dict, tasks: list[str], order: list[str]) -> list[str]:
    lines = ["| peer | " + " | ".join(tasks) + " | process CPU (s) | failed runs |"]
    lines.append("|---" * (len(tasks) + 3) + "|")
    for peer in order:
        cells, cpu, failed = [], [], 0
        for task in tasks:
            rows = groups.get((task, peer), [])
            ok = [r for r in rows if "error" not in r and r.get("trials")]
            failed += len(rows) - len(ok)
            cells.append(med_iqr([curve(r)[-1] for r in ok], 3))
            cpu += [r["process_cpu_s"] for r in ok]
        if any(c != "-" for c in cells):
            lines.append(f"| {peer} | " + " | ".join(cells) + f" | {med_iqr(cpu, 3)} | {failed} |")
    return lines


def goal_speed(groups: dict) -> tuple[list[str], bool | None]:
    """autoopt reaches KT RandomSearch's final best val acc on digits in <= 1/3 of KT's wall time.

    Per seed: target = KT RandomSearch's final best val accuracy; ratio = (autoopt's wall time until its
    best-so-far first reaches the target) / (KT's wall time for its whole search). The same ratio on the
    search's CPU clock is shown too: the machine is shared, CPU time is the steadier clock."""
    kt = {r["seed"]: r for r in groups.get(("digits", "kt-random"), []) if r.get("trials")}
    au = {r["seed"]: r for r in groups.get(("digits", "autoopt-auto-asha"), []) if r.get("trials")}
    lines = ["| seed | KT random final best val | KT wall (s) | KT time to its best (s) | "
             "autoopt auto+ASHA time to it (s) | ratio to KT wall | same ratio on CPU time |",
             "|---|---|---|---|---|---|---|"]
    ratios, cpu_ratios = [], []
    for seed in sorted(set(kt) & set(au)):
        target = curve(kt[seed])[-1]
        kt_wall, kt_cpu = kt[seed]["trials"][-1]["wall_s"], kt[seed]["trials"][-1]["cpu_s"]
        t_au = time_to(au[seed], target)
        ratios.append(t_au / kt_wall)
        cpu_ratios.append(time_to(au[seed], target, "cpu_s") / kt_cpu)
        lines.append(f"| {seed} | {target:.4f} | {kt_wall:.1f} | {time_to(kt[seed], target):.1f} | "
                     f"{fmt(t_au, 3)} | {fmt(ratios[-1], 3)} | {fmt(cpu_ratios[-1], 3)} |")
    if not ratios:
        return lines, None
    med = q(ratios, 0.5)
    lines.append("")
    lines.append(f"Median ratio over {len(ratios)} seeds: **{fmt(med, 3)}** on wall time, "
                 f"{fmt(q(cpu_ratios, 0.5), 3)} on CPU time (goal: <= 0.333); seeds within 1/3 of the wall "
                 f"time: {sum(r <= 1 / 3 for r in ratios)}/{len(ratios)}; autoopt never reached the target "
                 f"within its trial budget on {sum(map(math.isinf, ratios))}/{len(ratios)} seeds.")
    return lines, med <= 1 / 3


def goal_tpe(groups: dict, tasks: list[str]) -> tuple[list[str], bool | None]:
    lines = ["| task | autoopt auto+ASHA median best | plain Optuna TPE median best | "
             "autoopt better or equal on seeds | at least as good (median) |", "|---|---|---|---|---|"]
    verdicts = []
    for task in tasks:
        a = {r["seed"]: curve(r)[-1] for r in groups.get((task, "autoopt-auto-asha"), []) if r.get("trials")}
        o = {r["seed"]: curve(r)[-1] for r in groups.get((task, "optuna-tpe"), []) if r.get("trials")}
        if not a or not o:
            continue
        ma, mo = q(list(a.values()), 0.5), q(list(o.values()), 0.5)
        better = (lambda x, y: x >= y - 1e-12) if task in NN else (lambda x, y: x <= y + 1e-12)
        seeds = sorted(set(a) & set(o))
        wins = sum(better(a[s], o[s]) for s in seeds)
        ok = better(ma, mo)
        verdicts.append(ok)
        kind = "val acc" if task in NN else "regret"
        lines.append(f"| {task} ({kind}) | {fmt(ma)} | {fmt(mo)} | {wins}/{len(seeds)} | "
                     f"{'yes' if ok else '**no**'} |")
    return lines, (all(verdicts) if verdicts else None)


def _median_curve(curves: list[list[float]]) -> np.ndarray:
    n = min(len(c) for c in curves)
    return np.median(np.array([c[:n] for c in curves]), axis=0)


def _time_curve(rows: list[dict[str, Any]], grid: np.ndarray) -> np.ndarray:
    """Median over seeds of the best-so-far at each time of ``grid`` (nan before a seed's first trial)."""
    out = []
    for r in rows:
        ts = np.array([t["wall_s"] for t in r["trials"]])
        cv = np.array(curve(r))
        idx = np.searchsorted(ts, grid, side="right") - 1
        out.append(np.where(idx >= 0, cv[np.clip(idx, 0, None)], np.nan))
    return np.nanmedian(np.array(out), axis=0)


STYLE = {
    "autoopt-auto-asha": ("#d62728", "-", 2.4), "autoopt-random": ("#ff9896", "-", 1.8),
    "kt-random": ("#1f77b4", "--", 1.4), "kt-bayes": ("#17becf", "--", 1.4),
    "kt-hyperband": ("#9edae5", "--", 1.4),
    "optuna-tpe": ("#2ca02c", ":", 1.6), "optuna-random": ("#98df8a", ":", 1.6),
    "optuna-tpe-median": ("#8c564b", ":", 1.6), "optuna-random-median": ("#c49c94", ":", 1.6),
    "hyperopt-tpe": ("#9467bd", "-.", 1.4),
}


def plots(groups: dict, nn_tasks: list[str], syn_tasks: list[str], order: list[str]) -> list[str]:
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # nanmedian of all-nan columns
    PLOTS.mkdir(exist_ok=True)
    files = []
    for task in nn_tasks:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=72)
        tmax = 0.0
        for peer in peers_in(groups, task, order):
            rows = [r for r in groups[(task, peer)] if r.get("trials")]
            if not rows:
                continue
            c, ls, lw = STYLE.get(peer, ("k", "-", 1))
            m = _median_curve([curve(r) for r in rows])
            a1.plot(np.arange(1, len(m) + 1), m, color=c, ls=ls, lw=lw, label=peer)
            tmax = max(tmax, max(r["trials"][-1]["wall_s"] for r in rows))
        grid = np.linspace(0, tmax, 200)
        for peer in peers_in(groups, task, order):
            rows = [r for r in groups[(task, peer)] if r.get("trials")]
            if rows:
                c, ls, lw = STYLE.get(peer, ("k", "-", 1))
                a2.plot(grid, _time_curve(rows, grid), color=c, ls=ls, lw=lw, label=peer)
        for ax, xl in ((a1, "trials"), (a2, "wall time since search start (s)")):
            ax.set_xlabel(xl)
            ax.set_ylabel("best val accuracy (median over seeds)")
            ax.set_ylim(bottom=max(0.8, ax.get_ylim()[0]))
            ax.grid(alpha=0.3)
        a2.legend(fontsize=7, loc="lower right")
        fig.suptitle(f"{task}: best-so-far, trial budget runs", fontsize=10)
        fig.tight_layout()
        path = PLOTS / f"{task}.png"
        fig.savefig(path)
        plt.close(fig)
        files.append(path.name)
    if syn_tasks:
        fig, axes = plt.subplots(1, len(syn_tasks), figsize=(3.2 * len(syn_tasks), 3.4), dpi=72)
        for ax, task in zip(np.atleast_1d(axes), syn_tasks, strict=True):
            for peer in peers_in(groups, task, order):
                rows = [r for r in groups[(task, peer)] if r.get("trials")]
                if rows:
                    c, ls, lw = STYLE.get(peer, ("k", "-", 1))
                    m = _median_curve([curve(r) for r in rows])
                    ax.plot(np.arange(1, len(m) + 1), np.maximum(m, 1e-8), color=c, ls=ls, lw=lw, label=peer)
            ax.set_yscale("log")
            ax.set_title(task, fontsize=9)
            ax.set_xlabel("trials")
            ax.grid(alpha=0.3)
        np.atleast_1d(axes)[0].set_ylabel("simple regret (median)")
        np.atleast_1d(axes)[-1].legend(fontsize=6)
        fig.tight_layout()
        path = PLOTS / "synthetic.png"
        fig.savefig(path)
        plt.close(fig)
        files.append(path.name)
    return files


def write(cache: Path, cfg: dict[str, Any], *, quick: bool, driver_wall_s: float, workers: int,
          loadavg: tuple[float, float] | None = None, restarted: int = 0) -> None:
    from run import ALL_PEERS
    from tasks import NN_TASKS, SYNTHETIC

    data = load(cache)
    g_trials, g_time = group(data["trials"]), group(data["time"])
    nn_tasks = [t for t in NN if t in cfg["trials"]]
    syn_tasks = [t for t in SYNTHETIC if t in cfg["trials"]]
    v = next((r["versions"] for r in data["trials"] if "versions" in r), {})
    every = data["trials"] + data["time"]
    cpu_all = sum(r.get("process_cpu_s", 0.0) for r in every)
    wall_all = sum(r.get("process_wall_s", 0.0) for r in every)
    flag = (" --quick" if quick else "") + (f" --workers {workers}" if workers != 2 else "")
    make_args = (" QUICK=1" if quick else "") + (f" PEERS_ARGS='--workers {workers}'" if workers != 2 else "")
    load_txt = ""
    if loadavg:
        load_txt = f" (load average {loadavg[0]:.1f} at the start, {loadavg[1]:.1f} at the end)"
    out = [SECTION, ""]
    out += [
        f"Command: `make bench-peers{make_args}` (creates `benchmarks/peers/.venv`, then "
        f"runs `KERAS_BACKEND=torch nice -n 10 benchmarks/peers/.venv/bin/python benchmarks/peers/run.py"
        f"{flag}`). {cfg['seeds']} seeds; every run is its own subprocess with one intra-op thread, "
        f"{workers} runs at a time; the whole driver took **{driver_wall_s / 60:.1f} min**"
        + (f" (first start to end; it was stopped and resumed {restarted} time(s), reusing finished runs)"
           if restarted else "") + ".",
        "",
        f"All {len(data['trials']) + len(data['time'])} runs used {cpu_all:.0f} CPU-seconds "
        f"({cpu_all / 60 / (os.cpu_count() or 1):.1f} min of all {os.cpu_count()} cores) against "
        f"{wall_all:.0f} s of summed wall time: each run got about "
        f"1/{wall_all / max(cpu_all, 1e-9):.1f} of a core.",
        "",
        f"Machine: {os.cpu_count()} vCPU ({platform.machine()}), no accelerator, shared with other "
        f"engineers' jobs{load_txt}; date {time.strftime('%Y-%m-%d')}. Versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + ". Keras backend: torch (TensorFlow is not installed).",
        "",
    ]
    out += [
        "Budgets: " + ", ".join(f"{t} {n} trials" for t, n in cfg["trials"].items())
        + "; separately, wall-time budgets (no new trial starts after): "
        + ", ".join(f"{t} {s:.0f} s" for t, s in cfg["timeout"].items()) + ".",
        "",
    ]
    for task in nn_tasks:
        c = NN_TASKS[task]
        out.append(f"- `{task}`: {c['note']}; {c['epochs']} epochs, batch {c['batch_size']}, Adam; space "
                   + ", ".join(f"`{k}`" for k in c["space"]) + ".")
    out += [
        "- synthetic: the HPO suite's " + ", ".join(f"`{t}`" for t in syn_tasks)
        + " (values: simple regret); pure optimizers only.",
        "",
        "Spread: `median [25th, 75th percentile]` over seeds. A trial's value is its best epoch's val "
        "accuracy (stopped trials count with what they reached); the selected model is the best completed "
        "trial; its test accuracy is that of its best-val epoch's weights. Search wall/CPU start after "
        "imports and data loading; process CPU is the whole subprocess.",
        "",
    ]
    for task in nn_tasks:
        out += [f"### {task}: equal trials ({cfg['trials'][task]})", ""]
        out += nn_table(g_trials, task, ALL_PEERS, NN_TASKS[task]["target"], "trials") + [""]
        if task in cfg["timeout"]:
            out += [f"### {task}: equal wall time ({cfg['timeout'][task]:.0f} s)", ""]
            out += nn_table(g_time, task, ALL_PEERS, NN_TASKS[task]["target"], "time") + [""]
    if syn_tasks:
        out += [f"### Synthetic functions: simple regret at equal trials "
                f"({cfg['trials'][syn_tasks[0]]})", ""]
        out += synthetic_table(g_trials, syn_tasks, ALL_PEERS) + [""]
    files = plots(g_trials, nn_tasks, syn_tasks, ALL_PEERS)
    out += [f"![{f}](peers/plots/{f})" for f in files] + [""]
    speed, ok1 = goal_speed(g_trials)
    tpe, ok2 = goal_tpe(g_trials, nn_tasks + syn_tasks)
    verdict = {True: "**met**", False: "**not met**", None: "not measured"}
    out += ["### Goals", "", f"1. autoopt (`auto` + ASHA) reaches Keras Tuner RandomSearch's final best val "
            f"accuracy on digits in at most 1/3 of RandomSearch's wall time: {verdict[ok1]}.", ""]
    out += speed + [""]
    out += [f"2. autoopt (`auto` + ASHA) at least as good as plain Optuna TPE at equal trials on every task "
            f"(median best over seeds): {verdict[ok2]}.", ""]
    out += tpe + [""]
    body = "\n".join(out).rstrip() + "\n"
    notes = HERE / "NOTES.md"
    if notes.exists():  # the hand-written reading of the numbers and the fairness notes
        body += "\n" + notes.read_text().rstrip() + "\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION)
    if start >= 0:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + (text[nxt:] if nxt >= 0 else "")
    else:
        text = text.rstrip() + "\n\n" + body
    RESULTS.write_text(text)
    print(f"wrote the peers section of {RESULTS}")
