"""Common checks generated from the model registry: a newly registered builder is tested at once."""

from __future__ import annotations

import importlib.util
import math
from typing import Any

import pytest
import torch

from autoopt.data._bundle import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.models import AutoOptModel, build_model, count_params, list_models, model_params
from autoopt.models._text import is_text_model

# Builders that need extra params (or an optional package) to build in a test.
EXTRA_PARAMS: dict[str, dict[str, Any]] = {"torchvision": {"arch": "resnet18", "small_input": True}}
OPTIONAL_PACKAGE = {"torchvision": "torchvision"}
IMAGE_SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]


def _meta(shape: tuple[int, ...], num_classes: int | None = 10) -> DatasetMeta:
    task = "classification" if num_classes is not None else "regression"
    return DatasetMeta("fake", task, shape, num_classes=num_classes)


def _build(name: str, meta: DatasetMeta) -> AutoOptModel:
    package = OPTIONAL_PACKAGE.get(name)
    if package and importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed")
    return build_model(name, EXTRA_PARAMS.get(name, {}), meta)


# The architecture spaces (nas-*) need their decisions; tests/nas builds every op and cell of them.
# Text models take token ids: tests/models/test_text_models.py runs the same checks on text.
@pytest.fixture(params=[n for n in list_models() if not n.startswith("nas-") and not is_text_model(n)])
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize("shape", IMAGE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_forward_shape_on_images(name: str, shape: tuple[int, ...]) -> None:
    model = _build(name, _meta(shape, num_classes=7))
    out = model(torch.randn(2, *shape))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()


def test_regression_has_one_output(name: str) -> None:
    model = _build(name, _meta((1, 8, 8), num_classes=None))
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 1)


def test_tabular_input_builds_or_says_it_needs_images(name: str) -> None:
    try:
        model = _build(name, _meta((20,), num_classes=3))
    except InvalidSpecError as exc:
        assert "input_shape" in str(exc) and "(C, H, W)" in str(exc)
        return
    assert model(torch.randn(4, 20)).shape == (4, 3)


def test_backward_gives_finite_gradients_everywhere(name: str) -> None:
    model = _build(name, _meta((3, 32, 32)))
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert torch.isfinite(loss)
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname


def test_interface_features_head_and_reset(name: str) -> None:
    model = _build(name, _meta((1, 28, 28))).eval()
    x = torch.randn(2, 1, 28, 28)
    feats = model.forward_features(x)
    assert feats.ndim == 2 and feats.shape == (2, model.num_features)
    torch.testing.assert_close(model.forward_head(feats), model(x))
    model.reset_classifier(4)
    assert model(x).shape == (2, 4)
    assert model.get_classifier().out_features == 4


def test_blocks_cover_every_parameter_with_the_head_last(name: str) -> None:
    model = _build(name, _meta((1, 8, 8)))
    blocks = model.blocks()
    assert blocks[-1][1] is model.get_classifier()
    covered = {id(p) for _, m in blocks for p in m.parameters()}
    assert covered == {id(p) for p in model.parameters()}


def test_params_dict_is_accepted_and_defaults_match_the_signature(name: str) -> None:
    params = model_params(name)
    assert params and all(isinstance(k, str) for k in params)
    with pytest.raises(
        InvalidSpecError, match=rf"model\.params\.bogus: unknown parameter for model '{name}'"
    ):
        build_model(name, {"bogus": 1}, _meta((1, 8, 8)))


def test_same_seed_same_weights(name: str) -> None:
    torch.manual_seed(3)
    a = _build(name, _meta((1, 8, 8)))
    torch.manual_seed(3)
    b = _build(name, _meta((1, 8, 8)))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


# Hand-computed parameter counts for a fixed small config of each built-in builder.


def test_mlp_param_count() -> None:
    model = build_model("mlp", {"depth": 2, "width": [16, 8]}, _meta((1, 8, 8)))
    assert count_params(model) == (64 * 16 + 16) + (16 * 8 + 8) + (8 * 10 + 10)


def test_mlp_param_count_with_batch_norm() -> None:
    model = build_model("mlp", {"depth": 1, "width": 16, "batch_norm": True}, _meta((5,), 3))
    assert count_params(model) == (5 * 16 + 16) + 2 * 16 + (16 * 3 + 3)


def test_cnn_param_count() -> None:
    model = build_model("cnn", {"blocks": 2, "channels": 4}, _meta((1, 8, 8)))
    # conv 1->4 (no bias with BN) + BN, conv 4->8 + BN, grid head: the 2x2 map flattened, 32->10
    assert count_params(model) == (1 * 4 * 9 + 2 * 4) + (4 * 8 * 9 + 2 * 8) + (8 * 4 * 10 + 10)
    gap = build_model("cnn", {"blocks": 2, "channels": 4, "head": "gap"}, _meta((1, 8, 8)))
    assert count_params(gap) == (1 * 4 * 9 + 2 * 4) + (4 * 8 * 9 + 2 * 8) + (8 * 10 + 10)


