"""Every check of a spec, before anything runs: all problems listed at once, each with its key path."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autoopt.data import DatasetMeta
from autoopt.distill import SEARCHABLE as DISTILL_SEARCHABLE
from autoopt.distill import DistillConfig
from autoopt.exceptions import AutoOptError, InvalidSpecError
from autoopt.io import path_problem
from autoopt.metrics import list_metrics
from autoopt.models import check_model_params, default_point, default_space, model_params
from autoopt.models.arch._common import arch_spaces
from autoopt.schedulers import schedulers
from autoopt.search import parse_constraints
from autoopt.space import Space
from autoopt.spec import Spec, TransferSpec, read_spec
from autoopt.strategies import strategies
from autoopt.training import TrainConfig

__all__ = ["load_spec", "SECTIONS", "split_params"]

SECTIONS = ("model", "training", "transfer", "distill")
STATIC_METRICS = ("params", "macs", "latency_ms")


def split_params(params: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"model.width": 32, "training.lr": 0.1}`` -> ``{"model": {"width": 32}, "training": {...}}``."""
    out: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for name, value in params.items():
        section, _, key = name.partition(".")
        out[section][key] = value
    return out


@functools.lru_cache(maxsize=8)
def _data_shape(data_json: str) -> tuple[DatasetMeta, int]:
    from autoopt.data import DataConfig, load_data

    data = load_data(DataConfig.model_validate_json(data_json))
    return data.meta, len(data.train)  # type: ignore[arg-type]


def _with_default_space(spec: Spec, errors: list[str], check_files: bool = True) -> Spec:
    """``search.space: default`` (or no space) -> the model family's default space for the data.

    A spec without a space and with ``search.trials: 1`` trains once: nothing is searched.
    """
    if spec.search.space not in ("default", {}):
        return spec
    if spec.search.space == {} and spec.search.trials == 1:
        return spec
    if spec.nas is not None:
        if spec.search.space == "default":
            errors.append(
                "search.space: 'default' is for a model's hyperparameters; with a nas: section "
                "list the searched keys (or leave search.space out)"
            )
        return spec.model_copy(update={"search": spec.search.model_copy(update={"space": {}})})
    try:
        meta, n_train = _data_shape(spec.data.model_dump_json())
    except AutoOptError as exc:  # the data's own errors, reported with the rest of the spec's
        if check_files:  # without file checks, a dataset not on this machine is not an error
            errors.append(f"search.space: the default space needs the data's shape: {exc}")
        return spec.model_copy(update={"search": spec.search.model_copy(update={"space": {}})})
    space = default_space(
        spec.model.name, meta, n_train, model_params=spec.model.params, training=spec.training
    )
    return spec.model_copy(update={"search": spec.search.model_copy(update={"space": space})})


def default_trials(spec: Spec) -> list[dict[str, Any]]:
    """``[the default point]`` when the spec searches its family's default space, else ``[]``.

    A search of the default space tries that point first, so it never ends below it.
    """
    if spec.nas is not None or not isinstance(spec.search.space, Mapping) or not spec.search.space:
        return []
    meta, n_train = _data_shape(spec.data.model_dump_json())
    space = default_space(
        spec.model.name, meta, n_train, model_params=spec.model.params, training=spec.training
    )
    if space != spec.search.space:
        return []
    return [default_point(space, optimizer=str(spec.training.get("optimizer", "adamw")))]


