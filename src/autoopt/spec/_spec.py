"""The spec: one YAML file naming data, model, training, transfer and search; validated up front.

Stage-specific sections (``training``) are kept as mappings here and validated by their stage's own
config type when the pipeline builds the stage inputs, so this ground-floor module never imports a
stage; ``autoopt.pipeline.load_config`` runs every check, once, and lists all problems at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autoopt._validation import validation_errors
from autoopt.data import DataConfig
from autoopt.exceptions import InvalidSpecError
from autoopt.io import path_problem, yaml_problem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    """``model:``: a registered builder (``autoopt list models``) or ``package.module:function``, and its
    fixed parameters. Searched parameters go in ``search.space`` as ``model.<param>``.

    Attributes:
        name: a registered builder (``mlp``, ``cnn``, ``resnet``, ``torchvision``) or your own
            ``package.module:function``, called as ``function(meta, **params)``; running such a spec
            runs that code.
        params: fixed parameters of the builder (``autoopt list models`` and the tuning guide list them).
    """

    name: str = "cnn"
    params: dict[str, Any] = Field(default_factory=dict)


class TransferSpec(_Strict):
    """``transfer:``: start from a local checkpoint (safetensors, or ``.pt`` loaded with weights_only).

    Attributes:
        checkpoint: the local weights file; the classifier head is replaced when the class count differs.
        freeze: ``none``, ``backbone`` or ``all-but-last-N`` (e.g. ``all-but-last-2``); searchable.
        backbone_lr_mult: the backbone's learning rate is ``training.lr`` times this; searchable.
        unfreeze_every: gradual unfreezing, one more block every N epochs; ``None``: off.
    """

    checkpoint: Path
    freeze: str = "none"
    backbone_lr_mult: float = Field(1.0, gt=0)
    unfreeze_every: int | None = Field(None, ge=1)


class ObjectiveSpec(_Strict):
    """One objective: a metric of a trial and its direction.

    Metrics: ``val_<metric>`` (e.g. ``val_accuracy``, ``val_loss``, ``val_mse``), ``params``, ``macs``.

    Attributes:
        metric: ``val_<metric>``, ``params`` or ``macs``.
        direction: ``minimize``, ``maximize`` or ``auto`` (minimize losses, errors, sizes and latency;
            maximize the rest).
    """

    metric: str = "val_accuracy"
    direction: Literal["minimize", "maximize", "auto"] = "auto"

    def resolved_direction(self) -> str:
        if self.direction != "auto":
            return self.direction
        minimize = ("loss", "mse", "rmse", "mae", "params", "macs", "latency")
        return "minimize" if any(self.metric.endswith(m) for m in minimize) else "maximize"


class SearchSpec(_Strict):
    """``search:``: the strategy, scheduler, budget, objectives, constraints and space.

    Attributes:
        strategy: ``auto``, ``random``, ``grid``, ``tpe``, ``bayes``, ``cmaes``, ``evolution`` or ``qmc``
            (``autoopt list strategies``).
        scheduler: early stopping by epoch: ``none``, ``median``, ``asha`` or ``hyperband``.
        trials: total trials of the study (a rerun resumes up to it); ``None``: until ``timeout``.
        timeout: seconds after which no new trial starts.
        jobs: parallel trial processes on the same storage.
        deterministic: with ``jobs`` > 1, the same seed gives the same trials whatever the timing.
        objectives: one objective or a list of them (several: a Pareto front).
        constraints: e.g. ``["params <= 200000"]``; infeasible trials are never picked as best.
        space: the searched parameters, named ``<section>.<key>`` (``training.lr``, ``model.width``);
            ``default`` (or left out, unless ``trials`` is 1) searches the model family's default space
            for the data's shape and size (docs/tune.md), without the keys ``model.params`` and
            ``training`` fix.
        strategy_options: keyword arguments of the strategy's sampler.
        scheduler_options: keyword arguments of the scheduler.
        storage: a storage URL or file; ``None``: ``RUN_DIR/study.db``.
        heartbeat_interval: seconds between heartbeats of a running trial (SQLite and database
            storages; 0: none); a trial whose worker stops beating for 3 intervals (at least 10 s) is
            failed and queued again.
        max_retries: how often a trial whose worker died is queued again (same parameters).
        retrain_best: after the search, train the best configuration again from scratch on the data
            as it is now (e.g. after the data changed under a finished search).
        retrain_on: the data of that retraining: ``train`` (default) or ``train+val`` (the final model
            also learns from the validation split, which then no longer estimates anything: only the
            test metrics do). Needs ``retrain_best: true``.
        warm_start: an earlier run directory; its best configurations are tried first.
        warm_start_top: how many of its best configurations are tried first.
    """

    strategy: str = "auto"
    scheduler: str | None = "asha"
    trials: int | None = Field(20, ge=1)
    timeout: float | None = Field(None, gt=0)
    jobs: int = Field(1, ge=1)
    deterministic: bool = False
    objectives: list[ObjectiveSpec] = Field(default_factory=lambda: [ObjectiveSpec()])
    constraints: list[str] = Field(default_factory=list)
    space: dict[str, Any] | Literal["default"] = Field(default_factory=dict)
    strategy_options: dict[str, Any] = Field(default_factory=dict)
    scheduler_options: dict[str, Any] = Field(default_factory=dict)
    storage: str | None = None
    heartbeat_interval: int = Field(10, ge=0)
    max_retries: int = Field(2, ge=0)
    retrain_best: bool = False
    retrain_on: Literal["train", "train+val"] = "train"
    warm_start: str | None = None  # an earlier run directory: its best configurations are tried first
    warm_start_top: int = Field(5, ge=1)

    @field_validator("objectives", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, Mapping) else v


class ShipSpec(_Strict):
    """``ship:``: which of the run's candidate models ``autoopt run`` may put in ``final/``.

    Every model the run makes (the searched best model, the distilled student, the same student trained
    alone, each compression step, fp32 and INT8) is a candidate, measured on the same test split and
    with the one latency harness. A candidate may ship only when it loses at most
    ``max_accuracy_drop`` against the searched model, is not slower than it at any measured batch size
    (beyond ``latency_tolerance``) and meets the optional targets; among those, ``prefer`` picks.

    Attributes:
        max_accuracy_drop: accuracy points (classification) a shipped model may lose against the
            searched model; for regression, the percentage its test error may grow. ``None``: the
            ``compress.max_accuracy_drop`` of the spec, else 1.0.
        max_latency_ms: batch-1 p50 latency target (ms); ``None``: no target.
        max_size_bytes: file size target of the deployable ONNX file; ``None``: no target.
        prefer: among the candidates allowed to ship: ``latency`` (the fastest at batch 1, then at
            the largest measured batch), ``size`` (the smallest file) or ``accuracy`` (the most
            accurate). Candidates within 5% of the best latency (or size) count as tied; ties go to
            the more accurate, then the smaller one.
        latency_tolerance: a candidate is "slower" when its p50 exceeds the searched model's by more
            than this fraction at batch 1 or at the largest batch (timer noise on tiny models).
        repeats: timed calls per batch size and round of the interleaved latency measurement.
    """

    max_accuracy_drop: float | None = Field(None, ge=0)
    max_latency_ms: float | None = Field(None, gt=0)
    max_size_bytes: int | None = Field(None, gt=0)
    prefer: Literal["latency", "size", "accuracy"] = "latency"
    latency_tolerance: float = Field(0.05, ge=0, le=1)
    repeats: int = Field(30, ge=3)


class Spec(_Strict):
    """The whole spec of ``autoopt tune SPEC.yaml`` (and, later, ``autoopt run``).

    Attributes:
        name: the run folder (``runs/<name>``) and the study name; a plain folder name.
        seed: the search seed; also the training seed unless ``training.seed`` is set.
        threads: intra-op threads per trial process; ``None``: cores / ``search.jobs``.
        data: where the data comes from and how it is split.
        model: the model builder and its fixed parameters.
        transfer: start from a local checkpoint (optional).
        training: fixed training settings.
        search: the strategy, early stopping, budget, objectives, constraints and space.
        distill: knowledge distillation (``autoopt distill``; optional).
        compress: the compression plan (``autoopt compress``; optional).
        nas: architecture search (``autoopt search``; optional): the model becomes an architecture
            space whose decisions are searched with ``search.space``.
        ship: which candidate model ``autoopt run`` ships in ``final/`` (the guard against regressions).
    """

    name: str = "run"
    seed: int = 0
    threads: int | None = Field(None, ge=1)  # intra-op threads per trial process; None: cores / search.jobs
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelSpec = Field(default_factory=ModelSpec)
    transfer: TransferSpec | None = None
    training: dict[str, Any] = Field(default_factory=dict)
    search: SearchSpec = Field(default_factory=SearchSpec)
    # Stage sections validated by their stage's config type in pipeline.load_config (RunConfig).
    distill: dict[str, Any] | None = None
    compress: dict[str, Any] | None = None
    nas: dict[str, Any] | str | None = None
    ship: ShipSpec = Field(default_factory=ShipSpec)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not v or "/" in v or v.startswith("."):
            raise ValueError(f"must be a plain folder name (no '/', not starting with '.'), got {v!r}")
        return v


def read_spec(source: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> Spec:
    """Read and validate a spec (a YAML path or a mapping); every problem is listed with its key path.

    Args:
        source: a YAML path or a mapping.
        overrides: values replacing the spec's before it is validated (once): a mapping updates that
            section key by key (``{"search": {"trials": 5}}``), anything else replaces it (``{"seed": 1}``).

    Raises:
        InvalidSpecError: the file is missing or not YAML, or the spec is invalid.
    """
    if isinstance(source, Mapping):
        data: Any = dict(source)
        where = "spec"
    else:
        path = Path(source)
        problem = path_problem(path)
        if problem is not None:
            raise InvalidSpecError(f"spec file: {problem}")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise InvalidSpecError(f"{path}: not valid YAML at {yaml_problem(e)}") from None
        where = str(path)
    if not isinstance(data, Mapping):
        raise InvalidSpecError(
            f"{where}: expected a mapping of sections (data, model, training, search), "
            f"got {type(data).__name__}"
        )
    data = dict(data)
    for key, value in (overrides or {}).items():
        section = data.get(key)
        if isinstance(value, Mapping) and isinstance(section, (Mapping, type(None))):
            data[key] = {**(section or {}), **value}
        else:
            data[key] = value
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise InvalidSpecError(errors=validation_errors(exc, "", Spec)) from None
