from __future__ import annotations

import pytest

from autoopt.distill import DistillConfig, DistillParams, TeacherSpec, training_config
from autoopt.exceptions import InvalidSpecError


def test_defaults_and_the_three_teacher_forms():
    cfg = DistillConfig.from_spec({"teacher": "runs/tuned"})
    assert (cfg.alpha, cfg.temperature, cfg.feature_weight) == (0.9, 4.0, 0.0)
    assert cfg.teacher.source == "run_dir" and str(cfg.teacher.run_dir) == "runs/tuned"
    ckpt = TeacherSpec(checkpoint="t.safetensors", model={"name": "cnn"})
    assert ckpt.source == "checkpoint"
    assert TeacherSpec(model={"name": "cnn"}, training={"epochs": 3}).source == "train"
    assert cfg.params() == DistillParams()


@pytest.mark.parametrize(
    "section, message",
    [
        ({"teacher": "r", "alpha": 1.5}, r"distill\.alpha: must be <= 1\.0; got 1\.5"),
        ({"teacher": "r", "temperature": 0}, r"distill\.temperature: must be > 0\.0; got 0"),
        ({"teacher": "r", "feature_weight": -2}, r"distill\.feature_weight: must be >= 0\.0; got -2"),
        ({"teacher": "r", "temprature": 4}, r"distill\.temprature: unknown key"),
        ({"teacher": "r", "student": {"nam": "mlp"}}, r"distill\.student\.nam: unknown key"),
        ({}, r"distill\.teacher: a value is required; got nothing"),
        ({"teacher": {"checkpoint": "t.pt"}}, r"distill\.teacher: checkpoint needs model"),
        (
            {"teacher": {"run_dir": "r", "model": {"name": "cnn"}}},
            r"distill\.teacher: run_dir names the whole",
        ),
        (
            {"teacher": {"run_dir": "r", "training": {"epochs": 2}}},
            r"distill\.teacher: training only applies",
        ),
        ({"teacher": {"training": {}}}, r"distill\.teacher: no teacher given"),
    ],
)
def test_bad_values_name_the_key(section, message):
    with pytest.raises(InvalidSpecError, match=message):
        DistillConfig.from_spec(section)


def test_every_problem_is_listed_at_once():
    with pytest.raises(InvalidSpecError) as info:
        DistillConfig.from_spec({"teacher": "r", "alpha": 2, "temperature": -1, "extra": 1})
    keys = sorted(line.partition(":")[0] for line in info.value.errors)
    assert keys == ["distill.alpha", "distill.extra", "distill.temperature"]


def test_missing_section_says_how_to_add_it():
    with pytest.raises(InvalidSpecError, match=r"distill: the spec has no distill section"):
        DistillConfig.from_spec(None)
    with pytest.raises(InvalidSpecError, match=r"distill: expected a mapping; got list"):
        DistillConfig.from_spec([1])


def test_training_overrides_are_named_under_their_own_key():
    assert training_config({"epochs": 3}, {"lr": 0.1}, "distill.training").lr == 0.1
    with pytest.raises(InvalidSpecError) as info:
        training_config({"lr": -1.0}, {"epochs": 0, "optimzer": "sgd"}, "distill.training")
    lines = info.value.errors
    assert any(line.startswith("training.lr: must be > 0") for line in lines)
    assert any(line.startswith("distill.training.epochs: must be >= 1") for line in lines)
    assert any(line.startswith("distill.training.optimzer: unknown key") for line in lines)