def _collect(errors: list[str], fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except InvalidSpecError as e:
        errors.extend(e.errors or [str(e)])
        return None


def load_spec(source: str | Path | Mapping[str, Any], *, check_files: bool = True, **overrides: Any) -> Spec:
    """Read a spec and check everything a run will need, listing every problem at once.

    Args:
        source: a YAML path or a mapping.
        check_files: also check that files the spec names (a transfer checkpoint) exist.
        **overrides: ``search.*`` values from the command line (``trials``, ``timeout``, ``jobs``,
            ``strategy``, ``scheduler``) and ``seed``; ``None`` values are ignored.

    Raises:
        InvalidSpecError: one line per problem, e.g. ``search.space.model.widht: model 'cnn' has no
            parameter 'widht'; expected one of: ...``.
    """
    spec = read_spec(source)
    search_over = {k: v for k, v in overrides.items() if v is not None and k != "seed"}
    if search_over:
        merged = {**spec.search.model_dump(), **search_over}
        spec = read_spec({**spec.model_dump(mode="python"), "search": merged})
    if overrides.get("seed") is not None:
        spec = spec.model_copy(update={"seed": overrides["seed"]})

    errors: list[str] = []
    if spec.nas is not None:
        spec = _nas_model(spec, errors)
    spec = _with_default_space(spec, errors, check_files)
    _collect(errors, TrainConfig, **spec.training)
    space = _collect(errors, Space.from_dict, spec.search.space, key="search.space")
    accepted_model = _collect(errors, model_params, spec.model.name)
    searched: dict[str, set[str]] = {s: set() for s in SECTIONS}
    if space is not None:
        for name in space.names:
            section, dot, key = name.partition(".")
            where = f"search.space.{name}"
            if not dot or section not in SECTIONS:
                errors.append(
                    f"{where}: searched parameters are named '<section>.<key>' with section one of "
                    f"{', '.join(SECTIONS)} (e.g. 'training.lr', 'model.width')"
                )
                continue
            searched[section].add(key)
            if section == "training" and key not in TrainConfig.model_fields:
                errors.append(
                    f"{where}: 'training' has no field {key!r}; expected one of: "
                    f"{', '.join(sorted(TrainConfig.model_fields))}"
                )
            elif section == "distill" and (spec.distill is None or key not in DISTILL_SEARCHABLE):
                errors.append(
                    f"{where}: 'distill.{key}' is searchable only with a distill section, and only "
                    f"{', '.join(DISTILL_SEARCHABLE)}"
                )
            elif section == "transfer" and key not in TransferSpec.model_fields:
                errors.append(
                    f"{where}: 'transfer' has no field {key!r}; expected one of: freeze, backbone_lr_mult"
                )
            elif (
                section == "model"
                and accepted_model is not None
                and key not in accepted_model
                and not _takes_any(spec)
            ):
                errors.append(
                    f"{where}: model {spec.model.name!r} has no parameter {key!r}; expected one of: "
                    f"{', '.join(sorted(accepted_model))}"
                )
    if accepted_model is not None:
        # A searched name the model lacks was reported above; report it once.
        known = [k for k in searched["model"] if k in accepted_model or _takes_any(spec)]
        given = {**spec.model.params, **{k: None for k in known}}
        _collect(errors, check_model_params, spec.model.name, given, key="model.params")
    if spec.distill is not None:
        # In `autoopt run` the teacher defaults to the run's own searched model (its run directory).
        _collect(errors, DistillConfig.from_spec, {"teacher": "<this run>", **spec.distill})
    if spec.compress is not None:
        from autoopt.compress import PlanConfig  # a stage config, validated with the rest of the spec

        _collect(errors, PlanConfig.from_spec, spec.compress)
    _collect(errors, strategies.get, spec.search.strategy, key="search.strategy")
    _collect(errors, schedulers.get, spec.search.scheduler or "none", key="search.scheduler")
    constraints = _collect(errors, parse_constraints, spec.search.constraints)
    errors.extend(_metric_name_errors(spec, constraints or [], space))
    if len(spec.search.objectives) == 0:
        errors.append("search.objectives: give at least one objective")
    if check_files and spec.transfer is not None:
        problem = path_problem(spec.transfer.checkpoint)
        if problem is not None:
            errors.append(f"transfer.checkpoint: {problem}")
    if spec.search.retrain_on != "train" and not spec.search.retrain_best:
        errors.append(
            f"search.retrain_on: {spec.search.retrain_on!r} needs search.retrain_best: true (it picks the "
            "data of the final retraining)"
        )
    if spec.search.trials is None and spec.search.timeout is None:
        errors.append("search.trials: give a trial budget (search.trials) or a time budget (search.timeout)")
    if errors:
        raise InvalidSpecError(errors=errors)
    return spec


def trial_metric_names(spec: Spec) -> list[str]:
    """Every metric a trial of this spec reports: ``val_loss``, ``val_<metric>`` for each registered
    metric (and the monitored ``training.metric``), ``params``, ``macs``, ``latency_ms``."""
    names = ["val_loss", *(f"val_{m}" for m in list_metrics())]
    monitored = spec.training.get("metric")
    if isinstance(monitored, str) and f"val_{monitored}" not in names:
        names.append(f"val_{monitored}")
    return [*names, *STATIC_METRICS]


def _unknown_name(key: str, name: str, valid: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{key}: {name!r} is not {what}; expected one of: {', '.join(valid)}.{hint}"


def _metric_name_errors(spec: Spec, constraints: list[Any], space: Space | None) -> list[str]:
    """Objective and constraint names checked before any training (a typo such as ``val_acc`` was
    found only after the first trial had trained)."""
    metric_names = trial_metric_names(spec)
    errors = [
        _unknown_name(f"search.objectives[{i}].metric", o.metric, metric_names, "a metric trials report")
        for i, o in enumerate(spec.search.objectives)
        if o.metric not in metric_names
    ]
    lookup = [*metric_names, "epochs", "samples_per_s", *(space.names if space is not None else [])]
    errors += [
        _unknown_name(
            f"search.constraints[{i}]", c.name, lookup, "a metric trials report or a searched parameter"
        )
        for i, c in enumerate(constraints)
        if c.name not in lookup
    ]
    return errors


def _nas_model(spec: Spec, errors: list[str]) -> Spec:
    """With a ``nas:`` section the model is its architecture space (``model.name: nas-macro``)."""
    from autoopt.nas import NasConfig  # a stage config, validated with the rest of the spec

    cfg = _collect(errors, NasConfig.from_spec, spec.nas)
    if cfg is None:
        return spec
    try:
        name = arch_spaces.get(cfg.space, key="nas.space").name
    except InvalidSpecError as e:
        errors.extend(e.errors or [str(e)])
        return spec
    if "model" in spec.model_fields_set and spec.model.name != name:
        errors.append(
            f"model.name: {spec.model.name!r} conflicts with nas.space {name!r}; with a nas: section the "
            "model is the architecture space (drop model: or set model.name to the space)"
        )
        return spec
    for key in spec.search.space:
        if str(key).startswith("model."):
            errors.append(
                f"search.space.{key}: with a nas: section the model's decisions come from nas.space "
                f"({name}); search training.* here and narrow the architecture with nas.limits"
            )
    return spec.model_copy(update={"model": spec.model.model_copy(update={"name": name})})


def _takes_any(spec: Spec) -> bool:
    """User builders with ``**kwargs`` accept any parameter."""
    try:
        check_model_params(spec.model.name, {"__autoopt_probe__": 1})
        return True
    except InvalidSpecError:
        return False
