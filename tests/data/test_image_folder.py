from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from autoopt.data import load_data
from autoopt.data._png import decode_png
from autoopt.exceptions import DataError

from .conftest import png_bytes


@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 3])
def test_png_decoder_round_trip(filter_type: int, channels: int) -> None:
    rng = np.random.default_rng(filter_type)
    shape = (7, 9) if channels == 1 else (7, 9, 3)
    image = rng.integers(0, 256, size=shape).astype(np.uint8)
    assert np.array_equal(decode_png(png_bytes(image, filter_type=filter_type)), image)


def test_png_corruption_is_a_data_error() -> None:
    data = bytearray(png_bytes(np.zeros((4, 4), np.uint8)))
    with pytest.raises(DataError, match=r"x\.png: not a PNG file"):
        decode_png(b"GIF89a", "x.png")
    data[20] ^= 0xFF  # inside IHDR: the CRC no longer matches
    with pytest.raises(DataError, match=r"x\.png: corrupt PNG \(bad 'IHDR' chunk\)"):
        decode_png(bytes(data), "x.png")
    with pytest.raises(DataError, match=r"truncated PNG"):
        decode_png(png_bytes(np.zeros((4, 4), np.uint8))[:-12], "x.png")


def _folder(root: Path, sizes: dict[str, list[tuple[int, ...]]], suffix: str = ".png") -> None:
    rng = np.random.default_rng(0)
    for cls, shapes in sizes.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i, shape in enumerate(shapes):
            image = rng.integers(0, 256, size=shape).astype(np.uint8)
            if suffix == ".png":
                (root / cls / f"{i}.png").write_bytes(png_bytes(image))
            else:
                np.save(root / cls / f"{i}.npy", image)


def test_image_folder_png_classes_and_split(tmp_path: Path) -> None:
    _folder(tmp_path, {"cat": [(6, 5, 3)] * 10, "dog": [(6, 5, 3)] * 10})
    (tmp_path / "cat" / "notes.txt").write_text("ignored")
    bundle = load_data({"name": "image-folder", "path": tmp_path, "split": [0.6, 0.2, 0.2]})
    assert bundle.meta.class_names == ["cat", "dog"] and bundle.meta.input_shape == (3, 6, 5)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (12, 4, 4)
    assert sorted(bundle.test.y.tolist()) == [0, 0, 1, 1]
    assert len(bundle.meta.mean) == 3


def test_image_folder_npy_gray_mixed_with_rgb_and_resize(tmp_path: Path) -> None:
    _folder(tmp_path, {"a": [(8, 8), (10, 6, 3)], "b": [(3, 12, 12), (9, 9)]}, suffix=".npy")
    with pytest.raises(DataError, match=r"data\.image_size: images in .* have different sizes \(8x8, 9x9"):
        load_data({"name": "image-folder", "path": tmp_path})
    bundle = load_data({"name": "image-folder", "path": tmp_path, "image_size": 4, "split": [0.5, 0.5, 0.0]})
    assert bundle.meta.input_shape == (3, 4, 4) and bundle.meta.extra["pixel_scale"] == 1.0


def test_image_folder_train_test_layout(tmp_path: Path) -> None:
    _folder(tmp_path / "train", {"x": [(4, 4)] * 6, "y": [(4, 4)] * 6}, suffix=".npy")
    _folder(tmp_path / "test", {"x": [(4, 4)] * 2, "y": [(4, 4)] * 3}, suffix=".npy")
    bundle = load_data({"name": "image-folder", "path": tmp_path})
    assert len(bundle.test) == 5 and bundle.meta.extra["split"]["test_source"] == "the test/ folder"
    assert bundle.meta.extra["layout"] == "train/ + test/" and bundle.meta.input_shape == (1, 4, 4)
    _folder(tmp_path / "test", {"z": [(4, 4)]}, suffix=".npy")
    with pytest.raises(DataError, match=r"data\.path: test/ has class folders that train/ lacks: z"):
        load_data({"name": "image-folder", "path": tmp_path})


def test_image_folder_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"data\.path: expected a folder with one sub-folder per class, got .*nope"
    ):
        load_data({"name": "image-folder", "path": tmp_path / "nope"})
    with pytest.raises(DataError, match=r"expected one sub-folder per class in .*, found none"):
        load_data({"name": "image-folder", "path": tmp_path})
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DataError, match=r"class folder .*empty' holds no images; expected \.png or \.npy files"
    ):
        load_data({"name": "image-folder", "path": tmp_path})


@pytest.mark.skipif(importlib.util.find_spec("PIL") is not None, reason="Pillow is installed, so JPEGs load")
def test_jpeg_without_pillow_says_how_to_fix(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "0.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(DataError, match=r"0\.jpg: reading \.jpg images needs Pillow, .*pip install pillow"):
        load_data({"name": "image-folder", "path": tmp_path})
