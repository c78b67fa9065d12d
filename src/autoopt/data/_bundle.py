"""The typed result of loading data: three splits plus what a model builder needs to know."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch.utils.data import Dataset

from autoopt.tasks import TaskKind, get_task

__all__ = ["DatasetMeta", "DataBundle"]

TaskType = str  # a registered task kind's name (autoopt.tasks), e.g. "classification"


@dataclass
class DatasetMeta:
    """What builders, training and export need to know about a dataset.

    Attributes:
        name: the dataset's name (registry name or a path).
        task: the name of a registered task kind (:mod:`autoopt.tasks`): ``"classification"``,
            ``"regression"``, ... (:attr:`kind` returns the kind itself).
        input_shape: the shape of one sample as the model sees it, without the batch dimension:
            ``(C, H, W)`` for images, ``(n_features,)`` for tables.
        num_classes: number of classes (classification), ``None`` for regression.
        class_names: a name per class index (classification), ``None`` for regression.
        mean: per-channel (images) or per-feature (tables) normalization mean, computed on train only.
        std: matching standard deviation.
        feature_names: column names after encoding, for tables.
        extra: anything source-specific worth recording in a model card (kept JSON-serializable).
    """

    name: str
    task: TaskType
    input_shape: tuple[int, ...]
    num_classes: int | None = None
    class_names: list[str] | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    feature_names: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> TaskKind:
        """The task kind named by :attr:`task` (``UnknownNameError`` listing the kinds if unknown)."""
        return get_task(self.task, key="data.task")

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d


@dataclass
class DataBundle:
    """Train/val/test splits (map-style datasets yielding ``(x: FloatTensor, y: Tensor)``) and metadata.

    ``x`` is already normalized with the train statistics; classification targets are ``int64``
    class indices, regression targets ``float32`` scalars. Augmentation, when configured, lives in
    ``train`` only.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    meta: DatasetMeta
