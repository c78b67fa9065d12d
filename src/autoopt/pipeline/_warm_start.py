"""Warm start: an earlier run's best configurations, tried first when the spaces are compatible."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from autoopt.exceptions import InvalidSpecError
from autoopt.io import open_storage
from autoopt.space import Space

__all__ = ["WarmStart", "warm_start_configs"]


@dataclass
class WarmStart:
    """The configurations to enqueue and what could not be carried over (one line each)."""

    configs: list[dict[str, Any]] = field(default_factory=list)
    incompatible: list[str] = field(default_factory=list)


def _study_of(run_dir: Path) -> optuna.Study:
    db = run_dir / "study.db"
    if not db.is_file():
        raise InvalidSpecError(
            f"search.warm_start: {str(run_dir)!r} has no study.db; expected an earlier run directory"
        )
    name = None
    meta = run_dir / "run.json"
    if meta.is_file():
        name = json.loads(meta.read_text()).get("study")
    storage = open_storage(db)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    name = name if name in names else (names[0] if len(names) == 1 else None)
    if name is None:
        raise InvalidSpecError(
            f"search.warm_start: {db} holds several studies ({', '.join(names)}); cannot tell which"
        )
    return optuna.load_study(study_name=name, storage=storage)


def warm_start_configs(run_dir: str | Path, space: Space, top: int = 5) -> WarmStart:
    """The ``top`` best complete trials of an earlier run, restricted to the new space.

    A parameter whose value lies outside the new space's range or choices makes that configuration
    incompatible (reported, not enqueued); a parameter the new space no longer has is dropped and
    reported; a new parameter is left to the strategy.
    """
    study = _study_of(Path(run_dir))
    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.values]
    sign = [1.0 if d.name == "MINIMIZE" else -1.0 for d in study.directions][0]
    trials.sort(key=lambda t: sign * t.values[0])
    dists = space.distributions()
    out = WarmStart()
    for t in trials[:top]:
        config, bad = {}, []
        for name, value in t.params.items():
            if name not in dists:
                out.incompatible.append(f"trial {t.number}: {name} is not in the new space (dropped)")
                continue
            dist = dists[name]
            try:
                ok = dist._contains(dist.to_internal_repr(value))
            except (ValueError, TypeError):
                ok = False
            if ok:
                config[name] = value
            else:
                bad.append(f"{name}={value!r} outside {dist}")
        if bad:
            out.incompatible.append(f"trial {t.number}: " + "; ".join(bad) + " (not enqueued)")
        elif config:
            out.configs.append(config)
    return out
