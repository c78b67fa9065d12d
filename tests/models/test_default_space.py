"""The default search space of each model family follows the data's shape and size."""

from __future__ import annotations

import pytest

from autoopt.data._bundle import DatasetMeta
from autoopt.models import build_model, default_epochs, default_point, default_space
from autoopt.space import Space


def _meta(shape: tuple[int, ...]) -> DatasetMeta:
    return DatasetMeta("fake", "classification", shape, num_classes=10)


@pytest.mark.parametrize(
    ("shape", "blocks"),
    [((1, 8, 8), (1, 3)), ((1, 28, 28), (2, 4)), ((3, 32, 32), (2, 4)), ((1, 4, 4), (1, 2))],
)
def test_cnn_depth_follows_the_resolution(shape: tuple[int, ...], blocks: tuple[int, int]) -> None:
    space = default_space("cnn", _meta(shape), 5000)
    assert (space["model.blocks"]["low"], space["model.blocks"]["high"]) == blocks
    assert ("model.convs_per_block" in space) is (shape[1] >= 16)


def test_every_default_point_builds_and_lies_in_its_space() -> None:
    for name, shape in [("cnn", (1, 8, 8)), ("cnn", (1, 28, 28)), ("resnet", (3, 32, 32)), ("mlp", (13,))]:
        space = default_space(name, _meta(shape), 1000)
        parsed = Space.from_dict(space)  # a valid search.space
        point = default_point(space)
        assert set(point) == set(parsed.distributions())
        for key, value in point.items():
            assert parsed.distributions()[key]._contains(parsed.distributions()[key].to_internal_repr(value))
        model_params = {k[len("model.") :]: v for k, v in point.items() if k.startswith("model.")}
        build_model(name, model_params, _meta(shape))


def test_fixed_keys_are_left_out_and_sgd_gets_its_own_lr_range() -> None:
    space = default_space(
        "cnn",
        _meta((1, 28, 28)),
        6800,
        model_params={"blocks": 2},
        training={"epochs": 3, "optimizer": "sgd"},
    )
    assert "model.blocks" not in space and "training.epochs" not in space
    assert space["training.lr"]["high"] == 0.3
    assert default_point(space, optimizer="sgd")["training.lr"] == 0.05


def test_batch_sizes_keep_steps_per_epoch_and_epochs_shrink_with_data() -> None:
    small = default_space("mlp", _meta((13,)), 150)["training.batch_size"]
    large = default_space("mlp", _meta((13,)), 50_000)["training.batch_size"]
    assert small == [16, 32] and large == [32, 64, 128, 256]
    assert default_epochs(1_300) > default_epochs(7_000) > default_epochs(45_000) >= 6
    assert default_epochs(10) == 20


def test_other_models_search_training_only() -> None:
    space = default_space("tv:resnet18", _meta((3, 32, 32)), 1000)
    assert space and all(k.startswith("training.") for k in space)
