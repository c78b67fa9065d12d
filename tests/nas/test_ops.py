"""Every macro block and every cell operation builds, runs forward and backward on CPU."""

from __future__ import annotations

import pytest
import torch

from autoopt.models.arch._ops import (
    CELL_OPS,
    MACRO_OPS,
    FactorizedReduce,
    SqueezeExcite,
    make_cell_op,
    make_macro_op,
)

SHAPES = [(1, 8, 8), (3, 32, 32), (4, 7, 7)]  # digits, CIFAR, and an odd side


def _check(module: torch.nn.Module, x: torch.Tensor, expected: tuple[int, ...]) -> None:
    x = x.clone().requires_grad_(True)
    y = module(x)
    assert y.shape == expected
    y.square().mean().backward()
    assert torch.isfinite(y).all()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for p in module.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


@pytest.mark.parametrize("op", MACRO_OPS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("stride", [1, 2])
def test_macro_op_forward_backward(op: str, shape: tuple[int, int, int], stride: int) -> None:
    c, h, w = shape
    x = torch.randn(2, c, h, w)
    out = -(-h // stride), -(-w // stride)
    _check(make_macro_op(op, c, 6, stride), x, (2, 6, *out))
    _check(make_macro_op(op, c, c, stride), x, (2, c, *out))


@pytest.mark.parametrize("op", CELL_OPS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("stride", [1, 2])
def test_cell_op_forward_backward(op: str, shape: tuple[int, int, int], stride: int) -> None:
    c, h, w = shape
    x = torch.randn(2, c, h, w)
    module = make_cell_op(op, c, stride)
    if op == "none":  # no parameters and a zero output: only the shape and finiteness matter
        assert module(x).shape == (2, c, -(-h // stride), -(-w // stride))
        assert not module(x).any()
        return
    _check(module, x, (2, c, -(-h // stride), -(-w // stride)))


def test_identity_ops_keep_the_input_when_the_shape_allows() -> None:
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(make_macro_op("skip", 4, 4, 1)(x), x)
    assert torch.equal(make_cell_op("skip_connect", 4, 1)(x), x)
    assert len(list(make_macro_op("skip", 4, 8, 2).parameters())) > 0  # a projection shortcut


def test_mbconv_residual_only_when_shape_is_kept() -> None:
    assert make_macro_op("mbconv3x3_e6", 8, 8, 1).residual
    assert not make_macro_op("mbconv3x3_e6", 8, 8, 2).residual
    assert not make_macro_op("mbconv3x3_e3", 4, 8, 1).residual


def test_factorized_reduce_and_se_shapes() -> None:
    _check(FactorizedReduce(3, 5), torch.randn(2, 3, 7, 7), (2, 5, 4, 4))
    _check(FactorizedReduce(3, 1), torch.randn(2, 3, 8, 8), (2, 1, 4, 4))
    _check(SqueezeExcite(6), torch.randn(2, 6, 5, 5), (2, 6, 5, 5))


def test_unknown_op_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown macro op 'conv7x7'; expected one of: conv3x3"):
        make_macro_op("conv7x7", 3, 3, 1)
    with pytest.raises(ValueError, match="unknown cell op 'lstm'; expected one of: sep_conv_3x3"):
        make_cell_op("lstm", 3, 1)
