"""Architecture spaces: sampling, building, hand-computed sizes, invalid architectures, tune()."""

from __future__ import annotations

import optuna
import pytest
import torch

import autoopt
from autoopt.exceptions import InvalidSpecError, UnknownNameError
from autoopt.models import build_model, count_macs, count_params, list_models
from autoopt.models.arch import CellNet, MacroNet, ResidualMLP
from autoopt.nas import (
    InvalidArchitectureError,
    build_architecture,
    list_nas_spaces,
    nas_space,
    smallest_in_space,
)
from autoopt.space import Categorical, Fixed, Int

from .conftest import CIFAR, DIGITS, TABLE

SPACES = ["nas-macro", "nas-cell", "nas-mlp"]

MACRO_ONE_CONV = {"stem_width": 8, "stages": 1, "s1_width": 16, "s1_blocks": 1, "s1_b1_op": "conv3x3"}


def _cell_params(layers: int, channels: int, nodes: int, inputs=(0, 1), ops=("skip_connect",) * 2) -> dict:
    params = {"layers": layers, "init_channels": channels, "nodes": nodes}
    for kind in ("normal", "reduce"):
        for i in range(nodes):
            for j in (0, 1):
                params[f"{kind}_n{i}_in{j}"] = inputs[j]
                params[f"{kind}_n{i}_op{j}"] = ops[j]
    return params


