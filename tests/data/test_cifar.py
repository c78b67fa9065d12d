from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from autoopt.data import load_data
from autoopt.data._cifar import CIFAR10_CLASSES, parse_cifar_binary
from autoopt.data._unpickle import safe_load_pickle
from autoopt.exceptions import DataError


def _records(n: int, labels: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 3, 32, 32)).astype(np.uint8)
    y = rng.integers(0, 10, size=(n, labels)).astype(np.uint8)
    y[:, -1] = np.arange(n) % 10
    return np.concatenate([y, images.reshape(n, -1)], axis=1).tobytes(), images, y


def _cifar10_binary(folder: Path, per_batch: int = 4) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}.bin").write_bytes(_records(per_batch, 1, i)[0])
    data, images, y = _records(10, 1, 99)
    (folder / "test_batch.bin").write_bytes(data)
    return images, y[:, 0]


def test_cifar10_binary(tmp_path: Path) -> None:
    test_images, test_labels = _cifar10_binary(tmp_path / "cifar-10-batches-bin")
    bundle = load_data({"name": "cifar10", "path": tmp_path, "split": [0.8, 0.2, 0.0], "normalize": False})
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (16, 4, 10)
    assert bundle.meta.input_shape == (3, 32, 32) and bundle.meta.class_names == CIFAR10_CLASSES
    assert (
        np.allclose(bundle.test.x.numpy(), test_images / 255.0)
        and bundle.test.y.tolist() == test_labels.tolist()
    )
    assert bundle.meta.extra["format"] == "binary" and "test_batch.bin" in bundle.meta.extra["files"]


def test_cifar_binary_size_check() -> None:
    with pytest.raises(
        DataError, match=r"x\.bin: 3072 bytes is not a whole number of 3073-byte CIFAR records"
    ):
        parse_cifar_binary(b"\x00" * 3072, label_bytes=1, source="x.bin")


def test_cifar10_missing_batch_is_named(tmp_path: Path) -> None:
    _cifar10_binary(tmp_path)
    (tmp_path / "data_batch_3.bin").unlink()
    with pytest.raises(DataError, match=r"has only some CIFAR batches; missing: data_batch_3\.bin"):
        load_data({"name": "cifar10", "path": tmp_path})


def test_cifar100_binary_fine_and_coarse(tmp_path: Path) -> None:
    data, _, y = _records(20, 2, 0)
    (tmp_path / "train.bin").write_bytes(data)
    data_t, _, y_t = _records(10, 2, 1)
    (tmp_path / "test.bin").write_bytes(data_t)
    fine = load_data({"name": "cifar100", "path": tmp_path})
    assert fine.meta.num_classes == 100 and fine.test.y.tolist() == y_t[:, 1].tolist()
    coarse = load_data({"name": "cifar100", "path": tmp_path, "label_type": "coarse"})
    assert coarse.meta.num_classes == 20 and coarse.test.y.tolist() == y_t[:, 0].tolist()
    assert coarse.meta.extra["label_type"] == "coarse"


def _write_pickle(path: Path, obj: object, protocol: int) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_python_version(tmp_path: Path, protocol: int) -> None:
    rng = np.random.default_rng(0)
    for i, stem in enumerate([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]):
        batch = {
            b"data": rng.integers(0, 256, (6, 3072)).astype(np.uint8),
            b"labels": [j % 10 for j in range(6)],
        }
        if i == 5:
            expected = batch[b"data"].reshape(6, 3, 32, 32)
        _write_pickle(tmp_path / stem, batch, protocol)
    _write_pickle(
        tmp_path / "batches.meta", {b"label_names": [f"c{i}".encode() for i in range(10)]}, protocol
    )
    bundle = load_data({"name": "cifar10", "path": tmp_path, "normalize": False})
    assert bundle.meta.class_names == [f"c{i}" for i in range(10)] and bundle.meta.extra["format"] == "python"
    assert np.allclose(bundle.test.x.numpy(), expected / 255.0)
    assert len(bundle.train) + len(bundle.val) == 30


def test_numpy1_style_pickles_are_accepted(tmp_path: Path) -> None:
    """The published CIFAR pickles name numpy.core.multiarray (numpy 1.x); that spelling must load."""
    array = np.arange(3072, dtype=np.uint8).reshape(1, 3072)
    blob = pickle.dumps({b"data": array, b"labels": [3]}, protocol=2)
    blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in blob
    (tmp_path / "p").write_bytes(blob)
    loaded = safe_load_pickle(tmp_path / "p")
    assert np.array_equal(loaded[b"data"], array) and loaded[b"labels"] == [3]


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _write_pickle(tmp_path / "data_batch_1", {b"data": _Exploit(marker), b"labels": [0]}, 2)
    with pytest.raises(DataError, match=r"refused to unpickle: global (posix|os)\.system is not allowed"):
        safe_load_pickle(tmp_path / "data_batch_1")
    assert not marker.exists()
    # The same through the loader: the whole dataset fails with the same refusal.
    (tmp_path / "data_batch_1").unlink()
    _write_pickle(tmp_path / "test_batch", {b"data": _Exploit(marker), b"labels": [0]}, 4)
    with pytest.raises(DataError, match=r"refused to unpickle"):
        load_data({"name": "cifar10", "path": tmp_path})
    assert not marker.exists()
    # Control: the crafted file really is malicious; a plain pickle.load runs it (a harmless touch).
    pickle.loads((tmp_path / "test_batch").read_bytes())
    assert marker.exists()


def test_other_globals_are_refused(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(DataError, match=r"global builtins\.eval is not allowed"):
        safe_load_pickle(tmp_path / "p")
    (tmp_path / "q").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match=r"refused to unpickle|not a valid CIFAR pickle"):
        safe_load_pickle(tmp_path / "q")


def test_pickle_with_wrong_structure(tmp_path: Path) -> None:
    _write_pickle(tmp_path / "test_batch", {b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, 4)
    with pytest.raises(
        DataError, match=r"expected b'data' uint8 of shape \(N, 3072\) and N labels, got uint8 \(2, 10\)"
    ):
        load_data({"name": "cifar10", "path": tmp_path})
    _write_pickle(tmp_path / "test_batch", [1, 2], 4)
    with pytest.raises(DataError, match=r"expected a dict with keys b'data' and b'labels', got list"):
        load_data({"name": "cifar10", "path": tmp_path})


@pytest.mark.parametrize(("name", "file"), [("cifar10", "data_batch_1.bin"), ("cifar100", "train.bin")])
def test_missing_cifar(tmp_path: Path, name: str, file: str) -> None:
    with pytest.raises(
        DataError, match=rf"data\.path: dataset '{name}' not found: expected the files .*{file}"
    ) as e:
        load_data({"name": name, "path": tmp_path / "nowhere"})
    assert "autoopt never downloads data; fetching it needs network access" in str(e.value)
    assert "cs.toronto.edu" in str(e.value)
