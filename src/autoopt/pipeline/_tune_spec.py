"""``autoopt tune SPEC.yaml``: search a model family's hyperparameters on a dataset, keep the best model.

The pipeline only wires the stages: data -> (search over models.build + training.fit) -> best model
evaluated once on the test split.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import ConcatDataset

from autoopt.data import DataBundle, load_data
from autoopt.exceptions import AutoOptError
from autoopt.io import redact_url, write_json, write_yaml
from autoopt.models import (
    build_model,
    load_checkpoint,
)
from autoopt.nas import NasRun, prepare_nas, retrain_top_k, search_space, write_front
from autoopt.pipeline._config import RunConfig
from autoopt.pipeline._validate import default_trials, load_config, split_params
from autoopt.pipeline._warm_start import warm_start_configs
from autoopt.search import Progress, TuneResult, tune
from autoopt.search.training import default_threads, training_objective
from autoopt.space import Space
from autoopt.spec import TransferSpec
from autoopt.training import evaluate_model, fit

__all__ = ["TuneSpecResult", "make_objective", "tune_spec", "build_trial_model"]


@dataclass
class TuneSpecResult:
    """What ``tune_spec`` produced: the search, the best trial's folder and its test metrics."""

    spec: RunConfig
    run_dir: Path
    search: TuneResult
    best_dir: Path | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    warm_start_incompatible: list[str] = field(default_factory=list)
    front: list[dict[str, Any]] = field(default_factory=list)
    meta: Any = None


def build_trial_model(spec: RunConfig, params: dict[str, Any], data: DataBundle) -> torch.nn.Module:
    """The model of one trial: fixed ``model.params`` updated with the searched ``model.*`` values."""
    sections = split_params(params)
    torch.manual_seed(spec.seed)
    return build_model(spec.model.name, {**spec.model.params, **sections["model"]}, data.meta)


def make_objective(spec: RunConfig, data: DataBundle, run_dir: Path, nas: NasRun | None = None) -> Any:
    """The search stage's objective (:func:`autoopt.search.training.training_objective`) for this spec.

    With ``nas``, a candidate over a hard budget is rejected before it trains, candidates train on
    ``nas.subset`` for ``nas.epochs``, and with one-shot they are scored with the supernet's weights.
    """
    epochs = {"epochs": nas.cfg.epochs} if nas is not None and nas.cfg.epochs is not None else {}
    transfer = spec.transfer

    def with_transfer(params: dict[str, Any]) -> TransferSpec | None:
        return transfer.model_copy(update=split_params(params)["transfer"]) if transfer is not None else None

    return training_objective(
        data,
        build=lambda params: build_trial_model(spec, params, data),
        train_config=lambda params: spec.train_config(split_params(params)["training"], **epochs),
        metrics=[o.metric for o in spec.search.objectives],
        trials_dir=run_dir / "trials",
        threads=default_threads(spec.threads, spec.search.jobs),
        seed=spec.seed,
        transfer=with_transfer,
        nas=nas,
    )


def prepare_search(spec: RunConfig, data: DataBundle, run_dir: Path) -> tuple[Space, NasRun | None]:
    """The searched space (with a ``nas:`` section, the architecture's decisions too) and the NAS state."""
    s = spec.search
    space = search_space(spec.nas, Space.from_dict(s.space), data.meta)  # type: ignore[arg-type]
    nas = prepare_nas(
        spec.nas,
        data,
        run_dir,
        training=spec.training,
        seed=spec.seed,
        metrics=[*(o.metric for o in s.objectives), *s.constraints],
        data_key=spec.data.model_dump(mode="json"),
    )
    return space, nas


