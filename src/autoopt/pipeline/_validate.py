"""Every check of a spec, before anything runs: all problems listed at once, each with its key path."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from autoopt._validation import validation_errors
from autoopt.data import DatasetMeta
from autoopt.distill import SEARCHABLE as DISTILL_SEARCHABLE
from autoopt.distill import DistillConfig, DistillParams, training_config
from autoopt.exceptions import AutoOptError, InvalidSpecError
from autoopt.io import path_problem
from autoopt.metrics import list_metrics
from autoopt.models import check_model_params, default_point, default_space, model_params
from autoopt.models.arch._common import arch_spaces
from autoopt.nas import NasConfig
from autoopt.pipeline._config import RunConfig
from autoopt.schedulers import schedulers
from autoopt.search import STATIC_METRICS, parse_constraints
from autoopt.space import Float, Int, Space
from autoopt.spec import Spec, TransferSpec, read_spec
from autoopt.strategies import strategies
from autoopt.training import TrainConfig

__all__ = ["load_config", "load_spec", "SECTIONS", "split_params"]

SECTIONS = ("model", "training", "transfer", "distill")


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


def load_config(
    source: str | Path | Mapping[str, Any],
    *,
    check_files: bool = True,
    distill_command: bool = False,
    **overrides: Any,
) -> RunConfig:
    """Read a spec once and check everything a run will need, listing every problem at once.

    This is the one place a spec is parsed and validated: each section by its own validator (the
    stage's config class), the cross-section rules here. The stages receive the typed sections.

    Args:
        source: a YAML path or a mapping.
        check_files: also check that files the spec names (a transfer checkpoint, a teacher) exist.
        distill_command: the spec is for ``autoopt distill`` (a teacher is required, the student
            trains from scratch) instead of ``autoopt run``/``tune`` (the teacher defaults to the run's
            searched model).
        **overrides: ``search.*`` values from the command line (``trials``, ``timeout``, ``jobs``,
            ``strategy``, ``scheduler``) and ``seed``; ``None`` values are ignored.

    Raises:
        InvalidSpecError: one line per problem, e.g. ``search.space.model.widht: model 'cnn' has no
            parameter 'widht'; expected one of: ...``.
    """
    search_over = {k: v for k, v in overrides.items() if v is not None and k != "seed"}
    top = {"seed": overrides["seed"]} if overrides.get("seed") is not None else {}
    spec = read_spec(source, {**top, **({"search": search_over} if search_over else {})})

    errors: list[str] = []
    nas = None
    if spec.nas is not None:
        spec, nas = _nas_model(spec, errors)
    if not distill_command:  # `autoopt distill` searches only what its spec lists
        spec = _with_default_space(spec, errors, check_files)
    training = _collect(errors, TrainConfig, **{"seed": spec.seed, **spec.training})
    space = _collect(errors, Space.from_dict, spec.search.space, key="search.space")
    distill = None
    if spec.distill is not None:
        # In `autoopt run` the teacher defaults to the run's own searched model (its run directory).
        section = spec.distill if distill_command else {"teacher": RUN_TEACHER, **spec.distill}
        distill = _collect(errors, DistillConfig.from_spec, section)
    elif distill_command:
        _collect(errors, DistillConfig.from_spec, None)
    _check_space_names(spec, space, distill, distill_command, errors)
    if distill is not None:
        _check_distill(spec, distill, check_files, errors)
    if distill_command and spec.transfer is not None:
        errors.append(
            "transfer: autoopt distill trains the student from scratch; remove the transfer section"
        )
    compress = None
    if spec.compress is not None:
        from autoopt.compress import PlanConfig  # a stage config, validated with the rest of the spec

        compress = _collect(errors, PlanConfig.from_spec, spec.compress)
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
        raise InvalidSpecError(errors=list(dict.fromkeys(errors)))  # one line per problem, in order
    return RunConfig(spec=spec, training=training, nas=nas, distill=distill, compress=compress)


def load_spec(source: str | Path | Mapping[str, Any], *, check_files: bool = True, **overrides: Any) -> Spec:
    """The validated :class:`~autoopt.spec.Spec` of :func:`load_config` (its ground-floor sections)."""
    return load_config(source, check_files=check_files, **overrides).spec


#: the teacher of ``distill:`` in ``autoopt run`` until the run directory is known.
RUN_TEACHER = "<this run>"


def _check_space_names(
    spec: Spec, space: Space | None, distill: DistillConfig | None, distill_command: bool, errors: list[str]
) -> None:
    """Every searched name: ``<section>.<key>`` with a key its section accepts."""
    if space is None:
        return
    accepted_model = _collect(errors, model_params, spec.model.name)
    searched: dict[str, set[str]] = {s: set() for s in SECTIONS}
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
        elif section == "training":
            _check_range(where, section, key, space[name], errors)
        elif section == "distill":
            if spec.distill is None:
                errors.append(f"{where}: 'distill.*' is searched only with a distill: section; add one")
            elif key not in DISTILL_SEARCHABLE:
                errors.append(
                    f"{where}: 'distill' searches one of: {', '.join(DISTILL_SEARCHABLE)}; got {key!r}"
                )
            else:
                _check_range(where, section, key, space[name], errors)
        elif section == "transfer" and distill_command:
            errors.append(f"{where}: autoopt distill does not use transfer; search distill.* or training.*")
        elif section == "transfer" and key not in ("freeze", "backbone_lr_mult"):
            errors.append(
                f"{where}: 'transfer' has no field {key!r}; expected one of: freeze, backbone_lr_mult"
            )
        elif section == "transfer":
            _check_range(where, section, key, space[name], errors)
        elif section == "model" and distill is not None and distill.student is not None and distill_command:
            errors.append(
                f"{where}: model.* searches the spec's model:, but the student is distill.student; "
                "move the student to model: to search its parameters"
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


def _searched_values(param: Any) -> list[Any]:
    """What a search may try for a parameter: a range's ends, every choice."""
    if isinstance(param, (Float, Int)):
        return [param.low, param.high]
    if hasattr(param, "choices"):
        return list(param.choices)
    return [getattr(param, "value", None)]


def _validate_transfer(**values: Any) -> TransferSpec:
    try:
        return TransferSpec.model_validate({"checkpoint": ".", **values})
    except ValidationError as exc:
        raise InvalidSpecError(errors=validation_errors(exc, "transfer", TransferSpec)) from None


#: the validator of each section whose keys ``search.space`` may search (the section's own rules).
_SECTION_VALIDATORS: dict[str, Callable[..., Any]] = {
    "training": TrainConfig,
    "distill": DistillParams,
    "transfer": _validate_transfer,
}


def _check_range(where: str, section: str, key: str, param: Any, errors: list[str]) -> None:
    """Every value a search may try for ``<section>.<key>`` passes that section's own validator, so a
    bad range is reported with the spec (``search.space.training.lr: must be > 0.0; got 0``), not by a
    failed trial."""
    for value in _searched_values(param):
        try:
            _SECTION_VALIDATORS[section](**{key: value})
        except InvalidSpecError as exc:
            errors.extend(f"{where}: {line.partition(': ')[2]}" for line in exc.errors)
        except (TypeError, ValueError) as exc:  # a choice pydantic cannot read as the key's type
            errors.append(f"{where}: {exc}")


def _check_distill(spec: Spec, cfg: DistillConfig, check_files: bool, errors: list[str]) -> None:
    """The student, the teacher and the training overrides of a ``distill:`` section."""
    if cfg.student is not None:
        _collect(
            errors, check_model_params, cfg.student.name, cfg.student.params, key="distill.student.params"
        )
    t = cfg.teacher
    key = "distill.teacher"
    if t.run_dir is not None and str(t.run_dir) != RUN_TEACHER and check_files:
        best = t.run_dir / "best"
        missing = [f"best/{n}" for n in ("model.safetensors", "params.yaml") if not (best / n).is_file()]
        if missing:
            errors.append(
                f"{key}.run_dir: {str(t.run_dir)!r} is not a finished tune run ({', '.join(missing)} "
                "missing); run 'autoopt tune' first, or give teacher: {checkpoint, model}"
            )
    if t.checkpoint is not None and check_files and not t.checkpoint.is_file():
        errors.append(f"{key}.checkpoint: file {str(t.checkpoint)!r} does not exist")
    if t.model is not None:
        _collect(errors, check_model_params, t.model.name, t.model.params, key=f"{key}.model.params")
    base = {"seed": spec.seed, **spec.training}
    if t.source == "train":
        _collect(errors, training_config, base, t.training, f"{key}.training")
    _collect(errors, training_config, base, cfg.training, "distill.training")


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


def _nas_model(spec: Spec, errors: list[str]) -> tuple[Spec, NasConfig | None]:
    """With a ``nas:`` section the model is its architecture space (``model.name: nas-macro``)."""
    cfg = _collect(errors, NasConfig.from_spec, spec.nas)
    if cfg is None:
        return spec, None
    try:
        name = arch_spaces.get(cfg.space, key="nas.space").name
    except InvalidSpecError as e:
        errors.extend(e.errors or [str(e)])
        return spec, None
    if "model" in spec.model_fields_set and spec.model.name != name:
        errors.append(
            f"model.name: {spec.model.name!r} conflicts with nas.space {name!r}; with a nas: section the "
            "model is the architecture space (drop model: or set model.name to the space)"
        )
        return spec, cfg
    for key in spec.search.space:
        if str(key).startswith("model."):
            errors.append(
                f"search.space.{key}: with a nas: section the model's decisions come from nas.space "
                f"({name}); search training.* here and narrow the architecture with nas.limits"
            )
    return spec.model_copy(update={"model": spec.model.model_copy(update={"name": name})}), cfg


def _takes_any(spec: Spec) -> bool:
    """User builders with ``**kwargs`` accept any parameter."""
    try:
        check_model_params(spec.model.name, {"__autoopt_probe__": 1})
        return True
    except InvalidSpecError:
        return False
