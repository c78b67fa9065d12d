"""The dataset registry and the contract every source fulfils.

A source is a function ``(config: DataConfig) -> RawData`` registered with one line::

    @register_dataset("my-table", needs=("path", "target"))
    def _load_my_table(config: DataConfig) -> RawData: ...

It returns the samples as read (uint8 images, a DataFrame, ...); the loader does the rest
(subsample, split, encode, normalize, augment) the same way for every source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from autoopt._registry import Registry

if TYPE_CHECKING:
    import pandas as pd

    from autoopt.data._bundle import TaskType
    from autoopt.data._config import DataConfig

__all__ = [
    "Encoder",
    "Part",
    "RawData",
    "SourceFn",
    "datasets",
    "is_text_source",
    "list_datasets",
    "needs_of",
    "register_dataset",
]


Part = tuple[np.ndarray, np.ndarray, list[str]]
"""One part a source ships: ``(x, y, names of the files read)``."""

Encoder = Callable[[list[Any]], tuple[list[np.ndarray], dict[str, Any]]]
"""A source's own encoding: train/val/test samples -> model inputs and facts for ``meta.extra``."""


@dataclass
class RawData:
    """What a source read, before any splitting or preprocessing.

    Attributes:
        x: the samples: images ``(N, C, H, W)`` (``uint8`` in 0..255 or floats), a 2-D numeric
            array ``(N, F)``, or a ``pandas.DataFrame`` of features.
        y: one target per sample (class indices, numbers or labels of any type).
        task: the task when the source knows it; ``None`` lets the loader infer it from ``y``.
        class_names: the name of each class index when ``y`` already holds indices.
        x_test: a test split the source ships (e.g. MNIST ``t10k-*``), or ``None``.
        y_test: its targets.
        extra: JSON-serializable facts for ``DatasetMeta.extra`` (files read, ...).
        encode: the source's own encoding of the split samples (text: a tokenizer learned on the
            train part), called with ``[train, val, test]``; ``None`` for the loader's (images,
            tables). Returns the model inputs per split and facts for ``DatasetMeta.extra``.
    """

    x: np.ndarray | pd.DataFrame
    y: np.ndarray
    task: TaskType | None = None
    class_names: list[str] | None = None
    x_test: np.ndarray | pd.DataFrame | None = None
    y_test: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    encode: Encoder | None = None

    @classmethod
    def from_parts(
        cls,
        train: Part | None,
        test: Part | None,
        *,
        use_official_test: bool,
        class_names: list[str] | None,
        test_name: str = "test",
    ) -> RawData:
        """Build a classification ``RawData`` from a source's train and test parts.

        With both parts and ``use_official_test``, the test part becomes the fixed test split;
        otherwise the train part is split three ways (the test part is ignored); with only a test
        part, it is split three ways. ``extra`` records which files made which split.

        Args:
            train: ``(x, y, files)`` of the train files, or ``None``.
            test: ``(x, y, files)`` of the test files, or ``None``.
            use_official_test: ``DataConfig.use_official_test``.
            class_names: a name per class index.
            test_name: how the source calls its test files, for ``extra``.
        """
        if train is None and test is None:
            raise ValueError("expected at least one part")
        if train is not None and test is not None and use_official_test:
            return cls(
                train[0], train[1], "classification", class_names, x_test=test[0], y_test=test[1],
                extra={"files": train[2] + test[2], "pool": "train files", "test_source": f"the {test_name}"},
            )  # fmt: skip
        if train is not None:
            pool = train
            described = "train files" + (
                f" ({test_name} ignored)" if test is not None else f" ({test_name} absent)"
            )
        else:
            pool = cast("Part", test)
            described = f"{test_name} only ({len(pool[1])} samples, the official test set)"
        return cls(
            pool[0], pool[1], "classification", class_names, extra={"files": pool[2], "pool": described}
        )


SourceFn = Callable[["DataConfig"], RawData]

datasets: Registry[SourceFn] = Registry("dataset")
_NEEDS: dict[str, tuple[str, ...]] = {}
_TEXT: set[str] = set()


def register_dataset(
    name: str, *aliases: str, needs: tuple[str, ...] = (), text: bool = False
) -> Callable[[SourceFn], SourceFn]:
    """Decorator registering a data source under ``name`` (and aliases).

    Args:
        name: the name used in ``data.name``.
        *aliases: other accepted names.
        needs: ``DataConfig`` fields that must be set for this source (``"path"``, ``"target"``);
            checked when the config is validated.
        text: the source reads text (``data.text`` and ``data.tokenizer`` apply to it).
    """

    def deco(fn: SourceFn) -> SourceFn:
        datasets.register(name, *aliases)(fn)
        for key in (name, *aliases):
            _NEEDS[key] = tuple(needs)
            if text:
                _TEXT.add(key)
        return fn

    return deco


def needs_of(name: str) -> tuple[str, ...]:
    """The config fields a registered source requires (empty for unknown names)."""
    return _NEEDS.get(name, ())


def is_text_source(name: str) -> bool:
    """Whether a registered source reads text (so ``data.text``/``data.tokenizer`` apply)."""
    return name in _TEXT


def list_datasets() -> list[str]:
    """The registered dataset names, sorted.

    Example:
        >>> "digits" in list_datasets()
        True
    """
    return datasets.names()