def test_cnn_param_count_without_batch_norm_and_list_channels() -> None:
    model = build_model("cnn", {"blocks": 2, "channels": [3, 5], "batch_norm": False}, _meta((3, 32, 32)))
    # 32 -> 16 -> 8: the 8x8 map is pooled to 4x4 and flattened
    assert count_params(model) == (3 * 3 * 9 + 3) + (3 * 5 * 9 + 5) + (5 * 16 * 10 + 10)


def test_resnet_param_count() -> None:
    model = build_model("resnet", {"stages": 2, "width": 4, "blocks": 1}, _meta((3, 8, 8)))
    stem = 3 * 4 * 9 + 2 * 4
    identity_block = 2 * (4 * 4 * 9 + 2 * 4)
    projection_block = (4 * 8 * 9 + 2 * 8) + (8 * 8 * 9 + 2 * 8) + (4 * 8 + 2 * 8)
    head = 8 * 16 * 10 + 10  # 8 -> 4: the 4x4 map of 8 channels is flattened
    assert count_params(model) == stem + identity_block + projection_block + head


@pytest.mark.parametrize(
    ("name", "params", "shape", "grid"),
    [
        ("cnn", {"blocks": 3}, (1, 8, 8), 1),  # 8 -> 4 -> 2 -> 1: grid and gap are the same
        ("cnn", {"blocks": 1}, (1, 8, 8), 16),  # 4x4 flattened as it is
        ("cnn", {"blocks": 2}, (1, 8, 8), 4),  # 2x2 flattened as it is
        ("cnn", {"blocks": 2}, (1, 28, 28), 16),  # 7x7 averaged to 4x4
        ("cnn", {"blocks": 3}, (3, 32, 32), 16),  # 4x4 flattened as it is
        ("resnet", {"stages": 3}, (1, 28, 28), 16),  # 28 -> 14 -> 7, averaged to 4x4
    ],
)
def test_grid_head_keeps_an_at_most_4x4_map(name: str, params: dict, shape: tuple, grid: int) -> None:
    meta = _meta(shape)
    grid_model = build_model(name, params, meta)
    gap_model = build_model(name, {**params, "head": "gap"}, meta)
    assert grid_model.num_features == gap_model.num_features * grid
    x = torch.randn(2, *shape)
    assert grid_model(x).shape == gap_model(x).shape == (2, 10)


def test_grid_head_sees_where_features_are() -> None:
    """Two inputs that differ only by where a pattern sits: the gap head cannot tell them apart."""
    meta = _meta((1, 28, 28))
    a = torch.zeros(1, 1, 28, 28)
    b = torch.zeros(1, 1, 28, 28)
    a[..., 8:12, 8:12] = 1.0
    b[..., 16:20, 16:20] = 1.0
    for head, differs in (("grid", True), ("gap", False)):
        model = build_model("cnn", {"blocks": 2, "channels": 4, "batch_norm": False, "head": head}, meta)
        with torch.no_grad():
            fa, fb = model.forward_features(a), model.forward_features(b)
        assert (not torch.allclose(fa, fb, atol=1e-6)) is differs, head


def test_unknown_head_names_the_choices() -> None:
    with pytest.raises(
        InvalidSpecError, match=r"model\.params\.head: expected one of: grid, gap; got 'flat'"
    ):
        build_model("cnn", {"head": "flat"}, _meta((1, 8, 8)))


def test_resnet_defaults_are_resnet20() -> None:
    # ResNet-20 on CIFAR-10 has 272,474 parameters (He et al., 2016); its head is global pooling.
    assert count_params(build_model("resnet", {"head": "gap"}, _meta((3, 32, 32)))) == 272_474
    # the default grid head keeps the last 8x8 map as 4x4 cells: 64 * 16 inputs to the classifier
    assert count_params(build_model("resnet", {}, _meta((3, 32, 32)))) == 272_474 - 650 + (64 * 16 * 10 + 10)


def test_cnn_does_not_pool_below_one_pixel() -> None:
    model = build_model("cnn", {"blocks": 6, "channels": 2}, _meta((1, 8, 8)))
    pools = [m for m in model.modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert len(pools) == int(math.log2(8))
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_resnet_on_tiny_images_keeps_a_spatial_size_of_one() -> None:
    model = build_model("resnet", {"stages": 5, "width": 2, "blocks": 1}, _meta((1, 4, 4)))
    assert model(torch.randn(2, 1, 4, 4)).shape == (2, 10)
