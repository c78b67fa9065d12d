"""What a run directory holds, read once and leniently: every part is optional, a missing one is ``None``.

The report reads files, never re-validates them: a run written by an older autoopt still gets a page,
with a note for whatever cannot be read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.study import Study

from autoopt.exceptions import InvalidSpecError
from autoopt.io import open_storage
from autoopt.search import TrialRow
from autoopt.tasks import Classification, TaskKind, get_task, list_tasks, task_kinds

__all__ = ["RunData", "read_run", "KNOWN_PARTS"]

#: what makes a folder a run directory (any one of them is enough).
KNOWN_PARTS = ("spec.yaml", "study.db", "best", "trials", "compress", "distill", "final")
_CONFIG_ATTR = "autoopt:config"  # the search's settings, stored on the study by autoopt.tune


@dataclass
class RunData:
    """The parts of a run directory the report shows.

    Attributes:
        run_dir: the run directory.
        name: the run's name (``spec.yaml``'s ``name``, else the folder's).
        spec: ``spec.yaml`` as a plain mapping (``None`` when absent).
        study: the search's Optuna study (``None`` when there is none or it cannot be opened).
        objectives: the objectives' metric names, one per study direction.
        best_metrics: ``best/metrics.json`` (flat: ``test_accuracy``, ``val_accuracy``, ``params``, ...).
        best_params: ``best/params.yaml``.
        histories: ``trials/<n>/history.json`` by trial number.
        compress_rows: ``compress/metrics.json``'s rows, one per step.
        distill: ``distill/metrics.json``.
        card: ``final/model.json``, the model card.
        manifest: ``manifest.json`` of ``autoopt run``: the candidates, their flags and the shipped one.
        notes: why a part that exists could not be read, by part (``"study"``, ``"compress"``, ...).
    """

    run_dir: Path
    name: str
    spec: dict[str, Any] | None = None
    study: Study | None = None
    objectives: list[str] = field(default_factory=list)
    best_metrics: dict[str, Any] | None = None
    best_params: dict[str, Any] | None = None
    histories: dict[int, dict[str, Any]] = field(default_factory=dict)
    compress_rows: list[dict[str, Any]] | None = None
    distill: dict[str, Any] | None = None
    card: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def directions(self) -> list[str]:
        """``"maximize"``/``"minimize"`` per objective (empty without a study)."""
        return [] if self.study is None else [d.name.lower() for d in self.study.directions]

    @property
    def trials(self) -> list[TrialRow]:
        """Every trial of the study, flattened (empty without a study)."""
        return [] if self.study is None else [TrialRow.of(t) for t in self.study.get_trials(deepcopy=False)]

    @property
    def task(self) -> str:
        """The task kind's name, from what the run recorded: the model card's ``task``, else the first
        registered kind whose score metric the best trial reported (classification if unsure)."""
        if self.card and self.card.get("task"):
            return str(self.card["task"])
        for name in list_tasks():
            if self.best_metrics and f"test_{get_task(name).score_metric}" in self.best_metrics:
                return name
        return Classification.name

    @property
    def kind(self) -> TaskKind:
        """The run's task kind (:attr:`task`); classification when that kind is not registered here."""
        return get_task(self.task if self.task in task_kinds else Classification.name)


def _read(path: Path, kind: str, part: str, notes: dict[str, str]) -> Any:
    """A JSON or YAML file's content; ``None`` (and a note) when it is absent or unreadable."""
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if kind == "json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        notes[part] = f"{path.name} could not be read: {exc}"
        return None
    if not isinstance(data, dict):
        notes[part] = f"{path.name}: expected a mapping, got {type(data).__name__}"
        return None
    return data


def _histories(run_dir: Path) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    trials = run_dir / "trials"
    if not trials.is_dir():
        return out
    for folder in trials.iterdir():
        if not folder.name.isdigit():
            continue
        history = _read(folder / "history.json", "json", "trials", {})
        if history is not None and isinstance(history.get("epochs"), list):
            out[int(folder.name)] = history
    return dict(sorted(out.items()))


