"""IDX files (MNIST, Fashion-MNIST) parsed with numpy, and the ``mnist``/``fashion-mnist`` sources.

An IDX file starts with a 4-byte magic number ``0x00 0x00 <type> <ndim>`` (2051 for the
``uint8`` 3-D image files, 2049 for the 1-D label files), then ``ndim`` big-endian ``uint32``
sizes, then the payload. Files may be gzipped (``.gz``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autoopt.data._config import DataConfig
from autoopt.data._files import (
    find_file,
    missing_dataset_error,
    read_bytes,
    require_dir,
    unreadable_compression,
)
from autoopt.data._registry import Part, RawData, register_dataset
from autoopt.exceptions import DataError

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "parse_idx", "read_idx"]

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
_PARTS = {"train": "train", "test": "t10k"}


def parse_idx(data: bytes, *, expected_magic: int | None = None, source: str = "IDX data") -> np.ndarray:
    """Decode one IDX file's bytes into an array of the declared type and shape.

    Args:
        data: the (decompressed) file content.
        expected_magic: the magic number the file must have (2051 images, 2049 labels), or ``None``.
        source: the file name, for messages.

    Raises:
        DataError: wrong magic number, unknown element type, or a payload whose size does not match
            the header (truncated or corrupt file).
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        head = data[:4].hex() or "empty"
        raise DataError(f"{source}: not an IDX file (first bytes {head}, expected 0000 + type + ndim)")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise DataError(f"{source}: expected IDX magic number {expected_magic}, got {magic}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source}: truncated IDX header ({len(data)} bytes, expected at least {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header
    if got != expected:
        raise DataError(
            f"{source}: IDX payload has {got} bytes, expected {expected} for shape {shape} "
            "(truncated or corrupt file)"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: Path, *, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file, gzipped or not (see :func:`parse_idx`).

    Args:
        path: the file.
        expected_magic: the magic number it must have, or ``None``.
    """
    return parse_idx(read_bytes(path), expected_magic=expected_magic, source=str(path))


def _read_part(folder: Path, part: str) -> Part | None:
    """Images ``(N, 1, H, W)``, labels and file names of one part (``train``/``t10k``), or None."""
    images_stem, labels_stem = f"{part}-images-idx3-ubyte", f"{part}-labels-idx1-ubyte"
    images_file, labels_file = find_file(folder, images_stem), find_file(folder, labels_stem)
    for stem, found in ((images_stem, images_file), (labels_stem, labels_file)):
        problem = unreadable_compression(folder, stem) if found is None else None
        if problem is not None:
            raise problem
    if images_file is None and labels_file is None:
        return None
    if images_file is None or labels_file is None:
        missing = images_stem if images_file is None else labels_stem
        raise DataError(
            f"data.path: found only one of the {part} files in {str(folder)!r}; {missing} is missing"
        )
    images = read_idx(images_file, expected_magic=IMAGES_MAGIC)
    labels = read_idx(labels_file, expected_magic=LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(
            f"{images_file}: {len(images)} images but {labels_file.name} has {len(labels)} labels; "
            "expected the same number"
        )
    return images[:, None], labels, [images_file.name, labels_file.name]


def _load_idx_dataset(config: DataConfig, name: str, class_names: list[str], url: str) -> RawData:
    folder = require_dir(config.resolved_path(), name)
    train, test = _read_part(folder, _PARTS["train"]), _read_part(folder, _PARTS["test"])
    if train is None and test is None:
        stems = [
            f"{p}-{k}-idx{d}-ubyte[.gz]" for p in ("train", "t10k") for k, d in (("images", 3), ("labels", 1))
        ]
        raise missing_dataset_error(
            name, folder, stems, source_url=url,
            note="The t10k-* files alone are enough: they are then split by data.split or data.holdout_last.",
        )  # fmt: skip
    for part in (train, test):
        if part is not None and len(part[1]) and int(part[1].max()) >= len(class_names):
            raise DataError(
                f"data.path: {part[2][1]} holds label {int(part[1].max())}; "
                f"expected 0..{len(class_names) - 1}"
            )
    return RawData.from_parts(
        train,
        test,
        use_official_test=config.use_official_test,
        class_names=class_names,
        test_name="t10k files",
    )


@register_dataset("mnist")
def _load_mnist(config: DataConfig) -> RawData:
    return _load_idx_dataset(
        config, "mnist", [str(i) for i in range(10)], "https://yann.lecun.com/exdb/mnist/ or a mirror"
    )


@register_dataset("fashion-mnist", "fashion_mnist")
def _load_fashion_mnist(config: DataConfig) -> RawData:
    return _load_idx_dataset(
        config, "fashion-mnist", FASHION_CLASSES, "https://github.com/zalandoresearch/fashion-mnist"
    )
