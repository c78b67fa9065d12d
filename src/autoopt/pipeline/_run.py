"""``autoopt run SPEC.yaml``: the main job. Wires the stages into one run directory, resumably.

Stages, in order (a stage runs when its section is in the spec):

    search    data -> search over model + training -> best/        candidate: the searched model
    distill   searched model (teacher) -> student, and the same    candidates: distilled student,
              student trained alone                                student alone (when ``distill:``)
    compress  the best candidate so far -> one row per step        candidates: each step, fp32/INT8
    export    every candidate timed alike, the guard picks one -> final/ (the ship step, always)
    report    report.html

Every model a stage makes is a candidate (``RUN_DIR/candidates/``, see :mod:`._ship`); ``final/`` is
rebuilt from the one the guard ships, never from leftovers, and ``manifest.json`` records what each
stage consumed and produced. Each finished stage writes ``RUN_DIR/<stage>/fingerprint.json``: a hash
of its config and of what it consumed (the data, the upstream candidates' fingerprints), so a longer
search that finds the same best model leaves distill and compress alone. Rerunning skips stages
whose fingerprint still matches; a search that was interrupted continues its study; ``from_stage``
forces a stage and every stage after it. ``events.jsonl`` gets one line per stage event. A run
directory holds one run: another spec's (another ``name``) is refused unless ``force``.
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
from autoopt.evaluate import Candidate
from autoopt.exceptions import InvalidSpecError
from autoopt.io import redact_url, write_json, write_yaml
from autoopt.pipeline._ship import (
    MANIFEST_FILE,
    decide,
    load_candidates,
    rebuild,
    save_candidates,
    ship,
    torch_candidate,
)
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
    #: the searched model and the shipped file, side by side (role, model, metric, size, latency)
    summary: list[dict[str, Any]] = field(default_factory=list)
    #: the shipped file against the searched model: accuracy drop, speed-ups, size ratio
    comparison: dict[str, Any] = field(default_factory=dict)
    #: every candidate the guard turned down or a stage flagged, with the reason
    flags: list[str] = field(default_factory=list)
    manifest: Path | None = None


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


#: what a run directory holds; ``force`` removes these and nothing else.
_RUN_PARTS = (
    RUN_FILE, "manifest.json", "spec.yaml", "spec.resolved.yaml", "spec.distill.yaml", "events.jsonl",
    "study.db", "study.db-wal", "study.db-shm", "study.db.lock", "report.html", "result.json",
    "best", "search", "trials", "nas", "distill", "compress", "export", "candidates", "final", "report",
)  # fmt: skip


def _run_meta(run_dir: Path) -> dict[str, Any] | None:
    """``run.json`` of a run directory; ``None`` when absent.

    Raises:
        InvalidSpecError: it is not valid JSON (the folder is not an autoopt run directory).
    """
    p = run_dir / RUN_FILE
    if not p.is_file():
        return None
    try:
        return dict(json.loads(p.read_text()))
    except ValueError:
        raise InvalidSpecError(f"{p}: not valid JSON; this folder is not an autoopt run directory") from None


def _claim(run_dir: Path, name: str, force: bool) -> None:
    """One run per directory: refuse another spec's run directory (or clear it with ``force``)."""
    meta = _run_meta(run_dir)
    if meta is None:
        return
    owner = meta.get("study")
    if owner == name and "target" not in meta:
        return
    if not force:
        what = (
            f"a run of 'autoopt tune' on the Python function {meta['target']!r}"
            if "target" in meta
            else f"the run {owner!r}"
        )
        raise InvalidSpecError(
            f"--out {run_dir}: holds {what}, not {name!r}; nothing was changed. Use another --out folder, "
            "or --force to delete that run and start fresh"
        )
    for part in _RUN_PARTS:
        q = run_dir / part
        if q.is_dir():
            shutil.rmtree(q)
        elif q.exists():
            q.unlink()


