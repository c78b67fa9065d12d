"""The default search space of a model family for a dataset's shape and size (``search.space: default``).

The space is a plain dict in the ``search.space`` form, so the resolved spec (``spec.yaml`` of a
run) shows exactly what was searched. Keys the spec already fixes (``model.params.*``,
``training.*``) are left out: the default searches only what the user left open.

What it covers, and why (see docs/tune.md, "The default space"):

- ``training.lr`` (log), ``training.weight_decay`` (log), ``training.schedule`` and
  ``training.batch_size`` for every model; the learning-rate range follows the optimizer (adaptive
  optimizers ``3e-4..1e-2``, SGD ``1e-3..0.3``); batch sizes keep at least ~30 steps per epoch.
- ``training.epochs``, fixed (not searched: the early-stopping scheduler already spends less on bad
  trials), sized for the data: ``10 * (10000 / n_train) ** 0.25`` clipped to ``[6, 20]``, i.e. 17
  on 1,257 digits, 11 on 6,800 images, 7 on 45,000.
- ``cnn``: ``blocks`` up to the number of 2x2 poolings the input allows (at most 4; at least 2 from
  16 pixels up), ``channels`` (16/32/48), ``convs_per_block`` (1-2 from 16 pixels up), ``dropout``.
- ``resnet``: ``stages`` (at least 2 from 16 pixels up), ``width`` (16/32), ``blocks`` (1-3),
  ``dropout``.
- ``mlp``: ``depth`` (1-3), ``width`` (64-512), ``dropout``, ``batch_norm``.
- a model that registers its own space (:func:`register_space`: the text models ``transformer``,
  ``bag_of_embeddings``, ``cnn1d``, ``hf:<dir>``): that space, and the training entries it replaces
  (e.g. a lower learning-rate range and warm-up schedules for transformers).
- any other model (``tv:<arch>``, your own builder): the training keys only.

The search tries :func:`default_point` first (as auto-sklearn and SMAC try the default
configuration first): settings that train small nets well in few epochs (AdamW at 3e-3 with a
one-cycle schedule, 3 blocks of 32 channels, a little dropout), so a search never ends below them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from autoopt.data import DatasetMeta

__all__ = ["default_space", "default_epochs", "default_point", "register_space"]

ADAPTIVE = ("adam", "adamw", "rmsprop", "adagrad")

SpaceFn = Callable[[DatasetMeta], tuple[dict[str, Any], dict[str, Any]]]
#: model name (or a name prefix such as ``hf:``) -> (model part of the space, training entries it replaces).
_SPACES: dict[str, SpaceFn] = {}


def register_space(name: str) -> Callable[[SpaceFn], SpaceFn]:
    """Register a model family's default space: ``fn(meta) -> (model params space, training entries)``.

    The training entries replace the defaults of the same keys (e.g. ``lr`` for transformers); a name
    ending in ``:`` (``hf:``) applies to every model name with that prefix.
    """

    def deco(fn: SpaceFn) -> SpaceFn:
        _SPACES[name] = fn
        return fn

    return deco


def _registered(model: str) -> SpaceFn | None:
    if model in _SPACES:
        return _SPACES[model]
    prefix = model.split(":", 1)[0] + ":" if ":" in model else None
    return _SPACES.get(prefix) if prefix else None


def default_epochs(n_train: int) -> int:
    """Epochs of a trial in the default space: more passes over small data, fewer over large data."""
    return int(min(20, max(6, round(10 * (10_000 / max(n_train, 1)) ** 0.25))))


def _batch_sizes(n_train: int) -> list[int]:
    sizes = [b for b in (32, 64, 128, 256) if n_train / b >= 30]
    return sizes if len(sizes) >= 2 else [16, 32] if n_train < 32 * 30 else [32, 64]


def _model_space(model: str, meta: DatasetMeta) -> dict[str, Any]:
    own = _registered(model)
    if own is not None:
        return own(meta)[0]
    image = len(meta.input_shape) == 3
    if model == "mlp":
        return {
            "depth": {"type": "int", "low": 1, "high": 3},
            "width": [64, 128, 256, 512],
            "dropout": {"type": "float", "low": 0.0, "high": 0.5},
            "batch_norm": [False, True],
        }
    if model not in ("cnn", "resnet") or not image:
        return {}
    side = min(int(v) for v in meta.input_shape[1:])
    halvings = max(1, int(math.log2(max(side, 2))))  # 2x2 poolings before the map is 1 pixel
    large = side >= 16
    if model == "cnn":
        high = min(4, halvings)
        out: dict[str, Any] = {
            "blocks": {"type": "int", "low": min(2 if large else 1, high), "high": high},
            "channels": [16, 32, 48],
        }
        if large:
            out["convs_per_block"] = {"type": "int", "low": 1, "high": 2}
        out["dropout"] = {"type": "float", "low": 0.0, "high": 0.5}
        return out
    high = min(3, halvings + 1)  # the first stage does not downsample
    return {
        "stages": {"type": "int", "low": min(2 if large else 1, high), "high": high},
        "width": [16, 32],
        "blocks": {"type": "int", "low": 1, "high": 3},
        "dropout": {"type": "float", "low": 0.0, "high": 0.3},
    }


def default_space(
    model: str,
    meta: DatasetMeta,
    n_train: int,
    *,
    model_params: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The default ``search.space`` of ``model`` on a dataset, without the keys the spec fixes.

    Example:
        >>> from autoopt.data import DatasetMeta
        >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
        >>> space = default_space("cnn", meta, 1257, training={"epochs": 12})
        >>> space["model.blocks"], "training.epochs" in space
        ({'type': 'int', 'low': 1, 'high': 3}, False)

    Args:
        model: the model name (``cnn``, ``resnet``, ``mlp`` have a model part; others train-only).
        meta: the dataset's metadata (input shape).
        n_train: samples in the training split.
        model_params: the spec's fixed ``model.params`` (left out of the space).
        training: the spec's fixed ``training`` keys (left out of the space).
    """
    fixed_model = dict(model_params or {})
    fixed_training = dict(training or {})
    space: dict[str, Any] = {
        f"model.{k}": v for k, v in _model_space(model, meta).items() if k not in fixed_model
    }
    adaptive = str(fixed_training.get("optimizer", "adamw")).lower() in ADAPTIVE
    lr = (3e-4, 1e-2) if adaptive else (1e-3, 0.3)
    train: dict[str, Any] = {
        "lr": {"type": "float", "low": lr[0], "high": lr[1], "log": True},
        "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
        "schedule": ["cosine", "onecycle", "constant"],
        "batch_size": _batch_sizes(n_train),
        "epochs": default_epochs(n_train),
    }
    own = _registered(model)
    if own is not None:
        train.update(own(meta)[1])
    space.update({f"training.{k}": v for k, v in train.items() if k not in fixed_training})
    return space


