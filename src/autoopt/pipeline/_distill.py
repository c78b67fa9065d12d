"""``autoopt distill SPEC.yaml``: train a small student from a teacher's soft targets.

Stages: data -> teacher (a tune run's best model, a checkpoint, or trained here first) -> student
trained with :func:`autoopt.distill.distill` (optionally a search over ``distill.alpha`` /
``distill.temperature`` / ``training.*``) -> test metrics of the student, the teacher and (with
``distill.compare_baseline``) the same student trained alone, written to ``RUN_DIR/distill/``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from autoopt.data import DataBundle, load_data
from autoopt.distill import (
    DistillConfig,
    TeacherModel,
    distill,
    load_teacher,
    load_teacher_run,
    training_config,
)
from autoopt.exceptions import AutoOptError, InvalidSpecError
from autoopt.io import write_json, write_yaml
from autoopt.models import build_model, count_macs, count_params, load_checkpoint
from autoopt.pipeline._config import RunConfig
from autoopt.pipeline._tune_spec import best_row, run_search
from autoopt.pipeline._validate import load_config, split_params
from autoopt.search import Progress, TuneResult
from autoopt.search.training import default_threads, training_objective
from autoopt.space import Space
from autoopt.spec import ModelSpec
from autoopt.training import FitResult, TrainConfig, evaluate_model, fit

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

    spec: RunConfig
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


def check_distill_spec(
    source: str | Path | Mapping[str, Any], *, check_files: bool = True, **overrides: Any
) -> tuple[RunConfig, DistillConfig]:
    """Read a distill spec once and check everything the run will need, listing every problem at once.

    :func:`autoopt.pipeline.load_config` with the rules of ``autoopt distill``: a teacher is required,
    the student trains from scratch (no ``transfer:``).

    Args:
        source: a YAML path or a mapping.
        check_files: also check that the teacher's run dir or checkpoint exists.
        **overrides: ``trials``, ``timeout``, ``jobs``, ``strategy``, ``scheduler``, ``seed``.

    Returns:
        The validated config and its ``distill:`` section.

    Raises:
        InvalidSpecError: one line per problem, e.g. ``distill.alpha: must be <= 1.0; got 1.5``.
    """
    config = load_config(source, check_files=check_files, distill_command=True, **overrides)
    return config, cast(DistillConfig, config.distill)


# -- running -------------------------------------------------------------------------------------


def _student_spec(spec: RunConfig, cfg: DistillConfig) -> ModelSpec:
    return cfg.student if cfg.student is not None else spec.model


def _build_student(
    spec: RunConfig, cfg: DistillConfig, searched: Mapping[str, Any], data: DataBundle
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


def _teacher(spec: RunConfig, cfg: DistillConfig, data: DataBundle, stage: Path) -> TeacherModel:
    """Load the teacher, or train it (reusing ``stage/teacher`` when the same teacher was trained before)."""
    t = cfg.teacher
    if t.run_dir is not None:
        return load_teacher_run(t.run_dir, data.meta)
    if t.model is None:  # TeacherSpec guarantees a model for the checkpoint and train forms
        raise InvalidSpecError("distill.teacher: give run_dir, checkpoint with model, or model")
    if t.checkpoint is not None:
        return load_teacher(t.model.name, dict(t.model.params), t.checkpoint, data.meta)
    tcfg = training_config(
        spec.training.model_dump(exclude_unset=True), t.training, "distill.teacher.training"
    )
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
    spec: RunConfig, cfg: DistillConfig, data: DataBundle, teacher: nn.Module, stage: Path, threads: int
) -> Any:
    """The search's objective (:func:`autoopt.search.training.training_objective`), by distillation."""

    def train(
        student: nn.Module, data: DataBundle, config: TrainConfig, params: Any, reporter: Any, out_dir: Path
    ) -> FitResult:
        weights = {**cfg.params().model_dump(), **split_params(params)["distill"]}
        return distill(
            student, teacher, data, config, **weights, cache_teacher=cfg.cache_teacher, reporter=reporter,
            out_dir=out_dir,
        ).fit  # fmt: skip

    return training_objective(
        data,
        build=lambda params: _build_student(spec, cfg, split_params(params)["model"], data),
        train_config=lambda params: spec.train_config({**cfg.training, **split_params(params)["training"]}),
        metrics=[o.metric for o in spec.search.objectives],
        trials_dir=stage / "trials",
        threads=threads,
        train=train,
    )


def _search(
    spec: RunConfig,
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
    path: str | Path | Mapping[str, Any] | RunConfig,
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
        path: the spec YAML (or a mapping), or its :class:`RunConfig` (validated once; ``autoopt run``
            passes its own, whose teacher is the run's searched model).
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
    if isinstance(path, RunConfig):
        spec, cfg = path, cast(DistillConfig, path.distill)
    else:
        spec, cfg = check_distill_spec(path, **overrides)
    run_dir = Path(out) if out is not None else Path("runs") / spec.name
    stage = run_dir / STAGE
    stage.mkdir(parents=True, exist_ok=True)
    resolved = spec.spec.model_dump(mode="json")
    write_yaml(stage / "spec.yaml", resolved)
    if not (run_dir / "spec.yaml").exists():  # never overwrite the spec of a tune run sharing the folder
        write_yaml(run_dir / "spec.yaml", resolved)
    threads = default_threads(spec.threads, spec.search.jobs)
    torch.set_num_threads(threads)

    data = load_data(spec.data)
    teacher = _teacher(spec, cfg, data, stage)
    train_base = spec.train_config(cfg.training)
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
            train_base,
            **cfg.params().model_dump(),
            cache_teacher=cfg.cache_teacher,
            out_dir=stage,
        )
        best = {f"val_{k}": v for k, v in res.fit.val_metrics.items()}
        best["epochs"] = res.fit.epochs_run

    sections = split_params({k: v for k, v in best.items() if k.partition(".")[0] in _SECTIONS and "." in k})
    weights = {**cfg.params().model_dump(), **sections["distill"]}
    train = spec.train_config({**cfg.training, **sections["training"]})
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
        "training": {**spec.fixed_training, **cfg.training, **sections["training"]},
        "distill": weights,
        "teacher": teacher.describe(),
    }
    if "trial" in best:
        params["trial"] = best["trial"]
    write_yaml(stage / "params.yaml", params)
    write_json(stage / "metrics.json", metrics)
    return DistillSpecResult(spec, cfg, run_dir, stage, metrics, params, search)
