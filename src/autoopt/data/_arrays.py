"""Array sources: the built-in ``digits`` (scikit-learn's bundled 8x8 digits) and NumPy ``.npz`` files.

``.npz`` keys: ``x`` and ``y`` (split by ``data.split``), or ``x_train``, ``y_train``, ``x_test``,
``y_test`` (the test arrays are the official test split). ``x`` is ``(N, F)`` features,
``(N, H, W)`` grayscale images, or ``(N, C, H, W)`` / ``(N, H, W, C)`` images with at most 4 channels
(channels-first when the second axis has at most 4 entries).
"""

from __future__ import annotations

import functools
import zipfile

import numpy as np

from autoopt.data._config import DataConfig
from autoopt.data._registry import RawData, register_dataset
from autoopt.exceptions import DataError

__all__ = ["as_samples"]


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # imported lazily: scikit-learn is slow to import

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float32)[:, None] / 16.0  # pixel values 0..16 -> [0, 1]
    return images, np.asarray(bunch.target, dtype=np.int64)


@register_dataset("digits")
def _load_digits(config: DataConfig) -> RawData:
    x, y = _digits()
    return RawData(
        x.copy(), y.copy(), "classification", [str(i) for i in range(10)],
        extra={"source": "sklearn.datasets.load_digits (1797 8x8 images)", "pixel_scale": 1 / 16},
    )  # fmt: skip


def as_samples(x: np.ndarray, key: str) -> np.ndarray:
    """Bring an array to ``(N, F)`` (features) or ``(N, C, H, W)`` (images).

    Args:
        x: the array as stored.
        key: the array's name, for messages.

    Raises:
        DataError: an unsupported shape or dtype.
    """
    if x.dtype.kind not in "biuf":
        raise DataError(f"data.path: array {key!r} must be numeric, got dtype {x.dtype}")
    if x.ndim == 2:
        return x
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4:
        if x.shape[1] <= 4:
            return x
        if x.shape[3] <= 4:
            return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    raise DataError(
        f"data.path: array {key!r} has shape {x.shape}; expected (N, F), (N, H, W), (N, C, H, W) "
        "or (N, H, W, C) with at most 4 channels"
    )


def _looks_like(head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return "a gzip file"
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary file of another format"
    return "a text file, e.g. CSV"


@register_dataset("npz", needs=("path",))
def _load_npz(config: DataConfig) -> RawData:
    path = config.resolved_path()
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not found"
        raise DataError(f"data.path: expected an .npz file, got {str(path)!r} ({what})")
    with open(path, "rb") as f:
        head = f.read(6)
    if not head.startswith(b"PK"):  # an .npz is a zip archive of .npy arrays
        kind = "a single .npy array" if head.startswith(b"\x93NUMPY") else _looks_like(head)
        raise DataError(
            f"data.path: {str(path)!r} is not an .npz archive (it looks like {kind}); save arrays with "
            "numpy.savez(path, x=..., y=...), or set data.name to the file's format (csv, parquet, ...)"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"data.path: cannot read {str(path)!r} as .npz: {exc}") from exc
    keys = sorted(arrays)
    names: tuple[str, str, str | None, str | None]
    if {"x", "y"} <= arrays.keys():
        names = ("x", "y", None, None)
    elif {"x_train", "y_train"} <= arrays.keys():
        has_test = {"x_test", "y_test"} <= arrays.keys()
        names = ("x_train", "y_train", "x_test" if has_test else None, "y_test" if has_test else None)
    else:
        raise DataError(
            f"data.path: {str(path)!r} must hold arrays x and y (or x_train, y_train, x_test, y_test), "
            f"got {keys}"
        )
    got = {k: arrays[k] for k in names if k is not None}
    for xk, yk in ((names[0], names[1]), (names[2], names[3])):
        if xk is not None and yk is not None and len(got[xk]) != len(got[yk]):
            raise DataError(f"data.path: {xk} has {len(got[xk])} samples but {yk} has {len(got[yk])}")
    x = as_samples(got[names[0]], names[0])
    x_test = None if names[2] is None else as_samples(got[names[2]], names[2])
    if x_test is not None and x_test.shape[1:] != x.shape[1:]:
        raise DataError(
            f"data.path: x_test samples have shape {x_test.shape[1:]}, x_train {x.shape[1:]}; "
            "expected the same"
        )
    if x_test is not None and not config.use_official_test:
        x_test = None
    y_test = None if x_test is None or names[3] is None else got[names[3]]
    extra = {"file": path.name, "arrays": keys}
    extra["pool"] = names[0] + (" (x_test ignored)" if names[2] and x_test is None else "")
    if x_test is not None:
        extra["test_source"] = "x_test, y_test"
    return RawData(x, got[names[1]], x_test=x_test, y_test=y_test, extra=extra)
