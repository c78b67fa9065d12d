from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from autoopt.data import load_data
from autoopt.data._idx import FASHION_CLASSES, parse_idx, read_idx
from autoopt.exceptions import DataError

from .conftest import idx_bytes, write_idx_pair

FASHION_MD5 = {
    "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
}


def _tiny(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8), np.arange(n, dtype=np.uint8) % 10


def test_parse_idx_round_trip() -> None:
    images, labels = _tiny(5)
    assert np.array_equal(parse_idx(idx_bytes(images), expected_magic=2051), images)
    assert np.array_equal(parse_idx(idx_bytes(labels), expected_magic=2049), labels)
    ints = np.array([1, -2, 70000], dtype=">i4")
    data = bytes([0, 0, 0x0C, 1]) + (3).to_bytes(4, "big") + ints.tobytes()
    assert parse_idx(data).tolist() == [1, -2, 70000]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x02\x08\x03" + b"\x00" * 12, r"not an IDX file \(first bytes 01020803"),
        (b"", r"not an IDX file \(first bytes empty"),
        (idx_bytes(np.zeros(4, np.uint8)), r"expected IDX magic number 2051, got 2049"),
        (idx_bytes(np.zeros((2, 3, 3), np.uint8))[:-1], r"IDX payload has 17 bytes, expected 18 .*truncated"),
        (bytes([0, 0, 8, 3, 0, 0]), r"truncated IDX header"),
    ],
)
def test_parse_idx_rejects_corruption(data: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_idx(data, expected_magic=2051, source="f.idx")


def test_truncated_gzip_is_a_data_error(tmp_path: Path) -> None:
    blob = gzip.compress(idx_bytes(np.zeros((50, 28, 28), np.uint8)))
    (tmp_path / "bad.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"data\.path: cannot read .*bad\.gz"):
        read_idx(tmp_path / "bad.gz")


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_official_test_split(tmp_path: Path, gz: bool) -> None:
    x, y = _tiny(40)
    xt, yt = _tiny(20, seed=1)
    write_idx_pair(tmp_path, "train", x, y, gz=gz)
    write_idx_pair(tmp_path, "t10k", xt, yt, gz=gz)
    bundle = load_data({"name": "mnist", "path": tmp_path, "split": [0.75, 0.25, 0.0]})
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (30, 10, 20)
    assert bundle.meta.input_shape == (1, 28, 28) and bundle.meta.class_names == [str(i) for i in range(10)]
    assert bundle.test.y.tolist() == yt.tolist()
    assert bundle.meta.extra["split"]["test_source"] == "the t10k files"
    mean, std = bundle.meta.mean[0], bundle.meta.std[0]
    assert np.allclose(bundle.test.x[:, 0].numpy() * std + mean, xt / 255.0, atol=1e-5)


def test_mnist_without_official_test_ignores_t10k(tmp_path: Path) -> None:
    write_idx_pair(tmp_path, "train", *_tiny(40), gz=False)
    write_idx_pair(tmp_path, "t10k", *_tiny(20, seed=1), gz=False)
    bundle = load_data({"name": "mnist", "path": tmp_path, "use_official_test": False})
    assert len(bundle.train) + len(bundle.val) + len(bundle.test) == 40
    assert bundle.meta.extra["pool"] == "train files (t10k files ignored)"


def test_only_t10k_files_are_split(tmp_path: Path) -> None:
    x, y = _tiny(50)
    write_idx_pair(tmp_path, "t10k", x, y, gz=True)
    bundle = load_data({"name": "fashion-mnist", "path": tmp_path, "holdout_last": 10})
    assert bundle.meta.class_names == FASHION_CLASSES
    assert bundle.test.y.tolist() == y[40:].tolist()
    assert bundle.meta.extra["pool"] == "t10k files only (50 samples, the official test set)"


def test_missing_dataset_says_what_to_put_where(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_data({"name": "fashion-mnist", "path": tmp_path})
    text = str(info.value)
    assert text.startswith(
        "data.path: dataset 'fashion-mnist' not found: expected the files train-images-idx3-ubyte"
    )
    assert str(tmp_path) in text and "t10k-labels-idx1-ubyte[.gz]" in text
    assert "never downloads data; fetching it needs network access" in text


def test_half_a_pair_and_mismatched_counts(tmp_path: Path) -> None:
    x, y = _tiny(10)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(x))
    with pytest.raises(
        DataError, match=r"found only one of the train files .*train-labels-idx1-ubyte is missing"
    ):
        load_data({"name": "mnist", "path": tmp_path})
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(y[:9]))
    with pytest.raises(DataError, match=r"10 images but train-labels-idx1-ubyte has 9 labels"):
        load_data({"name": "mnist", "path": tmp_path})
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(10, 12, np.uint8)))
    with pytest.raises(DataError, match=r"holds label 12; expected 0\.\.9"):
        load_data({"name": "mnist", "path": tmp_path})


def test_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(DataError, match=r"data\.path: dataset 'mnist' expects a folder, got the file"):
        load_data({"name": "mnist", "path": tmp_path / "f"})


def test_real_fashion_mnist_checksums_and_classes(shared_data: Path) -> None:
    folder = shared_data / "fashion-mnist"
    for name, md5 in FASHION_MD5.items():
        assert hashlib.md5(gzip.decompress((folder / name).read_bytes())).hexdigest() == md5
    images = read_idx(folder / "t10k-images-idx3-ubyte.gz", expected_magic=2051)
    labels = read_idx(folder / "t10k-labels-idx1-ubyte.gz", expected_magic=2049)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10


def test_real_fashion_mnist_holdout_split(shared_data: Path) -> None:
    bundle = load_data({"name": "fashion-mnist", "path": shared_data / "fashion-mnist", "holdout_last": 2000})
    labels = read_idx(shared_data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz")
    assert len(bundle.train) + len(bundle.val) == 8000 and len(bundle.test) == 2000
    assert bundle.test.y.tolist() == labels[8000:].tolist()
    assert bundle.meta.class_names[0] == "T-shirt/top" and bundle.meta.class_names[9] == "Ankle boot"
    split = bundle.meta.extra["split"]
    assert split["test_source"] == "last 2000 samples (data.holdout_last)"
    assert bundle.meta.extra["pool"] == "t10k files only (10000 samples, the official test set)"
    counts = np.bincount(bundle.train.y.numpy(), minlength=10)
    expected = np.bincount(labels[:8000], minlength=10) * len(bundle.train) / 8000
    assert np.all(np.abs(counts - expected) <= 2)  # stratified