def tune_spec(
    source: str | Path | RunConfig,
    *,
    out: str | Path | None = None,
    storage: str | None = None,
    progress: Progress | None = None,
    retrain: bool = False,
    **overrides: Any,
) -> TuneSpecResult:
    """Run the deep-learning tune of a spec and keep the best model.

    Args:
        source: the spec YAML, or its :class:`RunConfig` (validated once by :func:`load_config`).
        out: the run directory (default ``runs/<spec.name>``).
        storage: a storage URL overriding ``search.storage`` (default ``RUN_DIR/study.db``).
        progress: a progress display.
        retrain: train the best configuration again from scratch on the current data (also with
            ``search.retrain_best``), e.g. after the data changed under a finished search.
        **overrides: ``trials``, ``timeout``, ``jobs``, ``strategy``, ``scheduler``, ``seed``.

    Returns:
        A :class:`TuneSpecResult`; ``RUN_DIR/best/`` holds ``model.safetensors``, ``params.yaml`` and
        ``metrics.json`` (flat keys: ``test_accuracy``, ``val_accuracy``, ``params``, ...).
    """
    spec = source if isinstance(source, RunConfig) else load_config(source, **overrides)
    run_dir = Path(out) if out is not None else Path("runs") / spec.name
    run_dir.mkdir(parents=True, exist_ok=True)
    write_yaml(run_dir / "spec.yaml", spec.spec.model_dump(mode="json"))
    data = load_data(spec.data)
    s = spec.search
    space, nas = prepare_search(spec, data, run_dir)
    warm = warm_start_configs(s.warm_start, space, s.warm_start_top) if s.warm_start else None
    result = run_search(
        make_objective(spec, data, run_dir, nas),
        spec,
        storage=storage or s.storage or str(run_dir / "study.db"),
        study_name=spec.name,
        progress=progress,
        enqueue=warm.configs if warm else default_trials(spec.spec),
        space=space,
    )
    out_res = TuneSpecResult(spec=spec, run_dir=run_dir, search=result, meta=data.meta)
    out_res.warm_start_incompatible = warm.incompatible if warm else []
    best = _best_row(result)
    if best is None:
        return out_res
    ckpt = run_dir / "trials" / str(best.number) / "model.safetensors"
    retrained: dict[str, Any] = {}
    if nas is not None:

        def build(p: dict[str, Any]) -> torch.nn.Module:
            return build_trial_model(spec, p, data)

        out_res.front = write_front(result, nas, run_dir, build, space, data.meta.input_shape)
        top = retrain_top_k(
            nas, result, data, space, run_dir, build, lambda p: spec.train_config(split_params(p)["training"])
        )
        if top is not None:
            best, ckpt, retrained = top
    params = {**space.complete(best.params)}
    if retrain or s.retrain_best:
        # The best configuration, trained again from scratch on the data as it is now.
        model = build_trial_model(spec, params, data)
        cfg = spec.train_config(split_params(params)["training"])
        fit_data = data
        if s.retrain_on == "train+val":  # val is then training data too; only test still estimates
            fit_data = DataBundle(ConcatDataset([data.train, data.val]), data.val, data.test, data.meta)
        fit(model, fit_data, cfg, out_dir=run_dir / "best" / "retrain")
        ckpt = run_dir / "best" / "retrain" / "model.safetensors"
    if not ckpt.exists():
        raise AutoOptError(f"trial {best.number}'s checkpoint {ckpt} is missing; rerun with --from search")
    best_dir = run_dir / "best"
    best_dir.mkdir(exist_ok=True)
    shutil.copyfile(ckpt, best_dir / "model.safetensors")
    model = build_trial_model(spec, params, data)
    load_checkpoint(model, best_dir / "model.safetensors")
    cfg = spec.train_config(split_params(params)["training"])
    test = evaluate_model(
        model, data.test, batch_size=cfg.batch_size * 2, device=cfg.device, task=data.meta.task
    )
    metrics = {f"test_{k}": v for k, v in test.items()}
    metrics.update(best.metrics)
    metrics.update(retrained)
    metrics.update(trial=best.number, model=spec.model.name, dataset=data.meta.name)  # type: ignore[call-overload]
    write_yaml(
        best_dir / "params.yaml",
        {
            "model": spec.model.name,
            "model_params": {**spec.model.params, **split_params(params)["model"]},
            "training": {**spec.fixed_training, **split_params(params)["training"]},
            "trial": best.number,
        },
    )
    write_json(best_dir / "metrics.json", metrics)
    out_res.best_dir, out_res.best_params, out_res.metrics = best_dir, params, metrics
    return out_res


def run_search(
    objective: Any,
    spec: RunConfig,
    *,
    storage: str,
    study_name: str,
    progress: Progress | None = None,
    enqueue: list[dict[str, Any]] | None = None,
    space: Space | None = None,
) -> TuneResult:
    """``autoopt.tune`` with everything the spec's ``search:`` section says (shared by the stages).

    ``space`` replaces ``search.space`` (the NAS stage adds the architecture's decisions to it).
    """
    s = spec.search
    return tune(
        objective,
        space=space if space is not None else Space.from_dict(s.space),  # type: ignore[arg-type]
        strategy=s.strategy,
        scheduler=s.scheduler,
        trials=s.trials,
        timeout=s.timeout,
        jobs=s.jobs,
        deterministic=s.deterministic,
        directions=[o.resolved_direction() for o in s.objectives],
        metrics=[o.metric for o in s.objectives],
        constraints=s.constraints,
        storage=storage,
        study_name=study_name,
        seed=spec.seed,
        strategy_options=s.strategy_options,
        scheduler_options=s.scheduler_options,
        heartbeat_interval=s.heartbeat_interval,
        max_retries=s.max_retries,
        study_attrs={SPEC_ATTR: stored_spec(spec)},
        progress=progress,
        enqueue=enqueue,
    )


SPEC_ATTR = "autoopt:spec"  # the resolved spec, so `autoopt worker` needs only the URL and study name


def stored_spec(spec: RunConfig) -> dict[str, Any]:
    """The spec as stored with the study: resolved, with any password in a storage URL masked."""
    data = spec.spec.model_dump(mode="json")
    if data["search"].get("storage"):
        data["search"]["storage"] = redact_url(data["search"]["storage"])
    return data


def best_row(result: TuneResult) -> Any:
    """The best trial's row (the first Pareto point for several objectives), or ``None``."""
    return _best_row(result)


def _best_row(result: TuneResult) -> Any:
    if result.multi_objective:
        front = result.pareto
        return front[0] if front else None
    t = result.best_trial
    if t is None:
        return None
    return next(r for r in result.trials if r.number == t.number)