#: the first trial of a default space (clipped into the space: e.g. 2 cnn blocks on a 4x4 input).
PRIOR: dict[str, Any] = {
    "model.blocks": 3,
    "model.channels": 32,
    "model.convs_per_block": 1,
    "model.dropout": 0.1,
    "model.stages": 3,
    "model.width": 16,
    "model.depth": 2,
    "model.batch_norm": True,
    "training.weight_decay": 1e-4,
    "training.schedule": "onecycle",
    "training.batch_size": 64,
}
PRIOR_LR = {True: 3e-3, False: 0.05}  # adaptive optimizers, SGD


def default_point(space: Mapping[str, Any], *, optimizer: str = "adamw") -> dict[str, Any]:
    """The first configuration to try in a default space: :data:`PRIOR`, clipped into ``space``.

    Example:
        >>> default_point({"model.blocks": {"type": "int", "low": 1, "high": 2}, "training.epochs": 8})
        {'model.blocks': 2}

    Args:
        space: a space from :func:`default_space` (fixed values are left out of the point).
        optimizer: the spec's optimizer (picks the learning rate).
    """
    point: dict[str, Any] = {}
    for name, entry in space.items():
        prior = PRIOR_LR[optimizer.lower() in ADAPTIVE] if name == "training.lr" else PRIOR.get(name)
        if isinstance(entry, list):
            if prior is None and name == "model.width":
                prior = 128
            point[name] = prior if prior in entry else entry[min(len(entry) - 1, len(entry) // 2)]
        elif isinstance(entry, Mapping) and "low" in entry:
            low, high = entry["low"], entry["high"]
            value = prior if prior is not None else (low + high) / 2
            value = min(max(value, low), high)
            point[name] = int(value) if entry.get("type") == "int" else float(value)
    return point
