from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from autoopt.data import DataBundle, TensorData, load_data
from autoopt.exceptions import DataError


def test_digits_shapes_dtypes_and_meta() -> None:
    bundle = load_data("digits")
    assert isinstance(bundle, DataBundle)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (1258, 270, 269)
    x, y = bundle.train[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    meta = bundle.meta
    assert meta.input_shape == (1, 8, 8) and meta.is_image and meta.num_classes == 10
    assert meta.class_names == [str(i) for i in range(10)]
    assert meta.extra["pixel_scale"] == pytest.approx(1 / 16)
    assert meta.to_dict()["input_shape"] == [1, 8, 8]


def test_normalization_uses_train_statistics_only() -> None:
    bundle = load_data("digits")
    train = bundle.train.x
    assert abs(float(train.mean())) < 1e-5 and abs(float(train.std(correction=0)) - 1) < 1e-4
    # val/test are normalized with the train statistics, so they are not exactly standardized.
    assert abs(float(bundle.test.x.mean())) > 1e-4


def test_stats_equal_the_train_split_not_the_whole_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 100, size=(60, 2, 4, 4)).astype(np.uint8)
    x_test = np.full((20, 2, 4, 4), 255, dtype=np.uint8)  # outliers that must not move the stats
    y_train, y_test = np.arange(60) % 3, np.arange(20) % 3
    np.savez(tmp_path / "d.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    bundle = load_data({"name": "npz", "path": tmp_path / "d.npz", "split": [0.5, 0.5, 0.0]})
    raw = load_data({"name": "npz", "path": tmp_path / "d.npz", "split": [0.5, 0.5, 0.0], "normalize": False})
    assert torch.equal(raw.train.y, bundle.train.y)  # the same seed gives the same train split
    train_mean = raw.train.x.double().mean(dim=(0, 2, 3))
    train_std = raw.train.x.double().std(dim=(0, 2, 3), correction=0)
    assert np.allclose(bundle.meta.mean, train_mean.numpy(), atol=1e-6)
    assert np.allclose(bundle.meta.std, train_std.numpy(), atol=1e-6)
    whole = np.concatenate([x_train, x_test]) / 255.0
    assert all(m < whole[:, c].mean() - 0.1 for c, m in enumerate(bundle.meta.mean))
    assert bundle.meta.extra["split"]["test_source"] == "x_test, y_test"
    assert torch.allclose(
        bundle.test.x[0, 0], torch.full((4, 4), (1 - bundle.meta.mean[0]) / bundle.meta.std[0])
    )


def test_augmentation_varies_train_items_only() -> None:
    bundle = load_data({"name": "digits", "augment": {"hflip": True, "random_crop": 2, "rotate": 15}})
    torch.manual_seed(0)
    draws = torch.stack([bundle.train[5][0] for _ in range(8)])
    assert not all(torch.equal(draws[0], d) for d in draws[1:])
    assert torch.equal(bundle.val[3][0], bundle.val[3][0]) and bundle.val.transform is None
    assert torch.equal(bundle.test[3][0], bundle.test.x[3])
    assert bundle.train[5][0].shape == (1, 8, 8)
    assert bundle.meta.extra["augment"] == {"hflip": True, "random_crop": 2, "rotate": 15.0}


def test_augmentation_on_tables_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "t.npz", x=np.random.rand(30, 3), y=np.arange(30) % 2)
    with pytest.raises(DataError, match=r"data\.augment: augmentation applies to images only.*shape \(3,\)"):
        load_data({"name": "npz", "path": tmp_path / "t.npz", "augment": {"hflip": True}})


def test_dataloader_batches_through_getitems() -> None:
    bundle = load_data({"name": "digits", "limit": 100, "augment": {"hflip": True}})
    xb, yb = next(iter(DataLoader(bundle.train, batch_size=16, shuffle=True)))
    assert xb.shape == (16, 1, 8, 8) and yb.shape == (16,) and yb.dtype == torch.int64
    assert len(bundle.train) + len(bundle.val) + len(bundle.test) == 100


def test_limit_keeps_every_class() -> None:
    bundle = load_data({"name": "digits", "limit": 200, "seed": 2})
    assert len(bundle.train) == 140
    assert set(bundle.train.y.tolist()) == set(range(10))


