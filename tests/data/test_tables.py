from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from autoopt.data import load_data
from autoopt.exceptions import DataError


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "size": rng.normal(10, 3, n),
            "color": rng.choice(["red", "green", "blue"], n),
            "count": rng.integers(0, 5, n),
            "label": np.where(np.arange(n) % 3 == 0, "yes", "no"),
            "price": rng.normal(100, 20, n),
        }
    )


def test_csv_classification_encoding(tmp_path: Path) -> None:
    _frame().drop(columns="price").to_csv(tmp_path / "t.csv", index=False)
    bundle = load_data({"name": "csv", "path": tmp_path / "t.csv", "target": "label"})
    meta = bundle.meta
    assert meta.task == "classification" and meta.class_names == ["no", "yes"]
    assert meta.feature_names == ["size", "count", "color=blue", "color=green", "color=red"]
    assert meta.input_shape == (5,) and bundle.train[0][0].dtype == torch.float32
    onehot = bundle.train.x[:, 2:]
    assert torch.equal(onehot.sum(dim=1), torch.ones(len(bundle.train)))
    assert meta.mean[2:] == [0.0, 0.0, 0.0] and meta.std[2:] == [1.0, 1.0, 1.0]
    assert "non-numeric target" in meta.extra["task_source"]


def test_numeric_stats_come_from_train_rows(tmp_path: Path) -> None:
    frame = _frame()
    frame.to_csv(tmp_path / "t.csv", index=False)
    cfg = {"name": "csv", "path": tmp_path / "t.csv", "target": "price", "features": ["size"]}
    bundle = load_data(cfg)
    raw = load_data({**cfg, "normalize": False})
    assert bundle.meta.task == "regression" and bundle.train[0][1].dtype == torch.float32
    train_sizes = raw.train.x[:, 0].double()
    assert bundle.meta.mean[0] == pytest.approx(float(train_sizes.mean()))
    assert bundle.meta.std[0] == pytest.approx(float(train_sizes.std(correction=0)))
    assert bundle.meta.mean[0] != pytest.approx(frame["size"].mean(), abs=1e-9)
    assert abs(float(bundle.train.x.mean())) < 1e-5


def test_unseen_and_missing_values(tmp_path: Path) -> None:
    frame = pd.DataFrame({"f": ["a", "b"] * 10 + ["zzz"], "n": [1.0] * 20 + [None], "y": [0, 1] * 10 + [1]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    bundle = load_data({"name": "csv", "path": tmp_path / "t.csv", "target": "y", "holdout_last": 1})
    assert bundle.meta.feature_names == ["n", "f=a", "f=b"]  # 'zzz' only in the held-out row
    assert bundle.test.x.tolist() == [[0.0, 0.0, 0.0]]  # missing number -> train mean; unseen -> zeros


def test_task_inference_and_override(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(200.0), "many": np.arange(200), "few": np.arange(200) % 4})
    frame.to_csv(tmp_path / "t.csv", index=False)
    path = tmp_path / "t.csv"
    assert load_data({"name": "csv", "path": path, "target": "few"}).meta.num_classes == 4
    assert load_data({"name": "csv", "path": path, "target": "many"}).meta.task == "regression"
    forced = load_data({"name": "csv", "path": path, "target": "few", "task": "regression"})
    assert forced.meta.task == "regression" and forced.meta.extra["task_source"] == "set: regression"


def test_missing_target_column_lists_columns(tmp_path: Path) -> None:
    _frame().to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(
        DataError,
        match=r"data\.target: column 'lable' not found; the table has columns: size, color, count, label",
    ):
        load_data({"name": "csv", "path": tmp_path / "t.csv", "target": "lable"})
    with pytest.raises(DataError, match=r"data\.features: columns 'nope' not found"):
        load_data({"name": "csv", "path": tmp_path / "t.csv", "target": "label", "features": ["nope"]})
    with pytest.raises(
        DataError, match=r"data\.features: the target column 'label' cannot also be a feature"
    ):
        load_data({"name": "csv", "path": tmp_path / "t.csv", "target": "label", "features": ["label"]})


def test_bad_targets(tmp_path: Path) -> None:
    pd.DataFrame({"x": range(6), "y": ["a", None, "b", "a", "b", None]}).to_csv(
        tmp_path / "m.csv", index=False
    )
    with pytest.raises(DataError, match=r"data\.target: the target has 2 missing values \(rows 1, 5\)"):
        load_data({"name": "csv", "path": tmp_path / "m.csv", "target": "y"})
    pd.DataFrame({"x": range(6), "y": list("ababab")}).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(DataError, match=r"data\.task: regression needs a numeric target, got dtype"):
        load_data({"name": "csv", "path": tmp_path / "s.csv", "target": "y", "task": "regression"})
    pd.DataFrame({"x": range(6), "y": ["a"] * 6}).to_csv(tmp_path / "o.csv", index=False)
    with pytest.raises(
        DataError, match=r"data\.target: classification needs at least 2 classes, got 1: \['a'\]"
    ):
        load_data({"name": "csv", "path": tmp_path / "o.csv", "target": "y"})


def test_missing_and_empty_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data\.path: expected a csv file, got .*nope\.csv.*not found"):
        load_data({"name": "csv", "path": tmp_path / "nope.csv", "target": "y"})
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match=r"data\.path: cannot read .*e\.csv.* as csv"):
        load_data({"name": "csv", "path": tmp_path / "e.csv", "target": "y"})


def test_parquet_without_pyarrow_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(
        sys.modules, "pyarrow", None
    )  # makes `import pyarrow` fail even where it is installed
    with pytest.raises(
        DataError, match=r"'parquet' needs pyarrow, which is not installed; pip install 'autoopt\[parquet\]'"
    ):
        load_data({"name": "parquet", "path": tmp_path / "t.parquet", "target": "y"})


@pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is None, reason="pyarrow is not installed (autoopt[parquet])"
)
def test_parquet_round_trip(tmp_path: Path) -> None:
    _frame().to_parquet(tmp_path / "t.parquet")
    bundle = load_data({"name": "parquet", "path": tmp_path / "t.parquet", "target": "label"})
    assert bundle.meta.class_names == ["no", "yes"] and bundle.meta.input_shape == (6,)
