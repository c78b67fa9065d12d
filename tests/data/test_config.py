from __future__ import annotations

import pytest
from pydantic import ValidationError

from autoopt.data import DataConfig, as_config, list_datasets, load_data
from autoopt.exceptions import InvalidSpecError, UnknownNameError


def test_defaults_and_list_form_of_split() -> None:
    cfg = as_config({"name": "digits", "split": [0.8, 0.1, 0.1], "image_size": 16})
    assert cfg.split.as_tuple() == (0.8, 0.1, 0.1)
    assert cfg.image_size == (16, 16)
    assert DataConfig().split.as_tuple() == (0.7, 0.15, 0.15)
    assert DataConfig().normalize is True and DataConfig().use_official_test is True


def test_every_source_is_registered() -> None:
    assert set(list_datasets()) >= {
        "digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "image-folder", "csv", "parquet", "npz",
    }  # fmt: skip


def test_split_must_sum_to_one() -> None:
    with pytest.raises(
        InvalidSpecError, match=r"data\.split: train \+ val \+ test must sum to 1, got 0\.7 \+ 0\.2"
    ):
        as_config({"name": "digits", "split": {"train": 0.7, "val": 0.2, "test": 0.2}})


def test_split_list_needs_three_numbers() -> None:
    with pytest.raises(
        InvalidSpecError, match=r"data\.split: expected \[train, val, test\] \(3 numbers\), got 2"
    ):
        as_config({"name": "digits", "split": [0.5, 0.5]})


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(
        InvalidSpecError, match=r"data\.name: unknown dataset 'digts'; expected one of: .*digits"
    ):
        as_config({"name": "digts"})
    with pytest.raises(UnknownNameError, match=r"data\.name: unknown dataset 'nope'"):
        from autoopt.data import datasets

        datasets.get("nope", key="data.name")


def test_path_and_target_required_where_needed() -> None:
    with pytest.raises(InvalidSpecError) as info:
        as_config({"name": "csv"})
    assert info.value.errors == [
        "data.path: dataset 'csv' needs a path (a file or folder), got none",
        "data.target: dataset 'csv' needs the name of the target column, got none",
    ]


def test_unknown_key_and_bad_values_are_all_reported() -> None:
    with pytest.raises(InvalidSpecError) as info:
        load_data({"name": "digits", "sead": 1, "limit": 0, "augment": {"rotate": -5}})
    text = str(info.value)
    assert text.startswith("3 errors:")
    assert "data.sead: unknown key; expected one of: name, path" in text
    assert "data.limit: must be > 0; got 0" in text
    assert "data.augment.rotate: must be >= 0.0; got -5" in text


def test_model_itself_forbids_extra_keys() -> None:
    with pytest.raises(ValidationError):
        DataConfig(name="digits", bogus=1)  # type: ignore[call-arg]


def test_non_mapping_config_is_refused() -> None:
    with pytest.raises(InvalidSpecError, match="data: expected a mapping or a dataset name, got int"):
        as_config(3)  # type: ignore[arg-type]
