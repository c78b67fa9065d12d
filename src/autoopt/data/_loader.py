"""``load_data``: the one entry point from a ``data:`` config to a ``DataBundle``.

Every source only reads; this module does the rest the same way for all of them:
subsample (``limit``), split (seeded, stratified for classification), encode tables, compute
normalization statistics on the train split only, and wrap everything in in-memory datasets
(augmentation on train only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from autoopt._validation import validation_errors
from autoopt.data._augment import Augment
from autoopt.data._bundle import DataBundle, DatasetMeta
from autoopt.data._config import DataConfig
from autoopt.data._registry import RawData, datasets
from autoopt.data._splits import split_indices, subsample
from autoopt.data._tables import TableEncoder
from autoopt.data._targets import resolve_targets
from autoopt.data._tensor_data import TensorData
from autoopt.exceptions import DataError, InvalidSpecError
from autoopt.tasks import get_task

__all__ = ["as_config", "load_data"]

Samples = Union[np.ndarray, pd.DataFrame]  # noqa: UP007 (a runtime alias on Python 3.10)


def as_config(config: DataConfig | Mapping[str, Any] | str) -> DataConfig:
    """Turn a config, a mapping (the spec's ``data:`` section) or a dataset name into a ``DataConfig``.

    Args:
        config: a ``DataConfig``, a mapping of its fields, or a registered dataset name.

    Raises:
        InvalidSpecError: the mapping is invalid; one line per problem, each naming its ``data.*`` key.
    """
    if isinstance(config, DataConfig):
        return config
    if isinstance(config, str):
        config = {"name": config}
    if not isinstance(config, Mapping):
        raise InvalidSpecError(f"data: expected a mapping or a dataset name, got {type(config).__name__}")
    try:
        return DataConfig.model_validate(dict(config))
    except ValidationError as exc:
        raise InvalidSpecError(errors=validation_errors(exc, "data", DataConfig)) from None


def _take(x: Samples, idx: np.ndarray) -> Samples:
    return x.iloc[idx].reset_index(drop=True) if isinstance(x, pd.DataFrame) else x[idx]


def _to_tensor(x: np.ndarray, image_size: tuple[int, int] | None) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(x)).to(torch.float32)
    if x.dtype == np.uint8:
        t /= 255.0
    if image_size is not None and t.ndim == 4 and tuple(t.shape[-2:]) != image_size:
        t = F.interpolate(t, size=image_size, mode="bilinear", antialias=True, align_corners=False)
    return t


def _stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (images) or per-feature (tables) mean and std, in float64 for accuracy."""
    columns = [x[:, c].double() for c in range(x.shape[1])]
    mean = torch.tensor([float(c.mean()) if c.numel() else 0.0 for c in columns], dtype=torch.float64)
    std = torch.tensor(
        [float(c.std(correction=0)) if c.numel() else 0.0 for c in columns], dtype=torch.float64
    )
    return mean, torch.where(std > 0, std, torch.ones_like(std))


def _features(
    parts: list[Samples], config: DataConfig
) -> tuple[list[torch.Tensor], list[float] | None, list[float] | None, list[str] | None]:
    """Encode/convert the train, val and test samples; statistics come from ``parts[0]`` (train)."""
    if isinstance(parts[0], pd.DataFrame):
        enc = TableEncoder.fit(parts[0], normalize=config.normalize)
        tensors = [torch.from_numpy(enc.transform(p)) for p in parts]
        stats = (enc.mean, enc.std) if config.normalize else (None, None)
        return tensors, stats[0], stats[1], enc.feature_names
    tensors = [_to_tensor(p, config.image_size) for p in parts]
    names = [f"x{i}" for i in range(tensors[0].shape[1])] if tensors[0].ndim == 2 else None
    if not config.normalize:
        return tensors, None, None, names
    mean, std = _stats(tensors[0])
    view = (1, -1) + (1,) * (tensors[0].ndim - 2)
    m, s = mean.float().view(view), std.float().view(view)
    return [(t - m) / s for t in tensors], mean.tolist(), std.tolist(), names


def _plan(raw: RawData, config: DataConfig, y: np.ndarray, y_test: np.ndarray | None, stratify: bool) -> Any:
    """Indices into the pool for train/val/test, or into (pool, fixed test), and a description."""
    n = len(y)
    r_train, r_val, r_test = config.split.as_tuple()
    test_from = None
    if config.holdout_last is not None:
        if raw.x_test is not None:
            raise DataError(
                "data.holdout_last: this source ships its own test split; set data.use_official_test: false "
                "to hold out the last samples instead"
            )
        if config.holdout_last >= n:
            raise DataError(
                f"data.holdout_last: must be below the number of samples ({n}), got {config.holdout_last}"
            )
        test_from = ("pool tail", np.arange(n - config.holdout_last, n))
        n_pool = n - config.holdout_last
    elif raw.x_test is not None:
        test_from = ("fixed", np.arange(len(raw.x_test)))
        n_pool = n
    else:
        n_pool = n
    pool_idx = np.arange(n_pool)
    if config.limit is not None:
        k_test = 0 if test_from is None else min(len(test_from[1]), max(1, round(config.limit * r_test)))
        k_pool = max(config.limit - k_test, 1)
        pool_idx = subsample(n_pool, k_pool, y[:n_pool] if stratify else None, seed=config.seed)
        if test_from is not None:
            t_labels = (y[test_from[1]] if test_from[0] == "pool tail" else y_test) if stratify else None
            keep = subsample(len(test_from[1]), k_test, t_labels, seed=config.seed)
            test_from = (test_from[0], test_from[1][keep])
    labels = y[pool_idx] if stratify else None
    if test_from is None:
        parts = split_indices(len(pool_idx), (r_train, r_val, r_test), labels, seed=config.seed)
        return [pool_idx[p] for p in parts], None
    train, val = split_indices(len(pool_idx), (r_train, r_val), labels, seed=config.seed)
    return [pool_idx[train], pool_idx[val], test_from[1]], test_from[0]


def load_data(config: DataConfig | Mapping[str, Any] | str) -> DataBundle:
    """Load a dataset and return its train/val/test splits and metadata.

    Args:
        config: a ``DataConfig``, the spec's ``data:`` mapping, or a registered name (defaults).

    Returns:
        A ``DataBundle`` whose datasets yield ``(x float32, y)``, ``y`` ``int64`` for classification
        and ``float32`` for regression, ``x`` normalized with train-only statistics.

    Raises:
        InvalidSpecError: the config is invalid.
        DataError: the data is missing, malformed, or does not fit the config.

    Example:
        >>> bundle = load_data({"name": "digits", "limit": 200, "seed": 1})
        >>> bundle.meta.input_shape, bundle.meta.num_classes, len(bundle.train)
        ((1, 8, 8), 10, 140)
    """
    cfg = as_config(config)
    raw = datasets.get(cfg.name, key="data.name")(cfg)
    if len(raw.x) != len(raw.y):
        raise DataError(f"data.path: {len(raw.x)} samples but {len(raw.y)} targets; expected the same number")
    task = cfg.task or raw.task
    targets = resolve_targets(raw.y, raw.y_test, task=task, class_names=raw.class_names)
    stratify = get_task(targets.task).has_classes
    (i_train, i_val, i_test), test_kind = _plan(raw, cfg, targets.y, targets.y_test, stratify)
    if len(i_train) == 0:
        raise DataError(
            f"data.split: the train split is empty ({len(raw.y)} samples, split {cfg.split.as_tuple()})"
        )
    x_parts = [_take(raw.x, i_train), _take(raw.x, i_val)]
    y_parts = [targets.y[i_train], targets.y[i_val]]
    if test_kind == "fixed":
        x_parts.append(_take(raw.x_test, i_test))  # type: ignore[arg-type]  # fixed: x_test is set
        y_parts.append(np.asarray(targets.y_test)[i_test])
    else:
        x_parts.append(_take(raw.x, i_test))
        y_parts.append(targets.y[i_test])
    encoded: dict[str, Any] = {}
    if raw.encode is not None:  # the source encodes (text: a tokenizer learned on the train part)
        arrays, encoded = raw.encode(x_parts)
        tensors, mean, std, feature_names = [torch.from_numpy(a) for a in arrays], None, None, None
    else:
        tensors, mean, std, feature_names = _features(x_parts, cfg)
    is_image = tensors[0].ndim == 4
    transform = None
    if cfg.augment.enabled:
        if not is_image:
            raise DataError(
                f"data.augment: augmentation applies to images only, but dataset {cfg.name!r} gives samples "
                f"of shape {tuple(tensors[0].shape[1:])}; remove data.augment"
            )
        transform = Augment(cfg.augment.hflip, cfg.augment.random_crop, cfg.augment.rotate)
    y_dtype = torch.int64 if stratify else torch.float32
    ys = [torch.as_tensor(y, dtype=y_dtype) for y in y_parts]
    test_source = {
        "fixed": raw.extra.get("test_source", "the source's test split"),
        "pool tail": f"last {cfg.holdout_last} samples (data.holdout_last)",
        None: f"{'stratified' if stratify else 'random'} {cfg.split.test:g} of the data",
    }[test_kind]
    extra = {k: v for k, v in raw.extra.items() if k != "test_source"}
    extra["split"] = {
        "train": len(i_train), "val": len(i_val), "test": len(i_test), "seed": cfg.seed,
        "method": "stratified" if stratify else "random", "test_source": test_source, "limit": cfg.limit,
    }  # fmt: skip
    extra["task_source"] = targets.reason
    extra.update(encoded)
    if is_image:
        extra.setdefault("pixel_scale", 1 / 255 if raw.x.dtype == np.uint8 else 1.0)
        if cfg.augment.enabled:
            extra["augment"] = cfg.augment.model_dump()
    meta = DatasetMeta(
        name=cfg.name,
        task=targets.task,
        input_shape=tuple(tensors[0].shape[1:]),
        num_classes=len(targets.class_names) if targets.class_names is not None else None,
        class_names=targets.class_names,
        mean=mean,
        std=std,
        feature_names=feature_names,
        extra=extra,
    )
    train = TensorData(tensors[0], ys[0], transform)
    return DataBundle(train, TensorData(tensors[1], ys[1]), TensorData(tensors[2], ys[2]), meta)
