"""describe(): a readable summary with the layers/operations, parameters and MACs."""

from __future__ import annotations

import pytest

from autoopt.exceptions import InvalidSpecError
from autoopt.models import build_model, count_params
from autoopt.nas import build_architecture, describe

from .conftest import CIFAR, DIGITS
from .test_spaces import MACRO_ONE_CONV, _cell_params


def test_describe_macro_lists_stages_and_ops() -> None:
    params = {
        "stem_width": 8,
        "stages": 2,
        "s1_width": 16,
        "s1_blocks": 2,
        "s1_b1_op": "dwsep5x5",
        "s1_b2_op": "mbconv3x3_e6",
        "s1_downsample": True,
        "s1_se": True,
        "s2_width": 32,
        "s2_blocks": 1,
        "s2_b1_op": "skip",
        "s2_downsample": True,
    }
    text = describe(build_architecture("nas-macro", params, DIGITS))
    assert text.startswith("nas-macro: ")
    for part in (
        "dwsep5x5, mbconv3x3_e6",
        "skip",
        "stride 2, SE, 4x4",
        "32 ch, stride 2, 2x2",
        "linear 32 -> 10",
    ):
        assert part in text
    assert f"{count_params(build_architecture('nas-macro', params, DIGITS)):,} params" in text


def test_describe_cell_lists_nodes_and_output() -> None:
    params = _cell_params(3, 4, 2, inputs=(0, 1), ops=("sep_conv_5x5", "dil_conv_3x3"))
    text = describe(params, CIFAR)  # the space is told by the keys
    assert "n0 = sep_conv_5x5(c_{k-2}) + dil_conv_3x3(c_{k-1})" in text
    assert "output = concat(n0, n1)" in text
    assert "normal cell:" in text and "reduce cell:" in text and "MACs" in text


def test_describe_params_and_model_agree() -> None:
    model = build_model("nas-macro", MACRO_ONE_CONV, DIGITS)
    assert (
        describe(model) == describe(MACRO_ONE_CONV, DIGITS) == describe(MACRO_ONE_CONV, DIGITS, space="macro")
    )
    assert "1,442 params" in describe(model)


def test_describe_errors() -> None:
    with pytest.raises(InvalidSpecError, match="needs meta"):
        describe(MACRO_ONE_CONV)
    with pytest.raises(InvalidSpecError, match="cannot tell the architecture space"):
        describe({"x": 1}, DIGITS)
    with pytest.raises(InvalidSpecError, match="was not built from an architecture space"):
        describe(build_model("mlp", {"depth": 1}, DIGITS))
