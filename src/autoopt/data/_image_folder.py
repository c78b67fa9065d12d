"""``image-folder``: one sub-folder per class, images as ``.npy`` or ``.png`` (other formats with Pillow).

Layouts::

    root/<class>/<image>                       split by data.split
    root/train/<class>/<image>  root/test/<class>/<image>   test/ is the official test split

Images must share one size unless ``data.image_size`` is set (then each is resized, bilinear with
antialiasing). Grayscale images are repeated to RGB when the folder mixes both.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from autoopt.data._config import DataConfig
from autoopt.data._png import decode_png
from autoopt.data._registry import Part, RawData, register_dataset
from autoopt.exceptions import DataError

__all__ = ["PILLOW_SUFFIXES", "read_image"]

PILLOW_SUFFIXES = {".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
_BUILTIN_SUFFIXES = {".npy", ".png"}


def _pillow() -> Any | None:
    try:
        return importlib.import_module("PIL.Image")
    except ImportError:
        return None


def _to_hwc(image: np.ndarray, source: str) -> np.ndarray:
    if image.ndim == 2:
        return image[:, :, None]
    if image.ndim == 3 and image.shape[2] in (1, 3, 4):
        return image[:, :, :3]
    if image.ndim == 3 and image.shape[0] in (1, 3):  # (C, H, W)
        return np.moveaxis(image, 0, -1)
    raise DataError(f"{source}: expected an image of shape (H, W), (H, W, C) or (C, H, W), got {image.shape}")


def read_image(path: Path) -> np.ndarray:
    """Read one image as ``(H, W, C)`` with C in {1, 3} (``uint8``, or floats from ``.npy``).

    Args:
        path: a ``.npy`` or ``.png`` file, or any format Pillow reads when it is installed.

    Raises:
        DataError: unreadable or malformed file, or a format that needs Pillow when it is missing.
    """
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            image = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read the .npy image: {exc}") from exc
        if image.dtype.kind not in "uif" or image.dtype.kind in "ui" and image.dtype != np.uint8:
            raise DataError(f"{path}: expected a uint8 or float .npy image, got dtype {image.dtype}")
        return _to_hwc(image, str(path))
    pil = _pillow()
    if pil is not None:
        try:
            with pil.open(path) as im:
                return _to_hwc(
                    np.asarray(im.convert("L" if im.mode in ("1", "L", "LA", "I", "I;16") else "RGB")),
                    str(path),
                )
        except OSError as exc:
            raise DataError(f"{path}: cannot read the image: {exc}") from exc
    if suffix == ".png":
        return _to_hwc(decode_png(path.read_bytes(), str(path)), str(path))
    raise DataError(
        f"{path}: reading {suffix} images needs Pillow, which is not installed; pip install pillow "
        "(or convert the images to .png or .npy)"
    )


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    if image.dtype == np.uint8:
        t = t / 255.0
    if tuple(t.shape[-2:]) != size:
        t = F.interpolate(t, size=size, mode="bilinear", antialias=True, align_corners=False)
    return t[0].permute(1, 2, 0).numpy()


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [p for p in files if p.suffix.lower() in _BUILTIN_SUFFIXES | PILLOW_SUFFIXES]


def _read_split(root: Path, classes: list[str], size: tuple[int, int] | None) -> Part:
    images: list[np.ndarray] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        folder = root / name
        files = _image_files(folder) if folder.is_dir() else []
        if not files and root.name != "test":
            raise DataError(
                f"data.path: class folder {str(folder)!r} holds no images; expected .png or .npy files "
                f"(or {', '.join(sorted(PILLOW_SUFFIXES))} with Pillow)"
            )
        for file in files:
            image = read_image(file)
            images.append(_resize(image, size) if size is not None else image)
            labels.append(index)
    if not images:
        raise DataError(f"data.path: {str(root)!r} holds no images")
    shapes = sorted({im.shape[:2] for im in images})
    if len(shapes) > 1:
        shown = ", ".join(f"{h}x{w}" for h, w in shapes[:5])
        raise DataError(
            f"data.image_size: images in {str(root)!r} have different sizes ({shown}); "
            "set data.image_size to resize them"
        )
    if any(im.dtype != images[0].dtype for im in images):  # mixed uint8/float .npy files: all in [0, 1]
        images = [im / 255.0 if im.dtype == np.uint8 else im for im in images]
    channels = max(im.shape[2] for im in images)
    x = np.stack([np.repeat(im, channels, axis=2) if im.shape[2] != channels else im for im in images])
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), np.array(labels, dtype=np.int64), []


@register_dataset("image-folder", "image_folder", needs=("path",))
def _load_image_folder(config: DataConfig) -> RawData:
    root = config.resolved_path()
    if not root.is_dir():
        raise DataError(
            f"data.path: expected a folder with one sub-folder per class, got {str(root)!r} (not found)"
        )
    split_layout = (root / "train").is_dir() and (root / "test").is_dir()
    train_root = root / "train" if split_layout else root
    classes = [p.name for p in _class_dirs(train_root)]
    if not classes:
        raise DataError(f"data.path: expected one sub-folder per class in {str(train_root)!r}, found none")
    test: Part | None = None
    if split_layout:
        unknown = sorted({p.name for p in _class_dirs(root / "test")} - set(classes))
        if unknown:
            raise DataError(f"data.path: test/ has class folders that train/ lacks: {', '.join(unknown)}")
        test = _read_split(root / "test", classes, config.image_size)
    train = _read_split(train_root, classes, config.image_size)
    if test is not None and train[0].shape[1:] != test[0].shape[1:]:
        raise DataError(
            f"data.image_size: train images have shape {train[0].shape[1:]} but test images "
            f"{test[0].shape[1:]}; set data.image_size to resize them"
        )
    raw = RawData.from_parts(
        train, test, use_official_test=config.use_official_test, class_names=classes, test_name="test/ folder"
    )
    raw.extra.pop("files", None)  # one entry per image would bloat the model card
    raw.extra["layout"] = "train/ + test/" if split_layout else "one folder per class"
    return raw
