"""Image upload to model input: decode the PNG, match channels, resize, scale and normalize per the card."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from autoopt.serve._card import Preprocessing

__all__ = ["preprocess_image", "resize", "warm_up_decoder"]

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, RGB -> gray


def warm_up_decoder() -> threading.Thread:
    """Import the PNG decoder in the background.

    It lives in ``autoopt.data``, whose package import pulls in torch and pandas (seconds); doing that in
    a thread lets the server answer ``/health`` and ``/predict`` meanwhile. The first image request waits
    for the import if it is still running.
    """
    thread = threading.Thread(
        target=importlib.import_module,
        args=("autoopt.data._png",),
        name="autoopt-serve-png-import",
        daemon=True,
    )
    thread.start()
    return thread


@lru_cache(maxsize=64)
def _resize_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` weights of a triangle (bilinear) filter, widened when shrinking (antialias).

    Matches ``torch.nn.functional.interpolate(mode="bilinear", antialias=True, align_corners=False)``,
    the resize ``autoopt.data`` applies while training.
    """
    scale = n_in / n_out
    support = max(scale, 1.0)
    centers = (np.arange(n_out) + 0.5) * scale
    taps = np.arange(n_in) + 0.5
    weights = np.clip(1.0 - np.abs(taps[None, :] - centers[:, None]) / support, 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def resize(image: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Resize a ``(channels, height, width)`` image to ``size = (height, width)``: bilinear, antialiased."""
    height, width = int(size[0]), int(size[1])
    if image.shape[1:] == (height, width):
        return image
    rows, cols = _resize_weights(image.shape[1], height), _resize_weights(image.shape[2], width)
    return np.einsum("hi,cij,wj->chw", rows, image, cols)


def _to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """``(H, W)`` or ``(H, W, 3)`` pixels to ``(channels, H, W)`` floats; gray repeated, RGB to luma."""
    image = pixels.astype(np.float64)
    image = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    if image.shape[0] == channels:
        return image
    if channels == 1:
        return np.tensordot(_LUMA, image, axes=1)[None]
    if image.shape[0] == 1:
        return np.repeat(image, channels, axis=0)
    raise ValueError(
        f"image: expected a gray or RGB image convertible to {channels} channels, got {image.shape[0]}"
    )


def preprocess_image(
    data: bytes, pre: Preprocessing, sample_shape: Sequence[int | None], dtype: np.dtype
) -> np.ndarray:
    """Decode PNG bytes and prepare them as one model input, the way the card says.

    Steps: decode (8-bit pixels; alpha dropped) -> ``channels`` (gray repeated, RGB to gray by BT.601
    luma) -> resize to ``image_size`` (else the model's fixed height and width) -> divide by
    ``pixel_scale`` -> ``(x - mean) / std`` per channel.

    Args:
        data: the PNG file's bytes.
        pre: the card's preprocessing.
        sample_shape: the model's ``(channels, height, width)``; ``None`` for a dynamic dimension.
        dtype: the model input's dtype.

    Returns:
        A ``(1, channels, height, width)`` array.

    Raises:
        autoopt.exceptions.DataError: not a PNG, or a corrupt or unsupported one.
        ValueError: an image whose channels cannot be converted.
    """
    from autoopt.data._png import decode_png  # lazily: autoopt.data imports torch (see warm_up_decoder)

    pixels = decode_png(data, source="image")
    channels = pre.channels or sample_shape[0] or (1 if pixels.ndim == 2 else 3)
    image = _to_channels(pixels, channels)
    height, width = pre.image_size or (sample_shape[1], sample_shape[2])
    if height is not None and width is not None:
        image = resize(image, (height, width))
    image = image / pre.pixel_scale
    if pre.mean is not None:
        image = image - np.asarray(pre.mean, dtype=np.float64).reshape(-1, 1, 1)
    if pre.std is not None:
        image = image / np.asarray(pre.std, dtype=np.float64).reshape(-1, 1, 1)
    return image[None].astype(dtype)
