"""``RunConfig``: the spec parsed once, every section typed and frozen, handed to the stages.

The spec (:mod:`autoopt.spec`) is ground floor and cannot import the stages, so it keeps the stage
sections (``training``, ``nas``, ``distill``, ``compress``) as the mappings the user wrote. This is
where those sections meet their stage's own config class: :func:`autoopt.pipeline.load_config` runs
every check once and returns a ``RunConfig``; each stage receives its typed section from it and never
reads a YAML file again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from autoopt.data import DataConfig
from autoopt.spec import ModelSpec, SearchSpec, ShipSpec, Spec, TransferSpec
from autoopt.training import TrainConfig

if TYPE_CHECKING:
    from autoopt.compress import PlanConfig
    from autoopt.distill import DistillConfig
    from autoopt.nas import NasConfig

__all__ = ["RunConfig"]


T = TypeVar("T")


class _FromSpec(Generic[T]):
    """A read-only attribute of :class:`RunConfig` that is the spec's section of the same name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> T:
        return cast(T, getattr(obj.spec, self.name))


@dataclass(frozen=True)
class RunConfig:
    """A validated spec: the ground-floor sections of :class:`~autoopt.spec.Spec` and the typed stage
    sections, all frozen.

    Attributes:
        spec: the validated spec (its ``training``/``nas``/``distill``/``compress`` are the mappings as
            written: the keys the user fixed; written to ``spec.yaml``).
        training: ``training:`` as a :class:`~autoopt.training.TrainConfig`; its ``seed`` is the spec's
            ``seed`` unless ``training.seed`` is set.
        nas: ``nas:`` as a :class:`~autoopt.nas.NasConfig`, or ``None``.
        distill: ``distill:`` as a :class:`~autoopt.distill.DistillConfig` (the teacher of ``autoopt run``
            is the run's own searched model), or ``None``.
        compress: ``compress:`` as a :class:`~autoopt.compress.PlanConfig`, or ``None``.
    """

    spec: Spec
    training: TrainConfig
    nas: NasConfig | None = None
    distill: DistillConfig | None = None
    compress: PlanConfig | None = None

    # The ground-floor sections, read from the spec by the same names as its keys.
    name = _FromSpec[str]()
    seed = _FromSpec[int]()
    threads = _FromSpec[int | None]()
    data = _FromSpec[DataConfig]()
    model = _FromSpec[ModelSpec]()
    transfer = _FromSpec[TransferSpec | None]()
    search = _FromSpec[SearchSpec]()
    ship = _FromSpec[ShipSpec]()

    @property
    def fixed_training(self) -> dict[str, Any]:
        """The ``training:`` keys the spec fixes, as written (a default space leaves them out)."""
        return dict(self.spec.training)

    def train_config(self, searched: Mapping[str, Any] | None = None, **more: Any) -> TrainConfig:
        """``training`` with a trial's searched ``training.*`` values (and ``more``) on top.

        Raises:
            InvalidSpecError: a searched value is invalid (``training.<key>: ...``).
        """
        if not searched and not more:
            return self.training
        return TrainConfig(**{**self.training.model_dump(exclude_unset=True), **(searched or {}), **more})

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some sections replaced (``search=...`` updates the spec's ``search``)."""
        spec_changes = {k: changes.pop(k) for k in list(changes) if k not in _TYPED}
        spec = self.spec.model_copy(update=spec_changes) if spec_changes else self.spec
        return dataclasses.replace(self, spec=spec, **changes)


_TYPED = ("training", "nas", "distill", "compress")
