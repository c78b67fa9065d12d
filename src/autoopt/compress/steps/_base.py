"""The contract of a compression step and the registry of steps that ``compress.steps`` names.

A step is a class with a typed config (a pydantic model), :meth:`CompressionStep.apply` (the model in,
a :class:`StepResult` out) and :meth:`CompressionStep.report` (what ``metrics.json`` keeps of it).
The plan (:func:`autoopt.compress.run_plan`) validates each step's options where they stand in the
spec (``compress.steps[0].prune.ratio``), applies the steps in order and measures every one; a step
never exports or measures anything itself. Adding a step is one file that subclasses
:class:`CompressionStep` and registers it with :func:`register_step`.

Example:
    >>> from autoopt.compress.steps import list_steps
    >>> list_steps()
    ['finetune', 'prune', 'quantize', 'sparsity']
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from torch import nn

from autoopt._registry import Registry
from autoopt._validation import ValidatedConfig, validation_errors
from autoopt.data import DataBundle
from autoopt.exceptions import InvalidSpecError
from autoopt.training import TrainConfig

C = TypeVar("C", bound=BaseModel)


@dataclass
class StepContext:
    """What a step may use besides the model it transforms.

    Attributes:
        index: the step's position in the plan, from 1.
        name: its row name, ``"<index>. <kind>"``.
        folder: a folder of its own (``<out>/<index>_<kind>/``) for training logs and files it writes.
        data: the run's data (train for fine-tuning and calibration).
        train: the training settings (the spec's ``training:``) fine-tuning starts from.
        original: the plan's unmodified input model (a teacher for distillation).
        source_onnx: the ONNX file of the last fp32 model measured (what an INT8 step converts).
        shared: what a step leaves for a later one, by name (e.g. ``precision_policy``: a ``prune``
            step with ``policy: auto`` and ``precision: true`` asks the final ``quantize`` step to
            keep the layers it chose in fp32).
    """

    index: int
    name: str
    folder: Path
    data: DataBundle
    train: TrainConfig
    original: nn.Module
    source_onnx: Path
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult:
    """What a step made.

    Attributes:
        model: the fp32 torch model after the step (for an INT8 step: the fp32 model it converted).
        note: the table's note column (what the step did, in a few words).
        details: the step's own report object, turned into JSON by :meth:`CompressionStep.report`.
        onnx: an artifact the step wrote itself (an INT8 file); ``None``: the plan exports ``model``.
        precision: ``fp32`` or ``int8`` (of ``onnx`` when given).
    """

    model: nn.Module
    note: str = ""
    details: Any = None
    onnx: Path | None = None
    precision: Literal["fp32", "int8"] = "fp32"


def parse_options(config_class: type[C], options: Any, key: str) -> C:
    """Validate a step's options, naming every bad one under ``key`` (``compress.steps[0].prune``).

    Raises:
        InvalidSpecError: one line per problem, ``<key>.<field>: <expected>; got <value>``.
    """
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise InvalidSpecError(f"{key}: expected a mapping of options; got {options!r}")
    if issubclass(config_class, ValidatedConfig):
        return config_class.at(key, options)  # type: ignore[return-value]
    try:
        return config_class.model_validate(dict(options))
    except ValidationError as exc:
        raise InvalidSpecError(errors=validation_errors(exc, key, config_class)) from None


class CompressionStep(ABC, Generic[C]):
    """One kind of compression step (``prune``, ``finetune``, ``quantize``, ...).

    Subclasses set ``name`` and ``config_class`` and implement :meth:`apply`; they may narrow
    :meth:`parse` (a config that depends on the options), :meth:`check` (rules involving the other
    steps of the plan) and :meth:`report`.

    Args:
        config: the validated options (an instance of ``config_class``).
    """

    #: the key of the step in ``compress.steps`` (``- prune: {...}``).
    name: ClassVar[str] = ""
    #: the pydantic model of the step's options.
    config_class: ClassVar[type[BaseModel]]
    #: the step writes a file no later step can read (an INT8 model): it must be the plan's last step.
    last: ClassVar[bool] = False

    def __init__(self, config: C) -> None:
        self.config = config

    @classmethod
    def parse(cls, options: Any, key: str) -> C:
        """The typed options; errors are named under ``key``."""
        return parse_options(cls.config_class, options, key)  # type: ignore[return-value]

    @classmethod
    def check(cls, config: C, steps: Sequence[Mapping[str, Any]], index: int, key: str) -> list[str]:
        """Problems of this step in this plan (``steps``: the raw plan, ``index``: from 0)."""
        if cls.last and index != len(steps) - 1:
            return [f"{key}: {cls.name!r} makes an INT8 ONNX model; it must be the last step"]
        return []

    @abstractmethod
    def apply(self, model: nn.Module, ctx: StepContext) -> StepResult:
        """Transform ``model`` (the plan hands a copy; modifying it in place is allowed).

        Raises:
            CompressionError: the step cannot be applied to this model (``on_error`` decides).
        """

    def report(self, result: StepResult) -> dict[str, Any] | None:
        """What ``metrics.json`` keeps under ``reports[<row name>]``; ``None``: nothing."""
        details = result.details
        return details.to_dict() if hasattr(details, "to_dict") else None


#: every compression step, by the key that names it in ``compress.steps``.
steps: Registry[type[CompressionStep[Any]]] = Registry("compression step")


S = TypeVar("S", bound=type[CompressionStep[Any]])


def register_step(cls: S) -> S:
    """Class decorator: register a step under its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__}: a compression step needs a name")
    steps.add(cls.name, cls)
    return cls


def list_steps() -> list[str]:
    """The names of the registered steps."""
    return steps.names()
