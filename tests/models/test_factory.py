"""build_model: name resolution, parameter validation, user import paths, optional torchvision."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

from autoopt.data._bundle import DatasetMeta
from autoopt.exceptions import InvalidSpecError, UnknownNameError
from autoopt.models import (
    REQUIRED,
    WrappedModel,
    build_model,
    check_model_params,
    list_models,
    model_params,
    models,
)

META = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)


def test_list_models_is_the_registry() -> None:
    assert list_models() == models.names()
    assert {"mlp", "cnn", "resnet", "torchvision"} <= set(list_models())


def test_unknown_model_lists_valid_names_and_suggests() -> None:
    with pytest.raises(
        UnknownNameError, match=r"model\.name: unknown model 'cnm'; expected one of: .*\bcnn, .*\bmlp\b"
    ) as e:
        build_model("cnm", {}, META)
    assert "Did you mean 'cnn'?" in str(e.value)


def test_unknown_parameter_names_key_and_lists_accepted() -> None:
    with pytest.raises(InvalidSpecError) as e:
        build_model("cnn", {"widht": 3}, META)
    msg = str(e.value)
    assert msg.startswith("model.params.widht: unknown parameter for model 'cnn'; expected one of: ")
    assert "channels" in msg and "kernel_size" in msg


def test_key_prefix_is_configurable() -> None:
    with pytest.raises(InvalidSpecError, match=r"^distill\.student\.params\.depht: unknown parameter"):
        build_model("mlp", {"depht": 1}, META, key="distill.student.params")


def test_check_model_params_reports_every_unknown_key() -> None:
    with pytest.raises(InvalidSpecError) as e:
        check_model_params("mlp", {"a": 1, "b": 2, "depth": 3})
    assert [err.split(":")[0] for err in e.value.errors] == ["model.params.a", "model.params.b"]
    check_model_params("mlp", {"depth": 3, "width": [4, 4, 4]})  # no error


def test_model_params_gives_defaults() -> None:
    assert model_params("mlp") == {
        "depth": 2,
        "width": 128,
        "activation": "relu",
        "dropout": 0.0,
        "batch_norm": False,
    }
    assert model_params("resnet") == {"stages": 3, "width": 16, "blocks": 3, "dropout": 0.0, "head": "grid"}
    assert "arch" in model_params("torchvision")
    assert "arch" not in model_params("tv:resnet18")  # fixed by the name


@pytest.mark.parametrize(
    ("name", "params", "pattern"),
    [
        (
            "mlp",
            {"activation": "swish"},
            r"model\.params\.activation: expected one of: relu, gelu, silu, tanh; got 'swish'",
        ),
        (
            "mlp",
            {"depth": 2, "width": [8]},
            r"model\.params\.width: expected 2 values \(one per layer\); got 1",
        ),
        ("mlp", {"dropout": 1.5}, r"model\.params\.dropout: expected a number in \[0\.0, 1\.0\); got 1\.5"),
        ("mlp", {"depth": -1}, r"model\.params\.depth: expected an integer >= 0; got -1"),
        ("cnn", {"kernel_size": 4}, r"model\.params\.kernel_size: expected an odd integer; got 4"),
        ("cnn", {"pooling": "sum"}, r"model\.params\.pooling: expected one of: max, avg, none; got 'sum'"),
        ("cnn", {"blocks": True}, r"model\.params\.blocks: expected an integer >= 1; got True"),
        ("resnet", {"stages": 2, "blocks": [1, 2, 3]}, r"model\.params\.blocks: expected 2 values"),
    ],
)
def test_bad_values_name_the_parameter(name: str, params: dict, pattern: str) -> None:
    with pytest.raises(InvalidSpecError, match=pattern):
        build_model(name, params, META)


def test_image_model_on_a_table_says_so() -> None:
    table = DatasetMeta("wine", "classification", (13,), num_classes=3)
    with pytest.raises(InvalidSpecError, match=r"model\.params\.input_shape: model 'cnn' needs image inputs"):
        build_model("cnn", {}, table)


def test_classification_without_num_classes_is_refused() -> None:
    with pytest.raises(InvalidSpecError, match="num_classes >= 1; got None"):
        build_model("mlp", {}, DatasetMeta("x", "classification", (4,)))


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = "autoopt_test_user_models"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            import torch.nn as nn
            CALLS = []

            def build(meta, *, hidden=8, required_thing=None):
                CALLS.append(hidden)
                n_in = 1
                for s in meta.input_shape:
                    n_in *= s
                head = nn.Linear(hidden, meta.num_classes)
                return nn.Sequential(nn.Flatten(), nn.Linear(n_in, hidden), nn.ReLU(), head)

            def needs(meta, *, size):
                return nn.Linear(size, 2)

            def anything(meta, **params):
                return nn.Sequential(nn.Flatten(), nn.Linear(64, 3))

            def not_a_module(meta):
                return 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_user_model_by_import_path_is_wrapped(user_module: str) -> None:
    model = build_model(f"{user_module}:build", {"hidden": 5}, META)
    assert isinstance(model, WrappedModel)
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert model.num_features == 5
    assert model_params(f"{user_module}:build") == {"hidden": 8, "required_thing": None}


def test_user_model_unknown_param_is_refused_before_building(user_module: str) -> None:
    with pytest.raises(InvalidSpecError, match=r"model\.params\.hiden: unknown parameter"):
        build_model(f"{user_module}:build", {"hiden": 5}, META)
    assert sys.modules[user_module].CALLS == []


def test_user_model_required_and_var_keyword_params(user_module: str) -> None:
    assert model_params(f"{user_module}:needs") == {"size": REQUIRED}
    with pytest.raises(InvalidSpecError, match=r"model\.params\.size: required parameter"):
        build_model(f"{user_module}:needs", {}, META)
    check_model_params(f"{user_module}:anything", {"whatever": 1})  # **params accepts anything


@pytest.mark.parametrize(
    ("target", "pattern"),
    [
        (
            "autoopt_no_such_module_xyz:build",
            r"model\.name: cannot import module 'autoopt_no_such_module_xyz'",
        ),
        ("{mod}:missing", r"model\.name: module '.*' has no attribute 'missing'"),
        ("{mod}:CALLS", r"is not callable"),
        ("{mod}:not_a_module", r"returned int; expected an nn\.Module"),
    ],
)
def test_user_model_import_errors(user_module: str, target: str, pattern: str) -> None:
    with pytest.raises(InvalidSpecError, match=pattern):
        build_model(target.format(mod=user_module), {}, META)


def test_torchvision_missing_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.models", None)
    meta = DatasetMeta("cifar", "classification", (3, 32, 32), num_classes=10)
    with pytest.raises(
        InvalidSpecError, match=r"need the optional package torchvision.*pip install torchvision"
    ):
        build_model("tv:resnet18", {}, meta)
    with pytest.raises(InvalidSpecError, match="pip install torchvision"):
        build_model("torchvision", {"arch": "mobilenet_v3_small"}, meta)