def test_spaces_are_listed_and_registered_as_models() -> None:
    assert list_nas_spaces() == ["nas-cell", "nas-macro", "nas-mlp"]
    assert set(SPACES) <= set(list_models())
    model = build_model("nas-macro", MACRO_ONE_CONV, DIGITS)
    assert isinstance(model, MacroNet)
    assert isinstance(build_architecture("macro", MACRO_ONE_CONV, DIGITS), MacroNet)  # alias


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("meta", [DIGITS, CIFAR], ids=["digits", "32x32"])
def test_sampled_architectures_build_run_and_backprop(name: str, meta) -> None:
    space = nas_space(name, meta)
    assert all(isinstance(p, (Categorical, Int, Fixed)) for p in space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    x = torch.randn(2, *meta.input_shape)
    sizes = set()
    for _ in range(20):
        params = space.sample(study.ask())
        model = build_architecture(name, params, meta)
        y = model(x)
        assert y.shape == (2, 10)
        y.square().mean().backward()
        assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
        assert model.forward_features(x).shape == (2, model.num_features)
        sizes.add(count_params(model))
    assert len(sizes) > 10  # the samples differ


def test_macro_space_conditions_follow_stages_and_blocks() -> None:
    space = nas_space("nas-macro", CIFAR, max_stages=3, max_blocks=2)
    assert space["s2_width"].condition == {"stages": (2, 3)}
    assert space["s2_b2_op"].condition == {"s2_blocks": (2,)}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        params = space.sample(study.ask())
        for k in range(1, 4):
            assert (f"s{k}_width" in params) == (params["stages"] >= k)
            if params["stages"] >= k:
                n = params[f"s{k}_blocks"]
                assert [f"s{k}_b{j}_op" in params for j in (1, 2)] == [j <= n for j in (1, 2)]


def test_macro_space_only_allows_the_downsampling_the_input_takes() -> None:
    digits = nas_space("nas-macro", DIGITS)  # 8 -> 4 -> 2 -> 1: three stride-2 stages at most
    assert isinstance(digits["s4_downsample"], Fixed) and digits["s4_downsample"].value is False
    assert isinstance(digits["s3_downsample"], Categorical)
    assert isinstance(nas_space("nas-macro", CIFAR)["s4_downsample"], Categorical)


def test_macro_one_conv_sizes_match_hand_count() -> None:
    model = build_architecture("nas-macro", MACRO_ONE_CONV, DIGITS)
    # stem conv 1*8*9 + BN 2*8; block conv 8*16*9 + BN 2*16; head 16*10 + 10
    assert count_params(model) == (72 + 16) + (1152 + 32) + 170 == 1442
    # stem 8x8x8 outputs * 1 * 9; block 16x8x8 outputs * 8 * 9; head 10 * 16
    assert count_macs(model, DIGITS.input_shape) == 512 * 9 + 1024 * 72 + 160 == 78496


def test_mlp_sample_sizes_match_hand_count() -> None:
    params = {
        "depth": 2,
        "l1_width": 32,
        "l2_width": 16,
        "activation": "relu",
        "dropout": 0.0,
        "residual": True,
    }
    model = build_architecture("nas-mlp", params, DIGITS)
    assert isinstance(model, ResidualMLP)
    # 64*32+32, 32*16+16, projection 32*16 (no bias), head 16*10+10
    assert count_params(model) == 2080 + 528 + 512 + 170 == 3290
    assert count_macs(model, DIGITS.input_shape) == 2048 + 512 + 512 + 160
    plain = build_architecture("nas-mlp", {**params, "residual": False}, DIGITS)
    assert count_params(plain) == 3290 - 512
    assert build_architecture("nas-mlp", {**params, "depth": 1}, TABLE)(torch.randn(3, 12)).shape == (3, 1)


def test_cell_smallest_case_matches_hand_count() -> None:
    # One cell (a reduction cell, C = 2 * 4), one node adding skip_connect of both inputs (each a
    # FactorizedReduce at stride 2), stem 3 * 4 = 12 channels.
    model = build_architecture("nas-cell", _cell_params(1, 4, 1), DIGITS)
    assert isinstance(model, CellNet)
    stem = 1 * 12 * 9 + 2 * 12
    pre = 2 * (12 * 8 + 2 * 8)
    edges = 2 * (8 * 4 + 8 * 4 + 2 * 8)
    head = 8 * 10 + 10
    assert count_params(model) == stem + pre + edges + head == 606
    macs = 12 * 64 * 9 + 2 * (8 * 64 * 12) + 2 * 2 * (4 * 16 * 8) + 80
    assert count_macs(model, DIGITS.input_shape) == macs == 21328


def test_cell_output_concatenates_the_unused_nodes() -> None:
    params = _cell_params(3, 4, 3, inputs=(0, 1), ops=("sep_conv_3x3", "max_pool_3x3"))
    params["normal_n2_in0"] = 2  # node 2 reads node 0: nodes 1 and 2 are the output
    model = build_architecture("nas-cell", params, CIFAR)
    assert model.arch.normal.concat == (3, 4)
    assert model.arch.reduce.concat == (2, 3, 4)
    assert model.arch.reductions == (1, 2)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize(
    ("name", "params", "meta", "message"),
    [
        (
            "nas-macro",
            {
                "stem_width": 8,
                "stages": 4,
                **{
                    f"s{k}_{key}": v
                    for k in range(1, 5)
                    for key, v in (("width", 16), ("blocks", 1), ("b1_op", "conv3x3"), ("downsample", True))
                },
            },
            DIGITS,
            r"s4_downsample: stage 4 would downsample a 1x1 feature map; a 8x8 input allows at most 3",
        ),
        (
            "nas-macro",
            {"stem_width": 8, "stages": 0},
            DIGITS,
            "stages: 0 stages; an architecture needs at least 1",
        ),
        (
            "nas-macro",
            {**MACRO_ONE_CONV, "s1_b1_op": "conv7x7"},
            DIGITS,
            "s1_b1_op: expected one of: conv3x3",
        ),
        ("nas-macro", {**MACRO_ONE_CONV, "s1_blocks": 2}, DIGITS, "s1_b2_op: missing"),
        (
            "nas-macro",
            {**MACRO_ONE_CONV, "kernel": 3},
            DIGITS,
            "kernel: not a decision of architecture space",
        ),
        ("nas-macro", MACRO_ONE_CONV, TABLE, r"needs image inputs \(C, H, W\); got input_shape \(12,\)"),
        ("nas-cell", _cell_params(0, 4, 1), DIGITS, "layers: 0 cells"),
        (
            "nas-cell",
            {**_cell_params(3, 4, 2), "normal_n0_in0": 2},
            DIGITS,
            r"normal_n0_in0: expected one of: 0, 1;",
        ),
        ("nas-mlp", {"depth": 0}, TABLE, "depth: 0 hidden layers"),
        (
            "nas-mlp",
            {"depth": 1, "l1_width": 8, "dropout": 1.5},
            TABLE,
            r"dropout: expected a number in \[0, 1\)",
        ),
    ],
)
def test_invalid_architecture_is_rejected_with_the_reason_before_building(
    name: str, params: dict, meta, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_tensors(*args, **kwargs):  # building a network would allocate tensors
        raise AssertionError("the network was built before the architecture was checked")

    for cls in (MacroNet, CellNet, ResidualMLP):
        monkeypatch.setattr(cls, "__init__", no_tensors)
    with pytest.raises(InvalidArchitectureError, match=f"{name}: {message}"):
        build_architecture(name, params, meta)
    with pytest.raises(InvalidSpecError, match=message):  # the same through the model registry
        build_model(name, params, meta)


def test_errors_list_every_problem_at_once() -> None:
    with pytest.raises(InvalidArchitectureError) as info:
        build_architecture("nas-macro", {"stages": 1, "s1_width": 0, "bogus": 1}, DIGITS)
    assert len(info.value.errors) == 4  # bogus, stem_width, s1_width, s1_blocks
    assert "nas-macro: stem_width: missing" in str(info.value)


def test_unknown_space_and_limits_are_named() -> None:
    with pytest.raises(
        UnknownNameError, match="unknown architecture space 'nas-rnn'; expected one of: nas-cell"
    ):
        nas_space("nas-rnn", DIGITS)
    with pytest.raises(
        InvalidSpecError, match="nas-macro.max_depth: unknown limit .* expected one of: max_stages"
    ):
        nas_space("nas-macro", DIGITS, max_depth=3)
    with pytest.raises(InvalidSpecError, match=r"nas-macro.ops: expected a non-empty list of members of"):
        nas_space("nas-macro", DIGITS, ops=["conv3x3", "lstm"])
    with pytest.raises(InvalidArchitectureError, match="nas-cell: needs image inputs"):
        nas_space("nas-cell", TABLE)


def test_limits_shrink_the_space() -> None:
    space = nas_space("nas-macro", DIGITS, max_stages=1, max_blocks=1, widths=[8], ops=["conv3x3"], se=False)
    params = space.sample(optuna.create_study().ask())
    assert params == {
        "stem_width": params["stem_width"],
        "stages": 1,
        "s1_width": 8,
        "s1_blocks": 1,
        "s1_downsample": params["s1_downsample"],
        "s1_se": False,
        "s1_b1_op": "conv3x3",
    }
    assert sorted(nas_space("nas-mlp", TABLE, max_depth=2).names) == sorted(
        ["depth", "l1_width", "l2_width", "activation", "dropout", "residual"]
    )


@pytest.mark.parametrize("name", SPACES)
def test_spaces_work_with_tune(name: str) -> None:
    meta = DIGITS

    def objective(params: dict) -> float:
        return count_params(build_architecture(name, params, meta))

    result = autoopt.tune(objective, space=nas_space(name, meta), strategy="tpe", trials=5, seed=0)
    assert len(result.trials) == 5
    assert result.best_value == count_params(build_architecture(name, result.best_params, meta))


@pytest.mark.parametrize("strategy", ["random", "regularized-evolution", "rl"])
def test_macro_space_works_with_other_strategies(strategy: str) -> None:
    result = autoopt.tune(
        lambda p: count_params(build_architecture("nas-macro", p, DIGITS)),
        space=nas_space("nas-macro", DIGITS, max_stages=2),
        strategy=strategy,
        trials=6,
        seed=0,
    )
    assert len(result.trials) == 6


def test_smallest_in_space_reports_the_smallest_sample() -> None:
    found = smallest_in_space("nas-mlp", DIGITS, n_samples=30, seed=0)
    assert found["space"] == "nas-mlp" and found["invalid"] == 0
    assert found["params"] == count_params(build_architecture("nas-mlp", found["params_arch"], DIGITS))
    assert found["macs"] == count_macs(build_architecture("nas-mlp", found["macs_arch"], DIGITS), (1, 8, 8))
    assert found["params"] < 20_000
    assert smallest_in_space("nas-mlp", DIGITS, n_samples=30, seed=0) == found  # reproducible
    macro = smallest_in_space("nas-macro", DIGITS, n_samples=10, seed=0, max_stages=2)
    assert macro["params"] > 0 and macro["macs"] > 0
