"""``autoopt distill SPEC.yaml``: train a small student from a teacher's soft targets.

Stages: data -> teacher (a tune run's best model, a checkpoint, or trained here first) -> student
trained with :func:`autoopt.distill.distill` (optionally a search over ``distill.alpha`` /
``distill.temperature`` / ``training.*``) -> test metrics of the student, the teacher and (with
``distill.compare_baseline``) the same student trained alone, written to ``RUN_DIR/distill/``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from autoopt.data import DataBundle, load_data
from autoopt.distill import (
    SEARCHABLE,
    DistillConfig,
    DistillParams,
    TeacherModel,
    distill,
    load_teacher,
    load_teacher_run,
    training_config,
)
from autoopt.exceptions import AutoOptError, InvalidSpecError
from autoopt.io import write_json, write_yaml
from autoopt.models import build_model, check_model_params, count_macs, count_params, load_checkpoint
from autoopt.pipeline._tune_spec import best_row, run_search
from autoopt.pipeline._validate import STATIC_METRICS, _collect, load_spec, split_params
from autoopt.search import Progress, TuneResult
from autoopt.space import Float, Int, Space
from autoopt.spec import ModelSpec, Spec, read_spec
from autoopt.training import TrainConfig, evaluate_model, fit

__all__ = ["DistillSpecResult", "check_distill_spec", "distill_spec", "STAGE"]

#: the stage's folder inside the run directory.
STAGE = "distill"
_SECTIONS = ("distill", "training", "model")


@dataclass
class DistillSpecResult:
    """What :func:`distill_spec` produced.

    Attributes:
        spec: the validated spec.
        config: its ``distill:`` section.
        run_dir: the run directory.
        stage_dir: ``RUN_DIR/distill`` (``model.safetensors``, ``metrics.json``, ``params.yaml``).
        metrics: flat metrics: ``test_*``/``val_*`` of the student, ``teacher_test_*``,
            ``baseline_test_*`` (with ``compare_baseline``), ``params``, ``teacher_params``, ...
        params: the distillation weights and training values used (searched ones included).
        search: the search over ``distill.*``/``training.*``, when the spec has one.
    """

    spec: Spec
    config: DistillConfig
    run_dir: Path
    stage_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    search: TuneResult | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One row per model (teacher, student, baseline): ``model``, ``params``, test accuracy and errors."""
        out = []
        for label, prefix in (("teacher", "teacher_"), ("student (KD)", ""), ("student alone", "baseline_")):
            if f"{prefix}test_accuracy" not in self.metrics:
                continue
            out.append(
                {
                    "model": label,
                    "params": self.metrics.get(f"{prefix}params"),
                    "test_accuracy": self.metrics[f"{prefix}test_accuracy"],
                    "test_errors": self.metrics.get(f"{prefix}test_errors"),
                }
            )
        return out


# -- validation ----------------------------------------------------------------------------------


def _endpoints(param: Any) -> list[Any]:
    if isinstance(param, (Float, Int)):
        return [param.low, param.high]
    if hasattr(param, "choices"):
        return list(param.choices)
    return [getattr(param, "value", None)]


def _check_space(space: Space, cfg: DistillConfig | None, errors: list[str]) -> None:
    """``distill.*`` names must be searchable and their ranges valid; ``model.*`` needs the spec's model."""
    for name in space.names:
        section, _, key = name.partition(".")
        where = f"search.space.{name}"
        if section == "transfer":
            errors.append(f"{where}: autoopt distill does not use transfer; search distill.* or training.*")
        elif section == "model" and cfg is not None and cfg.student is not None:
            errors.append(
                f"{where}: model.* searches the spec's model:, but the student is distill.student; "
                "move the student to model: to search its parameters"
            )
        elif section == "distill":
            if key not in SEARCHABLE:
                errors.append(f"{where}: 'distill' searches one of: {', '.join(SEARCHABLE)}; got {key!r}")
                continue
            for value in _endpoints(space[name]):
                try:
                    DistillParams(**{key: value})
                except InvalidSpecError as exc:
                    for line in exc.errors:
                        errors.append(f"{where}: {line.partition(': ')[2]}")
                except (TypeError, ValueError) as exc:  # a choice pydantic cannot read as a float
                    errors.append(f"{where}: {exc}")


