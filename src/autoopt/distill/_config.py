"""``DistillConfig``: the spec's ``distill:`` section, validated up front with ``distill.<key>`` errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autoopt._validation import validation_errors
from autoopt.exceptions import InvalidSpecError
from autoopt.spec import ModelSpec
from autoopt.training import TrainConfig

__all__ = ["DistillParams", "DistillConfig", "TeacherSpec", "SEARCHABLE", "training_config"]

#: ``distill.*`` keys a ``search.space`` may search.
SEARCHABLE = ("alpha", "temperature", "feature_weight")


class DistillParams(BaseModel):
    """The loss weights of distillation (the searchable part of ``distill:``).

    Attributes:
        alpha: weight of the soft-target (teacher) term in ``[0, 1]``; ``1 - alpha`` weighs the
            cross-entropy with the labels. ``0`` trains the student alone.
        temperature: softmax temperature ``T > 0`` of the soft targets (the term is scaled by ``T^2``).
        feature_weight: weight ``beta >= 0`` of the FitNets-style feature hint (MSE between a learned
            projection of the student's ``forward_features`` and the teacher's); ``0`` = off.

    Example:
        >>> DistillParams(alpha=0.5, temperature=8).feature_weight
        0.0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(0.9, ge=0, le=1)
    temperature: float = Field(4.0, gt=0)
    feature_weight: float = Field(0.0, ge=0)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidSpecError(errors=validation_errors(exc, "distill", type(self))) from None


class TeacherSpec(BaseModel):
    """``distill.teacher``: where the teacher comes from. Exactly one of three forms:

    - ``run_dir`` (or the plain string ``teacher: runs/NAME``): the best model of an
      ``autoopt tune`` run (``RUN_DIR/best/model.safetensors`` with ``best/params.yaml``);
    - ``checkpoint`` with ``model``: a safetensors (or weights-only ``.pt``) file and the model
      ``{name, params}`` it belongs to;
    - ``model`` alone (with optional ``training`` overrides of the spec's ``training:``): the teacher
      is trained first, on the spec's data.

    Attributes:
        run_dir: an ``autoopt tune`` run directory whose ``best/`` model is the teacher.
        checkpoint: a safetensors (or weights-only ``.pt``) file of the teacher; needs ``model``.
        model: the teacher's ``{name, params}``: rebuilt for ``checkpoint``, or trained first alone.
        training: overrides of the spec's ``training:`` for a teacher trained first.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_dir: Path | None = None
    checkpoint: Path | None = None
    model: ModelSpec | None = None
    training: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, (str, Path)):
            return {"run_dir": value}
        return value

    @model_validator(mode="after")
    def _one_source(self) -> TeacherSpec:
        forms = (
            "give one of: run_dir (a tune run), checkpoint with model {name, params}, "
            "or model {name, params} (trained first)"
        )
        if self.run_dir is not None and (self.checkpoint is not None or self.model is not None):
            raise ValueError(f"run_dir names the whole teacher; do not add checkpoint or model; {forms}")
        if self.checkpoint is not None and self.model is None:
            raise ValueError(f"checkpoint needs model: {{name, params}} to rebuild the network; {forms}")
        if self.run_dir is None and self.model is None:
            raise ValueError(f"no teacher given; {forms}")
        if self.training and self.source != "train":
            raise ValueError("training only applies to a teacher trained here (model without checkpoint)")
        return self

    @property
    def source(self) -> str:
        """``"run_dir"``, ``"checkpoint"`` or ``"train"``."""
        if self.run_dir is not None:
            return "run_dir"
        return "checkpoint" if self.checkpoint is not None else "train"


class DistillConfig(DistillParams):
    """The ``distill:`` section of a spec.

    Attributes:
        teacher: a :class:`TeacherSpec` (a tune run dir, a checkpoint with its model, or a model to
            train first).
        student: ``{name, params}`` like the spec's ``model:``; ``None`` = the spec's ``model:``.
        training: overrides of the spec's ``training:`` for the student.
        compare_baseline: also train the same student without a teacher (same seed and training)
            and record its test metrics next to the distilled student's.
        cache_teacher: compute the teacher's outputs once over the training split when it is held
            in memory without augmentation (otherwise the teacher runs on every batch).

    Raises:
        InvalidSpecError: every invalid key, named ``distill.<key>``.

    Example:
        >>> cfg = DistillConfig(teacher="runs/digits_cnn", student={"name": "mlp"}, temperature=8)
        >>> cfg.teacher.source, cfg.alpha
        ('run_dir', 0.9)
    """

    teacher: TeacherSpec
    student: ModelSpec | None = None
    training: dict[str, Any] = Field(default_factory=dict)
    compare_baseline: bool = False
    cache_teacher: bool = True

    @classmethod
    def from_spec(cls, section: Any) -> DistillConfig:
        """Validate a spec's ``distill:`` mapping.

        Args:
            section: the mapping (``None`` when the spec has no ``distill:`` section).

        Raises:
            InvalidSpecError: the section is missing or invalid; one line per problem.
        """
        if section is None:
            raise InvalidSpecError(
                "distill: the spec has no distill section; add one with at least a teacher "
                "(distill: {teacher: runs/NAME})"
            )
        if not isinstance(section, Mapping):
            raise InvalidSpecError(f"distill: expected a mapping; got {type(section).__name__}")
        return cls(**dict(section))

    def params(self) -> DistillParams:
        """The loss weights alone."""
        return DistillParams(
            alpha=self.alpha, temperature=self.temperature, feature_weight=self.feature_weight
        )


def training_config(base: Mapping[str, Any], overrides: Mapping[str, Any], key: str) -> TrainConfig:
    """``TrainConfig(**base, **overrides)`` whose errors about an override name it under ``key``.

    Args:
        base: the spec's ``training:`` (errors keep the ``training.`` prefix).
        overrides: e.g. ``distill.training``.
        key: the spec key of ``overrides`` (``distill.training``).

    Raises:
        InvalidSpecError: an invalid value, one line per problem.
    """
    try:
        return TrainConfig(**{**base, **overrides})
    except InvalidSpecError as exc:
        lines = []
        for line in exc.errors or [str(exc)]:
            field = line.partition(":")[0].removeprefix("training.").split(".")[0]
            lines.append(f"{key}.{line.removeprefix('training.')}" if field in overrides else line)
        raise InvalidSpecError(errors=lines) from None
