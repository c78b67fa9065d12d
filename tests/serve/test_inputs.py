"""Input checks and image preprocessing, in-process."""

from __future__ import annotations

import numpy as np
import pytest

from autoopt.serve._card import Preprocessing
from autoopt.serve._preprocess import preprocess_image, resize
from autoopt.serve._validate import InputError, check_batch

from .conftest import png_bytes

F32 = np.dtype(np.float32)


def test_valid_batch_becomes_array():
    batch = check_batch([[[1, 2.5]], [[0, -1]]], (1, 2), F32, max_batch=4)
    assert batch.dtype == np.float32 and batch.shape == (2, 1, 2)
    np.testing.assert_array_equal(batch, [[[1, 2.5]], [[0, -1]]])


def test_dynamic_dimension_accepts_any_size_but_checks_regularity():
    assert check_batch([[1.0, 2.0, 3.0]], (None,), F32, max_batch=4).shape == (1, 3)
    with pytest.raises(
        InputError, match=r"inputs\[0\]\[1\]: expected 2 items \(a regular nested list\), got 3"
    ):
        check_batch([[[1, 2], [1, 2, 3]]], (2, None), F32, max_batch=4)


def test_errors_are_listed_and_capped():
    sample = [["x"] * 20]
    with pytest.raises(InputError) as info:
        check_batch([sample], (1, 20), F32, max_batch=4)
    assert len(info.value.errors) == 10
    assert info.value.errors[0] == "inputs[0][0][0]: expected a number, got a string ('x')"


def test_nested_object_is_rejected():
    with pytest.raises(InputError, match=r"inputs\[0\]\[1\]: expected a number, got an object"):
        check_batch([[1, {"a": 1}]], (2,), F32, max_batch=4)


@pytest.mark.parametrize(("n_in", "n_out"), [(8, 8), (16, 8), (28, 8), (8, 16), (5, 13), (13, 5), (32, 7)])
def test_resize_matches_torch_bilinear_antialias(n_in, n_out):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    image = rng.random((3, n_in, n_in + 3))
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(image)[None],
        size=(n_out, n_out + 1),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )[0].numpy()
    np.testing.assert_allclose(resize(image, (n_out, n_out + 1)), expected, atol=1e-6)


def test_preprocess_image_channels_scale_and_normalize():
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 100, 200, 50
    pre = Preprocessing(mean=[0.5], std=[0.25], pixel_scale=255.0, image_size=None, channels=1)
    x = preprocess_image(png_bytes(rgb), pre, (1, 4, 4), F32)
    gray = 0.299 * 100 + 0.587 * 200 + 0.114 * 50
    assert x.shape == (1, 1, 4, 4)
    np.testing.assert_allclose(x, (gray / 255.0 - 0.5) / 0.25, rtol=1e-6)
    pre3 = Preprocessing(
        mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], pixel_scale=255.0, image_size=(2, 2), channels=3
    )
    x3 = preprocess_image(png_bytes(np.full((4, 4), 51, np.uint8)), pre3, (3, 2, 2), F32)
    assert x3.shape == (1, 3, 2, 2)
    np.testing.assert_allclose(x3, 0.2, rtol=1e-6)