def _check_teacher(cfg: DistillConfig, spec: Spec, check_files: bool, errors: list[str]) -> None:
    t = cfg.teacher
    key = "distill.teacher"
    if t.run_dir is not None and check_files:
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
    if t.source == "train":
        _collect(errors, training_config, {"seed": spec.seed, **spec.training}, t.training, f"{key}.training")


def check_distill_spec(
    source: str | Path | Mapping[str, Any], *, check_files: bool = True, **overrides: Any
) -> tuple[Spec, DistillConfig]:
    """Read a distill spec and check everything the run will need, listing every problem at once.

    The spec's other sections are checked by :func:`autoopt.pipeline.load_spec` (with the ``distill.*``
    entries of ``search.space`` set aside); the ``distill:`` section by :class:`DistillConfig`; then the
    student and teacher models, the training overrides and the searched ``distill.*`` ranges.

    Args:
        source: a YAML path or a mapping.
        check_files: also check that the teacher's run dir or checkpoint exists.
        **overrides: ``trials``, ``timeout``, ``jobs``, ``strategy``, ``scheduler``, ``seed``.

    Returns:
        The spec (``search.space`` whole) and its ``distill:`` section.

    Raises:
        InvalidSpecError: one line per problem, e.g. ``distill.alpha: Input should be less than or
            equal to 1 (got 1.5)``.
    """
    raw = read_spec(source)
    space_dict = dict(raw.search.space) if isinstance(raw.search.space, Mapping) else {}
    others = {k: v for k, v in space_dict.items() if not k.startswith("distill.")}
    errors: list[str] = []
    base = {**raw.model_dump(mode="python"), "search": {**raw.search.model_dump(), "space": others}}
    spec = _collect(errors, load_spec, base, check_files=check_files, **overrides)
    cfg = _collect(errors, DistillConfig.from_spec, raw.distill)
    if raw.transfer is not None:
        errors.append(
            "transfer: autoopt distill trains the student from scratch; remove the transfer section"
        )
    space = _collect(errors, Space.from_dict, space_dict, key="search.space")
    if space is not None:
        _check_space(space, cfg, errors)
    if cfg is not None:
        if cfg.student is not None:
            _collect(
                errors, check_model_params, cfg.student.name, cfg.student.params, key="distill.student.params"
            )
        _check_teacher(cfg, raw, check_files, errors)
        _collect(
            errors, training_config, {"seed": raw.seed, **raw.training}, cfg.training, "distill.training"
        )
    if errors:
        raise InvalidSpecError(errors=list(dict.fromkeys(errors)))  # one line per problem, in order
    spec = cast(Spec, spec).model_copy(
        update={"search": spec.search.model_copy(update={"space": space_dict})}
    )
    return spec, cast(DistillConfig, cfg)


# -- running -------------------------------------------------------------------------------------


def _student_spec(spec: Spec, cfg: DistillConfig) -> ModelSpec:
    return cfg.student if cfg.student is not None else spec.model


def _build_student(
    spec: Spec, cfg: DistillConfig, searched: Mapping[str, Any], data: DataBundle
) -> nn.Module:
    student = _student_spec(spec, cfg)
    key = "distill.student.params" if cfg.student is not None else "model.params"
    torch.manual_seed(spec.seed)  # the distilled student and the baseline start from the same weights
    return build_model(student.name, {**student.params, **searched}, data.meta, key=key)


def _errors_of(accuracy: float, n: int) -> int:
    return round((1.0 - accuracy) * n)


def _test(model: nn.Module, data: DataBundle, cfg: TrainConfig, prefix: str) -> dict[str, Any]:
    test = evaluate_model(
        model, data.test, batch_size=2 * cfg.batch_size, device=cfg.device, task=data.meta.task
    )
    out: dict[str, Any] = {f"{prefix}test_{k}": v for k, v in test.items()}
    out[f"{prefix}test_errors"] = _errors_of(test["accuracy"], len(data.test))  # type: ignore[arg-type]
    out[f"{prefix}params"] = count_params(model)
    return out


