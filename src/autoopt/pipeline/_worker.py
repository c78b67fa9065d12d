"""``autoopt worker --storage URL --study NAME``: join a running search from any machine.

The study carries its resolved spec (``autoopt run``/``autoopt tune SPEC`` store it as the study user
attribute ``autoopt:spec``), so a worker needs only the storage URL and the study name. It runs trials
until the study's total (``search.trials``) is reached, sharing that budget exactly with every other
worker through the storage; its trial checkpoints go to ``out/trials/<number>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from autoopt.data import load_data
from autoopt.exceptions import InvalidSpecError
from autoopt.io import open_storage, redact_url, storage_url_for, write_yaml
from autoopt.pipeline._tune_spec import SPEC_ATTR, make_objective, prepare_search, run_search
from autoopt.pipeline._validate import load_config
from autoopt.search import Progress, TuneResult

__all__ = ["join_study", "stored_spec_of"]


def stored_spec_of(storage: str, study: str) -> dict[str, Any]:
    """The spec stored with ``study`` in ``storage``.

    Raises:
        StorageError: the storage cannot be opened (the message names the URL without password).
        InvalidSpecError: no such study, or it was not started from a spec.
    """
    store = open_storage(storage)
    shown = redact_url(storage_url_for(storage))
    names = [s.study_name for s in optuna.get_all_study_summaries(store, include_best_trial=False)]
    if study not in names:
        raise InvalidSpecError(
            f"--study: no study {study!r} in {shown}; studies there: {', '.join(names) or '(none)'}. "
            "Start it first with `autoopt run SPEC.yaml --storage URL`"
        )
    attrs = optuna.load_study(study_name=study, storage=store).user_attrs
    if not isinstance(attrs.get(SPEC_ATTR), dict):
        raise InvalidSpecError(
            f"--study: study {study!r} in {shown} carries no spec (it was not started by `autoopt run` or "
            "`autoopt tune SPEC.yaml`); a worker of a Python objective runs `autoopt tune file.py:fn "
            "--storage URL --study NAME` instead"
        )
    return dict(attrs[SPEC_ATTR])


def join_study(
    storage: str,
    study: str,
    *,
    out: str | Path | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
) -> TuneResult:
    """Run trials of an existing study until its total is reached.

    Args:
        storage: the storage URL the study lives in (e.g. ``postgresql://user@host/db``).
        study: the study name.
        out: this worker's folder for trial checkpoints (default ``runs/<study>``).
        jobs: local worker processes.
        progress: a progress display.
    """
    data_spec = stored_spec_of(storage, study)
    data_spec["search"] = {**data_spec["search"], "jobs": jobs, "storage": None, "warm_start": None}
    spec = load_config(data_spec)
    run_dir = Path(out) if out is not None else Path("runs") / study
    run_dir.mkdir(parents=True, exist_ok=True)
    write_yaml(run_dir / "spec.worker.yaml", spec.spec.model_dump(mode="json"))
    data = load_data(spec.data)
    space, nas = prepare_search(spec, data, run_dir)
    return run_search(
        make_objective(spec, data, run_dir, nas),
        spec,
        storage=storage,
        study_name=study,
        progress=progress,
        space=space,
    )