def _check_layout(run_dir: Path) -> None:
    """A run directory written by an incompatible autoopt: say so, overwrite nothing."""
    meta = _run_meta(run_dir)
    if meta is None:
        return
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
    force: bool = False,
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
        force: the run directory holds another spec's run: delete it and start fresh.
        **overrides: ``trials``, ``timeout``, ``jobs``, ``strategy``, ``scheduler``, ``seed``.

    Returns:
        A :class:`RunResult`; ``summary`` puts the searched model and the shipped file side by side,
        ``flags`` lists every candidate that was not shipped and why.

    Raises:
        InvalidSpecError: the spec is invalid (every problem listed), ``from_stage`` is unknown, the
            run directory holds another spec's run, or it was written by an incompatible autoopt.
    """
    if from_stage is not None and from_stage not in STAGES:
        raise InvalidSpecError(f"--from: unknown stage {from_stage!r}; expected one of: {', '.join(STAGES)}")
    spec = load_spec(source, **overrides)
    run_dir = Path(out) if out is not None else Path("runs") / spec.name
    if run_dir.exists() and not run_dir.is_dir():
        raise InvalidSpecError(f"--out {run_dir}: is a file; expected a folder for the run")
    _check_layout(run_dir)
    _claim(run_dir, spec.name, force)
    if more_trials:
        base = spec.search.trials or 0
        done_trials = _finished_trials(run_dir, spec.name, storage)
        spec = load_spec(source, **{**overrides, "trials": max(base, done_trials) + more_trials})
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidSpecError(f"--out {run_dir}: cannot create the run folder ({exc.strerror})") from None
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
    data_hash = _hash({"data": spec.data.model_dump(mode="json"), "seed": spec.seed})
    # A changed dataset under a finished search: keep the search, retrain its best configuration.
    previous = ledger.recorded("search", "data")
    ctx = _Context(spec, run_dir, storage, progress, retrain=previous is not None and previous != data_hash)
    plans = _plans(ctx)
    forced = False
    for stage in STAGES:
        if stage not in plans:
            result.stages[stage] = "absent"
            continue
        config, runner = plans[stage]
        config = config() if callable(config) else config  # known only once the stages before ran
        forced = forced or stage == from_stage
        # A stage's inputs: its config, the data, and the fingerprints of the candidates made so far.
        consumed = [c.fingerprint for c in ctx.candidates]
        fp = _hash(
            {
                "stage": stage,
                "config": config,
                "data": data_hash,
                "inputs": consumed,
                "version": LAYOUT_VERSION,
            }
        )
        if not forced and ledger.fingerprint(stage) == fp and ctx.reuse(stage):
            result.stages[stage] = "skipped (up to date)"
            ledger.event(stage=stage, status="skipped")
            continue
        ledger.forget(stage)
        # A later stage runs again when what it consumes changed (its fingerprint says so): a longer
        # search that kept the same best model leaves distill and compress alone.
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
    _finish(result, run_dir)
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


class _Context:
    """What the stages of one run share: the spec, the data (loaded once), the candidates so far."""

    def __init__(
        self, spec: Spec, run_dir: Path, storage: str | None, progress: Progress | None, *, retrain: bool
    ) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self.storage = storage
        self.progress = progress
        self.retrain = retrain
        self.candidates: list[Candidate] = []
        self.manifest: dict[str, dict[str, Any]] = {}
        self._data: Any = None

    @property
    def data(self) -> Any:
        if self._data is None:
            from autoopt.data import load_data

            self._data = load_data(self.spec.data)
        return self._data

    def produced(self, stage: str, cands: list[Candidate], consumed: list[str], **extra: Any) -> None:
        save_candidates(self.run_dir, stage, cands, consumed=consumed, **extra)
        self._add(stage, cands, consumed, extra)

    def _add(self, stage: str, cands: list[Candidate], consumed: list[str], extra: dict[str, Any]) -> None:
        ids = {c.id for c in cands}
        self.candidates = [c for c in self.candidates if c.id not in ids] + cands
        self.manifest[stage] = {
            "consumed": consumed,
            "produced": [{"id": c.id, "label": c.label, "fingerprint": c.fingerprint} for c in cands],
            **extra,
        }

    def reuse(self, stage: str) -> bool:
        """A stage found up to date: take back the candidates it recorded (``False``: rerun it)."""
        if stage in ("export", "report"):
            return stage != "export" or (self.run_dir / "final" / "model.json").is_file()
        if stage == "search" and self.spec.search.trials is not None:
            done = _finished_trials(self.run_dir, self.spec.name, self.storage or self.spec.search.storage)
            if done < self.spec.search.trials:
                return False  # more trials asked for: the search continues
        got = load_candidates(self.run_dir, stage)
        if got is None:
            return False
        cands, extra = got
        self._add(stage, cands, list(extra.pop("consumed", [])), extra)
        return True


def _plans(ctx: _Context) -> dict[str, Any]:
    """Each present stage: (its config, for the fingerprint; a function running it)."""
    from autoopt.pipeline._compress import compress_spec
    from autoopt.pipeline._distill import distill_spec
    from autoopt.pipeline._tune_spec import tune_spec

    spec, run_dir = ctx.spec, ctx.run_dir
    source = run_dir / "spec.resolved.yaml"
    write_yaml(source, spec.model_dump(mode="json"))
    plans: dict[str, Any] = {}

    def search(res: RunResult) -> bool:
        r = tune_spec(source, out=run_dir, storage=ctx.storage, progress=ctx.progress, retrain=ctx.retrain)
        res.metrics.update(r.metrics)
        for line in r.warm_start_incompatible:
            _Ledger(run_dir).event(stage="search", warm_start_incompatible=line)
        if r.search.interrupted:
            return True
        from autoopt.evaluate import load_run

        loaded = load_run(run_dir, ctx.data)
        cand = torch_candidate(
            "searched",
            "searched best model",
            "search",
            loaded.model,
            ctx.data,
            run_dir,
            builder={"name": loaded.model_name, "config": loaded.model_config},
            weights=run_dir / "best" / "model.safetensors",
        )
        ctx.produced("search", [cand], consumed=["data"], trial=r.metrics.get("trial"))
        return False

    # The search's own fingerprint leaves out the budget: a larger budget continues the study (see
    # _Context.reuse), and later stages depend on the best model it found, not on the trial count.
    search_cfg = spec.search.model_dump(mode="json", exclude={"trials", "timeout", "jobs"})
    plans["search"] = (
        {
            "model": spec.model.model_dump(mode="json"),
            "training": spec.training,
            "transfer": spec.transfer.model_dump(mode="json") if spec.transfer else None,
            "search": search_cfg,
            "nas": spec.nas,
        },
        search,
    )
    if spec.distill is not None:

        def distill(res: RunResult) -> bool:
            teacher = dict(spec.distill or {})
            teacher.setdefault("teacher", str(run_dir))  # the searched model teaches by default
            # The student alone is a candidate too: the run keeps whichever is better.
            teacher.setdefault("compare_baseline", True)
            # The spec's search space tunes the teacher; the distill stage searches only distill.* keys.
            kd_space = {k: v for k, v in spec.search.space.items() if k.startswith("distill.")}  # type: ignore[union-attr]
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
            r = distill_spec(path, out=run_dir)
            ctx.produced("distill", _student_candidates(ctx, r.params), consumed=["searched"])
            return False

        plans["distill"] = (spec.distill, distill)
    if spec.compress is not None:

        def compress(res: RunResult) -> bool:
            source_cand = _compress_input(ctx)
            model = rebuild(source_cand, ctx.data)
            r = compress_spec(source, out=run_dir, model_run=run_dir, model=model)
            ctx.produced("compress", _step_candidates(ctx, r, source_cand), consumed=[source_cand.id])
            return False

        plans["compress"] = (spec.compress, compress)

    def export(res: RunResult) -> bool:
        ship(spec, run_dir, ctx.data, ctx.candidates, ctx.manifest)  # _finish reads its manifest
        return False

    plans["export"] = (spec.ship.model_dump(mode="json"), export)

    def report(res: RunResult) -> bool:
        try:
            from autoopt.report import write_report
        except ImportError:  # the report package is optional until it lands
            return False
        write_report(run_dir)
        return False

    def shipped() -> str | None:  # the report shows the manifest: a new decision, a new report
        man = run_dir / MANIFEST_FILE
        return _hash(json.loads(man.read_text())["candidates"]) if man.is_file() else None

    plans["report"] = (shipped, report)
    return plans


def _student_candidates(ctx: _Context, params: dict[str, Any]) -> list[Candidate]:
    """The distilled student and the same student trained alone; a student that KD made worse is blocked."""
    from autoopt.models import build_model, load_checkpoint

    stage = ctx.run_dir / "distill"
    builder = {"name": params["model"], "config": dict(params.get("model_params") or {})}
    out = []
    for cid, label, weights in (
        ("distilled", "distilled student", stage / "model.safetensors"),
        ("student_alone", "student trained alone", stage / "baseline" / "model.safetensors"),
    ):
        if not weights.is_file():
            continue
        model = build_model(builder["name"], builder["config"], ctx.data.meta)
        load_checkpoint(model, weights)
        out.append(
            torch_candidate(
                cid,
                label,
                "distill",
                model,
                ctx.data,
                ctx.run_dir,
                builder=builder,
                weights=weights,
                derived_from="searched",
            )
        )
    if len(out) == 2:
        kd, alone = out
        if kd.score is not None and alone.score is not None:
            worse = kd.score < alone.score if kd.higher_is_better else kd.score > alone.score
            if worse:
                kd.flags.append(
                    f"blocked: distillation made the student worse than the same student trained alone "
                    f"(test {kd.metric} {kd.score:.4f} vs {alone.score:.4f})"
                )
    return out


def _compress_input(ctx: _Context) -> Candidate:
    """The candidate the guard would ship so far (a student that meets it, else the searched model)."""
    return decide(ctx.spec, [c for c in ctx.candidates if c.builder is not None]).shipped


def _step_candidates(ctx: _Context, r: Any, source: Candidate) -> list[Candidate]:
    """The compress stage's candidates as run candidates (its baseline is ``source`` itself).

    Compress already measured each model as a :class:`Candidate`; here it gets a run-wide id
    (``compress_<id>``) and parent: an INT8 model derives from its fp32 source, an fp32 model from the
    compress input. The model compress itself selected, when fp32, gets a full model dir (ONNX + .pt2 +
    weights); the others keep their ONNX file. Compress's own ``blocked:`` flags (an INT8 file not
    faster than its source) stay.
    """
    import dataclasses

    measured = [c for c in r.plan.candidates if c.onnx and c.score is not None]
    ids: dict[str, str] = {}
    out: list[Candidate] = []
    for i, c in enumerate(measured):
        if i == 0:  # the baseline: the compress input itself
            ids[c.id] = source.id
            continue
        cid = f"compress_{c.id}"
        ids[c.id] = cid
        parent = ids.get(c.derived_from or "", source.id) if c.precision == "int8" else source.id
        label = f"compress {c.label}"
        model = r.plan.models.get(c.id)
        if c is r.plan.selected and c.precision == "fp32" and model is not None:
            cand = torch_candidate(
                cid, label, "compress", model, ctx.data, ctx.run_dir, builder=None, derived_from=parent,
                notes=c.notes,
            )  # fmt: skip
            cand.flags += c.flags
        else:
            cand = dataclasses.replace(
                c, id=cid, label=label, derived_from=parent, flags=list(c.flags), notes=list(c.notes)
            )
        out.append(cand)
    return out


def _finish(result: RunResult, run_dir: Path) -> None:
    """The result's headline from the manifest: the searched model and the shipped file."""
    man = run_dir / MANIFEST_FILE
    result.final_dir = run_dir / "final" if (run_dir / "final" / "model.json").exists() else None
    result.report = run_dir / "report.html" if (run_dir / "report.html").exists() else None
    if not man.is_file():
        return
    m = json.loads(man.read_text())
    by_id = {c["id"]: c for c in m.get("candidates", [])}
    result.manifest = man
    result.comparison = m.get("comparison") or {}
    rows = []
    for role, cid in (("searched model", m.get("reference")), ("shipped", m.get("shipped"))):
        c = by_id.get(cid)
        if c is None:
            continue
        rows.append(
            {
                "role": role,
                "model": c["label"],
                "file": "final/model.onnx" if role == "shipped" else str(Path(c["onnx"])),
                "precision": c.get("precision", "fp32"),
                f"test_{c['metric']}": c["score"],
                "params": c["params"],
                "size_bytes": c["size_bytes"],
                **{
                    f"latency_b{b}_ms": v
                    for b, v in sorted(c.get("latency_ms", {}).items(), key=lambda x: int(x[0]))
                },
            }
        )
    result.summary = rows
    result.flags = [f"{c['label']}: {f}" for c in m.get("candidates", []) for f in c.get("flags", [])]
    shipped = by_id.get(m.get("shipped"), {})
    result.metrics.update(
        {
            f"test_{shipped.get('metric', 'accuracy')}": shipped.get("score"),
            "params": shipped.get("params"),
            "size_bytes": shipped.get("size_bytes"),
            "shipped": shipped.get("label"),
        }
    )