def _study(run_dir: Path, spec: dict[str, Any] | None, name: str, notes: dict[str, str]) -> Study | None:
    """The tune study: ``search.storage`` of the spec, else ``RUN_DIR/study.db`` (never created here)."""
    search = (spec or {}).get("search") or {}
    storage = search.get("storage") if isinstance(search, dict) else None
    if storage is None:
        db = run_dir / "study.db"
        if not db.is_file():
            return None
        storage = str(db)
    try:
        st = open_storage(storage)
        names = [s.study_name for s in optuna.get_all_study_summaries(st, include_best_trial=False)]
        chosen = name if name in names else (names[0] if len(names) == 1 else None)
        if chosen is None:
            notes["study"] = (
                f"no study named {name!r} in the storage (it holds: {', '.join(names) or 'none'})"
            )
            return None
        return optuna.load_study(study_name=chosen, storage=st)
    except Exception as exc:  # any storage/driver error: the page says so instead of failing
        notes["study"] = f"the study could not be opened: {exc}"
        return None


def read_run(run_dir: str | os.PathLike[str]) -> RunData:
    """Read the parts of a run directory the report shows.

    Args:
        run_dir: a directory written by ``autoopt tune`` / ``compress`` / ``distill`` / ``export``.

    Raises:
        InvalidSpecError: ``run_dir`` is not a directory, or holds none of the run directory's parts.

    Example:
        >>> run = read_run("runs/digits")  # doctest: +SKIP
        >>> run.best_metrics["test_accuracy"], len(run.trials)  # doctest: +SKIP
        (0.99, 8)
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InvalidSpecError(f"run_dir: {str(run_dir)!r} is not a directory; give a run directory")
    if not any((run_dir / p).exists() for p in KNOWN_PARTS):
        raise InvalidSpecError(
            f"run_dir: {str(run_dir)!r} holds none of {', '.join(KNOWN_PARTS)}; "
            "expected a run directory written by 'autoopt tune' (or compress, distill, export)"
        )
    notes: dict[str, str] = {}
    spec = _read(run_dir / "spec.yaml", "yaml", "spec", notes)
    name = str((spec or {}).get("name") or run_dir.resolve().name)
    study = _study(run_dir, spec, name, notes)
    objectives: list[str] = []
    if study is not None:
        cfg = study.user_attrs.get(_CONFIG_ATTR) or {}
        n = len(study.directions)
        objectives = list(cfg.get("metrics") or (["value"] if n == 1 else [f"value_{i}" for i in range(n)]))
    manifest = _read(run_dir / "manifest.json", "json", "manifest", notes)
    # With a manifest, a stage the current spec no longer has is a leftover: not shown.
    present = set((manifest or {}).get("stages") or {}) if manifest is not None else None
    compress = (
        _read(run_dir / "compress" / "metrics.json", "json", "compress", notes)
        if present is None or "compress" in present
        else None
    )
    rows = compress.get("rows") if compress is not None else None
    if compress is not None and not isinstance(rows, list):
        notes["compress"], rows = "compress/metrics.json has no 'rows' list", None
    return RunData(
        run_dir=run_dir,
        name=name,
        spec=spec,
        study=study,
        objectives=objectives,
        best_metrics=_read(run_dir / "best" / "metrics.json", "json", "best", notes),
        best_params=_read(run_dir / "best" / "params.yaml", "yaml", "best", notes),
        histories=_histories(run_dir),
        compress_rows=rows,
        distill=_read(run_dir / "distill" / "metrics.json", "json", "distill", notes)
        if present is None or "distill" in present
        else None,
        card=_read(run_dir / "final" / "model.json", "json", "card", notes),
        manifest=manifest,
        notes=notes,
    )