def _teacher(spec: Spec, cfg: DistillConfig, data: DataBundle, stage: Path) -> TeacherModel:
    """Load the teacher, or train it (reusing ``stage/teacher`` when the same teacher was trained before)."""
    t = cfg.teacher
    if t.run_dir is not None:
        return load_teacher_run(t.run_dir, data.meta)
    if t.model is None:  # TeacherSpec guarantees a model for the checkpoint and train forms
        raise InvalidSpecError("distill.teacher: give run_dir, checkpoint with model, or model")
    if t.checkpoint is not None:
        return load_teacher(t.model.name, dict(t.model.params), t.checkpoint, data.meta)
    tcfg = training_config({"seed": spec.seed, **spec.training}, t.training, "distill.teacher.training")
    folder = stage / "teacher"
    recipe = {
        "model": t.model.name,
        "params": t.model.params,
        "training": tcfg.model_dump(mode="json"),
        "data": spec.data.model_dump(mode="json"),
        "seed": spec.seed,
    }
    ckpt, recipe_file = folder / "model.safetensors", folder / "teacher.json"
    if (
        ckpt.is_file()
        and recipe_file.is_file()
        and json.loads(recipe_file.read_text()) == json.loads(json.dumps(recipe, default=str))
    ):
        return load_teacher(t.model.name, dict(t.model.params), ckpt, data.meta, source="trained")
    torch.manual_seed(spec.seed)
    model = build_model(t.model.name, t.model.params, data.meta, key="distill.teacher.model.params")
    fit(model, data, tcfg, out_dir=folder)
    write_json(recipe_file, recipe)
    return TeacherModel(model.eval(), t.model.name, dict(t.model.params), "trained")


def _objective(
    spec: Spec, cfg: DistillConfig, data: DataBundle, teacher: nn.Module, stage: Path, threads: int
) -> Any:
    objectives = spec.search.objectives

    def objective(params: dict[str, Any], report: Any) -> dict[str, Any]:
        torch.set_num_threads(threads)
        sections = split_params(params)
        weights = {**cfg.params().model_dump(), **sections["distill"]}
        train = TrainConfig(**{"seed": spec.seed, **spec.training, **cfg.training, **sections["training"]})
        student = _build_student(spec, cfg, sections["model"], data)
        static = {"params": count_params(student), "macs": count_macs(student, data.meta.input_shape)}

        def per_epoch(value: float, epoch: int) -> None:
            vector = [static[o.metric] if o.metric in STATIC_METRICS else value for o in objectives]
            report(vector if len(vector) > 1 else vector[0], epoch)

        res = distill(
            student,
            teacher,
            data,
            train,
            **weights,
            cache_teacher=cfg.cache_teacher,
            reporter=per_epoch,
            out_dir=stage / "trials" / str(report.trial.number),
        )
        metrics: dict[str, Any] = {f"val_{k}": v for k, v in res.fit.val_metrics.items()}
        metrics.update(static, epochs=res.fit.epochs_run)
        return metrics

    return objective


def _search(
    spec: Spec,
    cfg: DistillConfig,
    data: DataBundle,
    teacher: nn.Module,
    stage: Path,
    threads: int,
    storage: str | None,
    progress: Progress | None,
) -> tuple[TuneResult, dict[str, Any] | None]:
    s = spec.search
    result = run_search(
        _objective(spec, cfg, data, teacher, stage, threads),
        spec,
        storage=storage or s.storage or str(stage / "study.db"),
        study_name=f"{spec.name}-distill",
        progress=progress,
    )
    best = best_row(result)
    if best is None:
        return result, None
    ckpt = stage / "trials" / str(best.number) / "model.safetensors"
    if not ckpt.exists():
        raise AutoOptError(f"trial {best.number}'s checkpoint {ckpt} is missing; rerun autoopt distill")
    shutil.copyfile(ckpt, stage / "model.safetensors")
    return result, {**Space.from_dict(s.space).complete(best.params), "trial": best.number, **best.metrics}  # type: ignore[arg-type]