def test_image_size_resizes_any_image_source() -> None:
    bundle = load_data({"name": "digits", "image_size": [16, 12], "limit": 50})
    assert bundle.meta.input_shape == (1, 16, 12) and bundle.test[0][0].shape == (1, 16, 12)


def test_normalize_false_keeps_pixel_values() -> None:
    bundle = load_data({"name": "digits", "normalize": False, "limit": 50})
    assert bundle.meta.mean is None and bundle.meta.std is None
    assert float(bundle.train.x.min()) >= 0 and float(bundle.train.x.max()) <= 1


def test_npz_regression_and_features(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(40, 3))
    np.savez(tmp_path / "r.npz", x=x, y=x.sum(axis=1))
    bundle = load_data({"name": "npz", "path": str(tmp_path / "r.npz")})
    assert bundle.meta.task == "regression" and bundle.meta.num_classes is None
    assert bundle.train[0][1].dtype == torch.float32 and bundle.meta.input_shape == (3,)
    assert bundle.meta.feature_names == ["x0", "x1", "x2"]
    assert isinstance(bundle.train, TensorData) and len(bundle.train) == 28


def test_npz_nhwc_images_are_transposed(tmp_path: Path) -> None:
    np.savez(tmp_path / "i.npz", x=np.zeros((10, 5, 6, 3), np.uint8), y=np.arange(10) % 2)
    assert load_data({"name": "npz", "path": tmp_path / "i.npz"}).meta.input_shape == (3, 5, 6)


def test_npz_bad_inputs(tmp_path: Path) -> None:
    np.savez(tmp_path / "k.npz", a=np.zeros(3))
    with pytest.raises(DataError, match=r"data\.path: .*must hold arrays x and y .*got \['a'\]"):
        load_data({"name": "npz", "path": tmp_path / "k.npz"})
    np.savez(tmp_path / "n.npz", x=np.zeros((4, 2)), y=np.zeros(5))
    with pytest.raises(DataError, match=r"data\.path: x has 4 samples but y has 5"):
        load_data({"name": "npz", "path": tmp_path / "n.npz"})
    with pytest.raises(DataError, match=r"data\.path: expected an \.npz file, got .*missing\.npz.*not found"):
        load_data({"name": "npz", "path": tmp_path / "missing.npz"})
    np.savez(tmp_path / "s.npz", x=np.zeros((4, 2, 2, 2, 2)), y=np.zeros(4))
    with pytest.raises(DataError, match=r"array 'x' has shape \(4, 2, 2, 2, 2\); expected \(N, F\)"):
        load_data({"name": "npz", "path": tmp_path / "s.npz"})


def test_holdout_last_and_conflicts(tmp_path: Path) -> None:
    y = np.arange(100) % 4
    np.savez(tmp_path / "h.npz", x=np.arange(100, dtype=np.float32)[:, None], y=y)
    bundle = load_data({"name": "npz", "path": tmp_path / "h.npz", "holdout_last": 20, "normalize": False})
    assert sorted(bundle.test.x[:, 0].tolist()) == list(range(80, 100))
    assert bundle.meta.extra["split"]["test_source"] == "last 20 samples (data.holdout_last)"
    assert len(bundle.train) + len(bundle.val) == 80 and float(bundle.train.x.max()) < 80
    with pytest.raises(
        DataError, match=r"data\.holdout_last: must be below the number of samples \(100\), got 100"
    ):
        load_data({"name": "npz", "path": tmp_path / "h.npz", "holdout_last": 100})
    np.savez(tmp_path / "o.npz", x_train=np.zeros((8, 2)), y_train=np.arange(8) % 2, x_test=np.zeros((4, 2)),
             y_test=np.arange(4) % 2)  # fmt: skip
    with pytest.raises(DataError, match=r"data\.holdout_last: this source ships its own test split"):
        load_data({"name": "npz", "path": tmp_path / "o.npz", "holdout_last": 2})
    ignored = load_data({"name": "npz", "path": tmp_path / "o.npz", "use_official_test": False})
    assert len(ignored.train) + len(ignored.val) + len(ignored.test) == 8
