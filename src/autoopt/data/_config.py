"""``DataConfig``: the spec's ``data:`` section, validated up front with pydantic.

Example:
    >>> from autoopt.data import DataConfig
    >>> cfg = DataConfig(name="digits", split={"train": 0.8, "val": 0.1, "test": 0.1}, limit=500)
    >>> cfg.split.train
    0.8
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from autoopt.data._registry import datasets, is_text_source, needs_of
from autoopt.data._tokenizer import TokenizerConfig
from autoopt.tasks import check_task

__all__ = ["AugmentConfig", "DataConfig", "SplitConfig"]

_SUM_TOLERANCE = 1e-6


class SplitConfig(BaseModel):
    """Fractions of the data in each split; they must sum to 1.

    Also accepts a list ``[train, val, test]``. When the source ships a fixed test split
    (``use_official_test`` or ``holdout_last``), ``test`` is ignored and the rest of the data is
    divided between train and val in the ratio ``train : val``.

    Args:
        train: fraction for training (> 0).
        val: fraction for validation (>= 0).
        test: fraction for testing (>= 0).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    train: float = Field(default=0.7, gt=0.0, le=1.0)
    val: float = Field(default=0.15, ge=0.0, lt=1.0)
    test: float = Field(default=0.15, ge=0.0, lt=1.0)

    @model_validator(mode="before")
    @classmethod
    def _from_sequence(cls, value: Any) -> Any:
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            if len(value) != 3:
                raise ValueError(f"expected [train, val, test] (3 numbers), got {len(value)}: {list(value)}")
            return {"train": value[0], "val": value[1], "test": value[2]}
        return value

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitConfig:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=_SUM_TOLERANCE):
            raise ValueError(
                f"train + val + test must sum to 1, got {self.train} + {self.val} + {self.test} = {total:g}"
            )
        return self

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.train, self.val, self.test)


class AugmentConfig(BaseModel):
    """Image augmentation, applied to the train split only (val/test stay deterministic).

    Args:
        hflip: flip each image left-right with probability 0.5.
        random_crop: pad by this many pixels (zeros, i.e. the mean after normalization) and crop
            back to the original size at a random offset; 0 disables it.
        rotate: rotate by a random angle in ``[-rotate, rotate]`` degrees; 0 disables it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hflip: bool = False
    random_crop: int = Field(default=0, ge=0)
    rotate: float = Field(default=0.0, ge=0.0, le=180.0)

    @property
    def enabled(self) -> bool:
        return self.hflip or self.random_crop > 0 or self.rotate > 0


class DataConfig(BaseModel):
    """The ``data:`` section of a spec.

    Args:
        name: registered dataset name (see :func:`autoopt.data.list_datasets`).
        path: folder or file of the data; file-based sources (MNIST, CIFAR, ...) default to
            ``./data/<name>``; ``image-folder``, ``csv``, ``parquet`` and ``npz`` require it.
        target: target column of a table (``csv``, ``parquet``), required there.
        features: table columns to use as features; default: every column except ``target``.
        task: a registered task kind (``classification``, ``regression``; see ``autoopt.tasks``);
            default: inferred from the target.
        split: train/val/test fractions (default 0.7/0.15/0.15), summing to 1.
        seed: seed of the (stratified) split and of ``limit``'s subsample.
        normalize: standardize inputs with statistics of the train split only.
        augment: train-only image augmentation.
        image_size: resize images to this size (``int`` or ``[height, width]``).
        limit: use at most this many samples in total (a seeded, stratified subsample); with a
            fixed test split, ``round(limit * split.test)`` (at least 1) of them are test samples.
        use_official_test: use the test files a source ships (MNIST ``t10k-*``, CIFAR
            ``test_batch``, ``image-folder`` ``test/``) as the test split; when false they are
            ignored and the train files are split three ways.
        holdout_last: take the last N samples of the data as the test split (e.g. 2000 for the
            Fashion-MNIST copy that holds only the 10,000 test images).
        label_type: CIFAR-100 labels, ``fine`` (100 classes) or ``coarse`` (20 superclasses).
        text: the text column of a text source (``text-csv``, ``text-jsonl``); default ``text``.
        tokenizer: how a text source's text becomes token ids (see ``TokenizerConfig``).

    Example:
        >>> DataConfig(name="csv", path="table.csv", target="price").task is None
        True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "digits"
    path: Path | None = Field(default=None, validate_default=True)
    target: str | None = Field(default=None, validate_default=True)
    features: list[str] | None = None
    task: str | None = None
    split: SplitConfig = Field(default_factory=SplitConfig)
    seed: int = 0
    normalize: bool = True
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    image_size: tuple[int, int] | None = None
    limit: int | None = Field(default=None, gt=0)
    use_official_test: bool = True
    holdout_last: int | None = Field(default=None, gt=0)
    label_type: Literal["fine", "coarse"] = "fine"
    text: str | None = None
    tokenizer: TokenizerConfig | None = None

    @field_validator("name")
    @classmethod
    def _known_name(cls, value: str) -> str:
        if value not in datasets:
            raise ValueError(f"unknown dataset {value!r}; expected one of: {', '.join(datasets.names())}")
        return value

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str | None) -> str | None:
        return check_task(value)

    @field_validator("path", "target")
    @classmethod
    def _given_if_needed(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.data.get("name")
        if value is None and name is not None and info.field_name in needs_of(name):
            what = {"path": "a path (a file or folder)", "target": "the name of the target column"}
            raise ValueError(f"dataset {name!r} needs {what[str(info.field_name)]}, got none")
        return value

    @field_validator("text", "tokenizer")
    @classmethod
    def _text_source_only(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.data.get("name")
        if value is not None and name is not None and not is_text_source(name):
            texts = ", ".join(n for n in datasets.names() if is_text_source(n))
            raise ValueError(f"applies to text sources only ({texts}), got dataset {name!r}; remove it")
        return value

    @field_validator("image_size", mode="before")
    @classmethod
    def _square(cls, value: Any) -> Any:
        return (value, value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("image_size")
    @classmethod
    def _positive(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and min(value) <= 0:
            raise ValueError(f"expected positive sizes, got {list(value)}")
        return value

    def resolved_path(self) -> Path:
        """``path``, or ``./data/<name>`` when it is not set."""
        return self.path if self.path is not None else Path("data") / self.name
