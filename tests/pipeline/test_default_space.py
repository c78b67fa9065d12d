"""``search.space: default`` (or no space) end to end, and ``search.retrain_on``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from autoopt.exceptions import InvalidSpecError
from autoopt.pipeline import load_spec, tune_spec

SPEC = {
    "name": "dflt",
    "threads": 1,
    "data": {"name": "digits", "limit": 300},
    "model": {"name": "cnn", "params": {"channels": 8}},
    "training": {"epochs": 1, "device": "cpu"},
    "search": {"trials": 2, "space": "default", "scheduler": "none"},
}


def write(tmp_path: Path, spec: dict) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


@pytest.mark.parametrize("space", ["default", None])
def test_default_space_is_resolved_without_the_fixed_keys(tmp_path: Path, space: str | None) -> None:
    raw = {**SPEC, "search": {k: v for k, v in SPEC["search"].items() if k != "space" or space}}
    spec = load_spec(write(tmp_path, raw))
    assert isinstance(spec.search.space, dict)
    assert {"model.blocks", "model.dropout", "training.lr", "training.schedule"} <= set(spec.search.space)
    assert "model.channels" not in spec.search.space and "training.epochs" not in spec.search.space
    assert spec.search.space["model.blocks"] == {"type": "int", "low": 1, "high": 3}  # 8x8 digits


def test_default_space_tries_its_default_point_first_and_retrains_on_train_val(tmp_path: Path) -> None:
    spec = {**SPEC, "search": {**SPEC["search"], "retrain_best": True, "retrain_on": "train+val"}}
    res = tune_spec(write(tmp_path, spec), out=tmp_path / "run")
    first = res.search.trials[0].params
    assert first["training.lr"] == 0.003 and first["training.schedule"] == "onecycle"
    assert first["model.blocks"] == 3
    assert (tmp_path / "run" / "best" / "retrain" / "model.safetensors").is_file()
    written = yaml.safe_load((tmp_path / "run" / "spec.yaml").read_text())
    assert written["search"]["space"]["model.blocks"] == {"type": "int", "low": 1, "high": 3}


def test_retrain_on_needs_retrain_best(tmp_path: Path) -> None:
    spec = {**SPEC, "search": {**SPEC["search"], "retrain_on": "train+val"}}
    with pytest.raises(
        InvalidSpecError, match=r"search\.retrain_on: 'train\+val' needs search\.retrain_best: true"
    ):
        load_spec(write(tmp_path, spec))


def test_one_trial_without_a_space_trains_once(tmp_path: Path) -> None:
    raw = {**SPEC, "search": {"trials": 1, "scheduler": "none"}}
    assert load_spec(write(tmp_path, raw)).search.space == {}


def test_a_missing_dataset_is_an_error_only_when_files_are_checked(tmp_path: Path) -> None:
    raw = {**SPEC, "data": {"name": "cifar10", "path": str(tmp_path / "absent")}}
    assert load_spec(write(tmp_path, raw), check_files=False).search.space == {}
    with pytest.raises(InvalidSpecError, match=r"search\.space: the default space needs the data's shape"):
        load_spec(write(tmp_path, raw))