def distill_spec(
    path: str | Path | Mapping[str, Any],
    *,
    out: str | Path | None = None,
    progress: Progress | None = None,
    storage: str | None = None,
    **overrides: Any,
) -> DistillSpecResult:
    """Distill a teacher into a student as a spec describes; write ``RUN_DIR/distill/``.

    Without ``distill.*`` / ``training.*`` / ``model.*`` entries in ``search.space`` the student is
    trained once; with them, a search (``search.*`` settings, ``RUN_DIR/distill/study.db``) picks them
    on the validation metric and its best trial's student is kept.

    Args:
        path: the spec YAML (or a mapping).
        out: the run directory (default ``runs/<spec.name>``).
        progress: a progress display for the search.
        storage: a storage URL for the search (default ``RUN_DIR/distill/study.db``).
        **overrides: ``trials``, ``timeout``, ``jobs``, ``strategy``, ``scheduler``, ``seed``.

    Returns:
        A :class:`DistillSpecResult`. ``RUN_DIR/distill/`` holds ``model.safetensors`` (the student),
        ``metrics.json`` (flat: ``test_accuracy``, ``test_errors``, ``teacher_test_accuracy``,
        ``baseline_test_accuracy``, ``params``, ...), ``params.yaml`` (``model``, ``model_params``,
        ``training``, ``distill``, ``teacher``) and ``spec.yaml``; ``teacher/`` and ``baseline/``
        hold those models' checkpoints and histories when they were trained here.

    Raises:
        InvalidSpecError: the spec is invalid (every problem listed), or the teacher does not fit the data.

    Example:
        >>> result = distill_spec("examples/digits_distill.yaml", out="runs/kd")  # doctest: +SKIP
        >>> result.metrics["test_accuracy"], result.metrics["teacher_test_accuracy"]  # doctest: +SKIP
    """
    spec, cfg = check_distill_spec(path, **overrides)
    run_dir = Path(out) if out is not None else Path("runs") / spec.name
    stage = run_dir / STAGE
    stage.mkdir(parents=True, exist_ok=True)
    resolved = spec.model_dump(mode="json")
    write_yaml(stage / "spec.yaml", resolved)
    if not (run_dir / "spec.yaml").exists():  # never overwrite the spec of a tune run sharing the folder
        write_yaml(run_dir / "spec.yaml", resolved)
    threads = spec.threads or max(1, (os.cpu_count() or 1) // spec.search.jobs)
    torch.set_num_threads(threads)

    data = load_data(spec.data)
    teacher = _teacher(spec, cfg, data, stage)
    train_base = {"seed": spec.seed, **spec.training, **cfg.training}
    searched = Space.from_dict(spec.search.space).names  # type: ignore[arg-type]
    search: TuneResult | None = None
    if searched:
        search, best = _search(spec, cfg, data, teacher.model, stage, threads, storage, progress)
        if best is None:
            return DistillSpecResult(spec, cfg, run_dir, stage, search=search)
    else:
        res = distill(
            _build_student(spec, cfg, {}, data),
            teacher.model,
            data,
            TrainConfig(**train_base),
            **cfg.params().model_dump(),
            cache_teacher=cfg.cache_teacher,
            out_dir=stage,
        )
        best = {f"val_{k}": v for k, v in res.fit.val_metrics.items()}
        best["epochs"] = res.fit.epochs_run

    sections = split_params({k: v for k, v in best.items() if k.partition(".")[0] in _SECTIONS and "." in k})
    weights = {**cfg.params().model_dump(), **sections["distill"]}
    train = TrainConfig(**{**train_base, **sections["training"]})
    student = _build_student(spec, cfg, sections["model"], data)
    load_checkpoint(student, stage / "model.safetensors", strict_head=True)

    metrics = _test(student, data, train, "")
    metrics.update({k: v for k, v in best.items() if k.startswith("val_") or k in ("epochs", "trial")})
    metrics["macs"] = count_macs(student, data.meta.input_shape)
    metrics.update(_test(teacher.model, data, train, "teacher_"))
    if cfg.compare_baseline:
        alone = _build_student(spec, cfg, sections["model"], data)
        base = fit(alone, data, train, out_dir=stage / "baseline")
        metrics.update(_test(alone, data, train, "baseline_"))
        metrics.update({f"baseline_val_{k}": v for k, v in base.val_metrics.items()})
    student_spec = _student_spec(spec, cfg)
    metrics.update(weights, model=student_spec.name, teacher_model=teacher.name, dataset=data.meta.name)
    params = {
        "model": student_spec.name,
        "model_params": {**student_spec.params, **sections["model"]},
        "training": {**spec.training, **cfg.training, **sections["training"]},
        "distill": weights,
        "teacher": teacher.describe(),
    }
    if "trial" in best:
        params["trial"] = best["trial"]
    write_yaml(stage / "params.yaml", params)
    write_json(stage / "metrics.json", metrics)
    return DistillSpecResult(spec, cfg, run_dir, stage, metrics, params, search)
