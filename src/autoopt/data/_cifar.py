"""CIFAR-10 and CIFAR-100 from their binary or python-pickle distributions.

Binary: CIFAR-10 ``data_batch_1.bin`` ... ``data_batch_5.bin`` and ``test_batch.bin``, records of
1 label byte + 3072 pixel bytes; CIFAR-100 ``train.bin`` and ``test.bin``, records of a coarse and a
fine label byte + 3072 pixel bytes. Pixels are stored channel-major (R, G, B planes of 32x32).
Python: the same data as pickled dicts (``b"data"`` uint8 ``(N, 3072)``, ``b"labels"`` or
``b"fine_labels"``/``b"coarse_labels"``), read only through :mod:`autoopt.data._unpickle`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autoopt.data._config import DataConfig
from autoopt.data._files import missing_dataset_error, read_bytes, require_dir
from autoopt.data._registry import Part, RawData, register_dataset
from autoopt.data._unpickle import safe_load_pickle
from autoopt.exceptions import DataError

__all__ = ["CIFAR10_CLASSES", "parse_cifar_binary"]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_PIXELS = 3 * 32 * 32
_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
_CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


def parse_cifar_binary(
    data: bytes, *, label_bytes: int, source: str = "CIFAR data"
) -> tuple[np.ndarray, np.ndarray]:
    """Decode a CIFAR binary batch into images ``(N, 3, 32, 32)`` and labels ``(N, label_bytes)``.

    Args:
        data: the file content.
        label_bytes: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine).
        source: the file name, for messages.

    Raises:
        DataError: the size is not a whole number of records.
    """
    record = label_bytes + _PIXELS
    if len(data) == 0 or len(data) % record:
        raise DataError(
            f"{source}: {len(data)} bytes is not a whole number of {record}-byte CIFAR records "
            "(truncated or corrupt file, or CIFAR-10/100 mixed up)"
        )
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    return rows[:, label_bytes:].reshape(-1, 3, 32, 32).copy(), rows[:, :label_bytes].astype(np.int64)


def _find_folder(root: Path, subfolders: Sequence[str], marker: str) -> Path | None:
    for folder in (root, *(root / s for s in subfolders)):
        if (folder / marker).is_file():
            return folder
    return None


def _names_txt(path: Path) -> list[str] | None:
    if not path.is_file():
        return None
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _read_binary(folder: Path, stems: Sequence[str], label_bytes: int, label_col: int) -> Part | None:
    present = [folder / f"{s}.bin" for s in stems if (folder / f"{s}.bin").is_file()]
    if not present:
        return None
    if len(present) != len(stems):
        missing = sorted(f"{s}.bin" for s in stems if not (folder / f"{s}.bin").is_file())
        raise DataError(
            f"data.path: {str(folder)!r} has only some CIFAR batches; missing: {', '.join(missing)}"
        )
    parts = [parse_cifar_binary(read_bytes(p), label_bytes=label_bytes, source=str(p)) for p in present]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1][:, label_col] for p in parts])
    return x, y, [p.name for p in present]


def _pickle_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    batch = safe_load_pickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise DataError(f"{path}: expected a dict with keys b'data' and {label_key!r}, got {keys}")
    x = np.asarray(batch[b"data"])
    y = np.asarray(batch[label_key], dtype=np.int64).reshape(-1)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != _PIXELS or len(x) != len(y):
        raise DataError(
            f"{path}: expected b'data' uint8 of shape (N, {_PIXELS}) and N labels, "
            f"got {x.dtype} {x.shape} and {len(y)} labels"
        )
    return x.reshape(-1, 3, 32, 32), y


def _read_pickles(folder: Path, stems: Sequence[str], label_key: bytes) -> Part | None:
    present = [folder / s for s in stems if (folder / s).is_file()]
    if not present:
        return None
    if len(present) != len(stems):
        missing = sorted(s for s in stems if not (folder / s).is_file())
        raise DataError(
            f"data.path: {str(folder)!r} has only some CIFAR batches; missing: {', '.join(missing)}"
        )
    parts = [_pickle_batch(p, label_key) for p in present]
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        [p.name for p in present],
    )


def _meta_names(path: Path, key: bytes) -> list[str] | None:
    if not path.is_file():
        return None
    meta: Any = safe_load_pickle(path)
    names = meta.get(key) if isinstance(meta, dict) else None
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names] if names else None


def _check_labels(part: Part | None, n_classes: int) -> None:
    if part is not None and len(part[1]) and (part[1].min() < 0 or part[1].max() >= n_classes):
        raise DataError(
            f"data.path: {part[2][0]} holds label {int(part[1].max())}; expected 0..{n_classes - 1}"
        )


@register_dataset("cifar10", "cifar-10")
def _load_cifar10(config: DataConfig) -> RawData:
    root = require_dir(config.resolved_path(), "cifar10")
    binary = _find_folder(root, ["cifar-10-batches-bin"], "test_batch.bin") or _find_folder(
        root, ["cifar-10-batches-bin"], "data_batch_1.bin"
    )
    if binary is not None:
        train, test = _read_binary(binary, _CIFAR10_TRAIN, 1, 0), _read_binary(binary, ["test_batch"], 1, 0)
        names = _names_txt(binary / "batches.meta.txt") or CIFAR10_CLASSES
        fmt = "binary"
    else:
        py = _find_folder(root, ["cifar-10-batches-py"], "test_batch") or _find_folder(
            root, ["cifar-10-batches-py"], "data_batch_1"
        )
        if py is None:
            raise missing_dataset_error(
                "cifar10", root, [*(f"{s}.bin" for s in _CIFAR10_TRAIN), "test_batch.bin"], source_url=_URL,
                note="The python version (data_batch_1 ... 5, test_batch, batches.meta) works too.",
            )  # fmt: skip
        train, test = (
            _read_pickles(py, _CIFAR10_TRAIN, b"labels"),
            _read_pickles(py, ["test_batch"], b"labels"),
        )
        names = _meta_names(py / "batches.meta", b"label_names") or CIFAR10_CLASSES
        fmt = "python"
    if len(names) != 10:
        raise DataError(f"data.path: the CIFAR-10 meta file lists {len(names)} class names, expected 10")
    for part in (train, test):
        _check_labels(part, 10)
    raw = RawData.from_parts(
        train, test, use_official_test=config.use_official_test, class_names=names, test_name="test_batch"
    )
    raw.extra["format"] = fmt
    return raw


@register_dataset("cifar100", "cifar-100")
def _load_cifar100(config: DataConfig) -> RawData:
    root = require_dir(config.resolved_path(), "cifar100")
    fine = config.label_type == "fine"
    n_classes = 100 if fine else 20
    binary = _find_folder(root, ["cifar-100-binary"], "test.bin") or _find_folder(
        root, ["cifar-100-binary"], "train.bin"
    )
    if binary is not None:
        col = 1 if fine else 0
        train, test = _read_binary(binary, ["train"], 2, col), _read_binary(binary, ["test"], 2, col)
        names = _names_txt(binary / f"{config.label_type}_label_names.txt")
        fmt = "binary"
    else:
        py = _find_folder(root, ["cifar-100-python"], "test") or _find_folder(
            root, ["cifar-100-python"], "train"
        )
        if py is None:
            raise missing_dataset_error(
                "cifar100", root, ["train.bin", "test.bin"], source_url=_URL,
                note="The python version (train, test, meta) works too.",
            )  # fmt: skip
        key = f"{config.label_type}_labels".encode()
        train, test = _read_pickles(py, ["train"], key), _read_pickles(py, ["test"], key)
        names = _meta_names(py / "meta", f"{config.label_type}_label_names".encode())
        fmt = "python"
    names = names or [str(i) for i in range(n_classes)]
    if len(names) != n_classes:
        raise DataError(
            f"data.path: the CIFAR-100 {config.label_type} label names list {len(names)} names, "
            f"expected {n_classes}"
        )
    for part in (train, test):
        _check_labels(part, n_classes)
    raw = RawData.from_parts(train, test, use_official_test=config.use_official_test, class_names=names)
    raw.extra.update(format=fmt, label_type=config.label_type)
    return raw
