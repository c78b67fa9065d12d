"""``autoopt run SPEC.yaml``: the main job. Wires the stages into one run directory, resumably.

Stages, in order (a stage runs when its section is in the spec):

    search    data -> search over model + training -> best/ (the tune stage)
    distill   best model (teacher) -> student                     (when ``distill:`` is set)
    compress  best or distilled model -> compress/ rows           (when ``compress:`` is set)
    export    the last PyTorch model -> final/ (ONNX, .pt2, card); an INT8 plan's model is added
    report    report.html

Each finished stage writes ``RUN_DIR/<stage>/fingerprint.json``: a hash of its inputs (its config, the
data config, the upstream stages' fingerprints). Rerunning skips stages whose fingerprint still
matches; a search that was interrupted continues its study; ``from_stage`` forces a stage and every
stage after it. ``events.jsonl`` gets one line per stage event.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoopt import __version__
from autoopt.exceptions import InvalidSpecError
from autoopt.io import redact_url, write_json, write_yaml
from autoopt.pipeline._validate import load_spec
from autoopt.search import Progress
from autoopt.spec import Spec

__all__ = ["STAGES", "RunResult", "run_spec", "LAYOUT_VERSION"]

STAGES = ("search", "distill", "compress", "export", "report")
LAYOUT_VERSION = 1
RUN_FILE = "run.json"


@dataclass
class RunResult:
    """What ``run_spec`` did: the run dir, each stage's status and the headline numbers."""

    run_dir: Path
    stages: dict[str, str] = field(default_factory=dict)  # stage -> ran | skipped (up to date) | absent
    metrics: dict[str, Any] = field(default_factory=dict)
    final_dir: Path | None = None
    report: Path | None = None
    interrupted: bool = False


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class _Ledger:
    """Fingerprints and events of a run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def fingerprint(self, stage: str) -> str | None:
        p = self.run_dir / stage / "fingerprint.json"
        if not p.is_file():
            return None
        return json.loads(p.read_text()).get("fingerprint")

    def done(self, stage: str, fp: str, **extra: Any) -> None:
        write_json(
            self.run_dir / stage / "fingerprint.json", {"fingerprint": fp, "finished": time.time(), **extra}
        )

    def recorded(self, stage: str, key: str) -> Any:
        p = self.run_dir / stage / "fingerprint.json"
        return json.loads(p.read_text()).get(key) if p.is_file() else None

    def forget(self, stage: str) -> None:
        (self.run_dir / stage / "fingerprint.json").unlink(missing_ok=True)

    def event(self, **fields: Any) -> None:
        line = json.dumps({"time": round(time.time(), 3), **fields}, default=str)
        with (self.run_dir / "events.jsonl").open("a") as f:
            f.write(line + "\n")


def _check_layout(run_dir: Path) -> None:
    """A run directory written by an incompatible autoopt: say so, overwrite nothing."""
    p = run_dir / RUN_FILE
    if not p.is_file():
        return
    try:
        meta = json.loads(p.read_text())
    except ValueError:
        raise InvalidSpecError(f"{p}: not valid JSON; this folder is not an autoopt run directory") from None
    layout = meta.get("layout")
    if layout is not None and layout != LAYOUT_VERSION:
        raise InvalidSpecError(
            f"{run_dir}: written by autoopt {meta.get('autoopt', '?')} with run-directory layout {layout}; "
            "this "
            f"autoopt ({__version__}) writes layout {LAYOUT_VERSION}. Nothing was changed: use another --out "
            "folder, or the autoopt version that wrote it"
        )


def run_spec(
    source: str | Path,
    *,
    out: str | Path | None = None,
    from_stage: str | None = None,
    more_trials: int | None = None,
    storage: str | None = None,
    progress: Progress | None = None,
    on_stage: Callable[[str, str], None] | None = None,
    **overrides: Any,
) -> RunResult:
    """Run the whole job of a spec into ``runs/<name>/`` (or ``out``), resuming what is done.

    Args:
        source: the spec YAML.
        out: the run directory.
        from_stage: force this stage (one of :data:`STAGES`) and every later one to run again.
        more_trials: extend the search by this many trials (continuous optimization).
        storage: a storage URL for the search (default ``RUN_DIR/study.db``).
        progress: the search's progress display.
        on_stage: called with ``(stage, status)`` as stages start and end.
        **overrides: ``trials``, ``timeout``, ``jobs``, ``strategy``, ``scheduler``, ``seed``.

    Raises:
        InvalidSpecError: the spec is invalid (every problem listed), ``from_stage`` is unknown, or
            the run directory was written by an incompatible autoopt.
    """
    if from_stage is not None and from_stage not in STAGES:
        raise InvalidSpecError(f"--from: unknown stage {from_stage!r}; expected one of: {', '.join(STAGES)}")
    spec = load_spec(source, **overrides)
    if more_trials:
        base = spec.search.trials or 0
        done_trials = _finished_trials(Path(out) if out else Path("runs") / spec.name, spec.name, storage)
        spec = load_spec(source, **{**overrides, "trials": max(base, done_trials) + more_trials})
    run_dir = Path(out) if out is not None else Path("runs") / spec.name
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_layout(run_dir)
    write_json(
        run_dir / RUN_FILE,
        {
            "autoopt": __version__,
            "layout": LAYOUT_VERSION,
            "kind": "run",
            "spec": str(source),
            "study": spec.name,
            "storage": redact_url(
                storage or spec.search.storage or f"sqlite:///{(run_dir / 'study.db').resolve()}"
            ),
        },
    )
    ledger = _Ledger(run_dir)
    result = RunResult(run_dir=run_dir)
    forced = False
    data_hash = _hash({"data": spec.data.model_dump(mode="json"), "seed": spec.seed})
    upstream = data_hash
    # A changed dataset under a finished search: keep the search, retrain its best configuration.
    previous = ledger.recorded("search", "data")
    plans = _plans(spec, run_dir, storage, progress, retrain=previous is not None and previous != data_hash)
    for stage in STAGES:
        if stage not in plans:
            # With a compression plan, the compress stage exports its (in-memory) compressed model.
            result.stages[stage] = (
                "within compress" if stage == "export" and "compress" in plans else "absent"
            )
            continue
        config, runner = plans[stage]
        forced = forced or stage == from_stage
        fp = _hash({"stage": stage, "config": config, "upstream": upstream, "version": LAYOUT_VERSION})
        if not forced and ledger.fingerprint(stage) == fp:
            result.stages[stage] = "skipped (up to date)"
            ledger.event(stage=stage, status="skipped")
            upstream = fp
            continue
        ledger.forget(stage)
        # Everything after a stage that runs again must run again too.
        forced = True
        if on_stage:
            on_stage(stage, "start")
        ledger.event(stage=stage, status="start")
        t0 = time.time()
        interrupted = runner(result)
        if interrupted:
            result.interrupted = True
            ledger.event(stage=stage, status="interrupted", seconds=round(time.time() - t0, 2))
            result.stages[stage] = "interrupted"
            return result
        ledger.done(stage, fp, **({"data": data_hash} if stage == "search" else {}))
        ledger.event(stage=stage, status="done", seconds=round(time.time() - t0, 2))
        result.stages[stage] = "ran"
        if on_stage:
            on_stage(stage, "done")
        upstream = fp
    result.metrics = _headline(run_dir)
    result.final_dir = run_dir / "final" if (run_dir / "final" / "model.json").exists() else None
    result.report = run_dir / "report.html" if (run_dir / "report.html").exists() else None
    return result


def _finished_trials(run_dir: Path, name: str, storage: str | None) -> int:
    db = run_dir / "study.db"
    if storage is None and not db.exists():
        return 0
    import optuna

    from autoopt.io import open_storage

    try:
        study = optuna.load_study(study_name=name, storage=open_storage(storage or db))
    except KeyError:
        return 0
    trials = study.get_trials(deepcopy=False)
    # A failed trial that was queued again (its worker died) is replaced by its retry in the count.
    retries = sum(1 for t in trials if "failed_trial" in t.system_attrs)
    return len([t for t in trials if t.state.is_finished()]) - retries


def _plans(
    spec: Spec, run_dir: Path, storage: str | None, progress: Progress | None, *, retrain: bool = False
) -> dict[str, Any]:
    """Each present stage: (its config, for the fingerprint; a function running it)."""
    from autoopt.pipeline._compress import compress_spec
    from autoopt.pipeline._distill import distill_spec
    from autoopt.pipeline._tune_spec import tune_spec

    source = run_dir / "spec.resolved.yaml"
    write_yaml(source, spec.model_dump(mode="json"))
    plans: dict[str, Any] = {}

    def search(res: RunResult) -> bool:
        r = tune_spec(source, out=run_dir, storage=storage, progress=progress, retrain=retrain)
        res.metrics.update(r.metrics)
        for line in r.warm_start_incompatible:
            _Ledger(run_dir).event(stage="search", warm_start_incompatible=line)
        return r.search.interrupted

    plans["search"] = (
        {
            "model": spec.model.model_dump(mode="json"),
            "training": spec.training,
            "transfer": spec.transfer.model_dump(mode="json") if spec.transfer else None,
            "search": spec.search.model_dump(mode="json"),
            "nas": spec.nas,
        },
        search,
    )
    if spec.distill is not None:

        def distill(res: RunResult) -> bool:
            teacher = dict(spec.distill or {})
            teacher.setdefault("teacher", str(run_dir))  # the searched model teaches by default
            # The spec's search space tunes the teacher; the distill stage searches only distill.* keys.
            kd_space = {k: v for k, v in spec.search.space.items() if k.startswith("distill.")}
            kd_search = spec.search.model_copy(
                update={
                    "space": kd_space,
                    "trials": spec.search.trials if kd_space else 1,
                    "warm_start": None,
                }
            )
            s2 = spec.model_copy(update={"distill": teacher, "search": kd_search})
            path = run_dir / "spec.distill.yaml"
            write_yaml(path, s2.model_dump(mode="json"))
            distill_spec(path, out=run_dir)
            return False

        plans["distill"] = (spec.distill, distill)
    if spec.compress is not None:

        def compress(res: RunResult) -> bool:
            from autoopt.data import load_data

            student = (
                _deployable(spec, run_dir, load_data(spec.data))[0] if spec.distill is not None else None
            )
            r = compress_spec(source, out=run_dir, model_run=run_dir, model=student)
            last = r.plan.rows[-1]
            # final/model.onnx is the last PyTorch model of the plan (an INT8 step's model is added
            # beside it as model.int8.onnx); its card carries that step's measured accuracy.
            torch_row = r.plan.rows[-2] if "quantize" in last.step and len(r.plan.rows) > 1 else last
            # The compressed architecture exists only in memory: export it here (the export stage).
            _export_final(
                spec,
                run_dir,
                model=r.plan.model,
                extra={
                    "compressed_step": torch_row.step,
                    "test_accuracy": torch_row.accuracy,
                    "int8_step": last.step,
                    "int8_test_accuracy": last.accuracy,
                },
            )
            if r.plan.final_path.suffix == ".onnx" and "quantize" in last.step:
                shutil.copyfile(r.plan.final_path, run_dir / "final" / "model.int8.onnx")
            return False

        plans["compress"] = (spec.compress, compress)
    else:

        def export(res: RunResult) -> bool:
            _export_final(spec, run_dir)
            return False

        plans["export"] = ({}, export)

    def report(res: RunResult) -> bool:
        try:
            from autoopt.report import write_report
        except ImportError:  # the report package is optional until it lands
            return False
        write_report(run_dir)
        return False

    plans["report"] = ({}, report)
    return plans


def _deployable(spec: Spec, run_dir: Path, data: Any) -> tuple[Any, str, dict[str, Any], dict[str, Any]]:
    """The run's model before compression: the distilled student when there is one, else the best
    model; with its builder name, config and metrics."""
    import yaml

    from autoopt.evaluate import load_run
    from autoopt.models import build_model, load_checkpoint

    loaded = load_run(run_dir, data)
    student = run_dir / "distill" / "model.safetensors"
    if student.is_file() and (run_dir / "distill" / "params.yaml").is_file():
        p = yaml.safe_load((run_dir / "distill" / "params.yaml").read_text())
        name, config = p["model"], p.get("model_params") or {}
        model = build_model(name, config, data.meta)
        load_checkpoint(model, student)
        return model, name, config, json.loads((run_dir / "distill" / "metrics.json").read_text())
    return loaded.model, loaded.model_name, loaded.model_config, dict(loaded.metrics)


def _export_final(spec: Spec, run_dir: Path, model: Any = None, extra: dict[str, Any] | None = None) -> None:
    """final/: the run's deployable model, exported and parity-checked (ONNX, .pt2, card).

    ``model`` is the compressed model when the compress stage calls this (a pruned architecture only
    exists in memory); otherwise the distilled student when there is one, else the best model.
    """
    from autoopt.data import load_data
    from autoopt.export import export_model

    data = load_data(spec.data)
    base, name, config, metrics = _deployable(spec, run_dir, data)
    metrics.update(extra or {})
    export_model(
        (model if model is not None else base).eval(),
        data,
        run_dir / "final",
        spec=spec.model_dump(mode="json"),
        metrics=metrics,
        name=name,
        config=config,
    )


def _headline(run_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    best = run_dir / "best" / "metrics.json"
    if best.is_file():
        m = json.loads(best.read_text())
        out.update({k: m[k] for k in ("test_accuracy", "val_accuracy", "params", "macs") if k in m})
    rows = run_dir / "compress" / "metrics.json"
    if rows.is_file():
        last = json.loads(rows.read_text())["rows"][-1]
        out["compressed"] = {k: last[k] for k in ("step", "accuracy", "size_bytes", "speedup")}
    return out
