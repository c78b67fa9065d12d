"""Freeze policies, discriminative learning rates and gradual unfreezing change what trains."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from autoopt.data._bundle import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.models import apply_freeze, build_model, param_groups, unfreeze_schedule

META = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)


def _cnn() -> nn.Module:
    return build_model("cnn", {"blocks": 3, "channels": 4}, META)


def _step(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    loss = nn.functional.cross_entropy(model(torch.randn(8, 1, 8, 8)), torch.arange(8))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _trainable(model: nn.Module) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_backbone_freeze_really_keeps_backbone_weights() -> None:
    model = _cnn()
    apply_freeze(model, "backbone")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    # even an optimizer over *all* parameters, with weight decay, must leave frozen ones alone
    _step(model, torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1))
    for name, p in model.named_parameters():
        changed = not torch.equal(p, before[name])
        assert changed == name.startswith("head."), name


def test_all_but_last_n_both_spellings() -> None:
    model = _cnn()
    apply_freeze(model, "all-but-last-2")
    assert _trainable(model) == {
        "body.2.0.weight",
        "body.2.1.weight",
        "body.2.1.bias",
        "head.weight",
        "head.bias",
    }
    apply_freeze(model, "all-but-last-N", n=1)
    assert _trainable(model) == {"head.weight", "head.bias"}
    apply_freeze(model, "all-but-last-0")
    assert _trainable(model) == set()
    apply_freeze(model, "none")
    assert _trainable(model) == {n for n, _ in model.named_parameters()}


def test_freeze_on_a_bare_module() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.Linear(4, 2))
    apply_freeze(model, "all-but-last-2")
    assert _trainable(model) == {"2.weight", "2.bias", "3.weight", "3.bias"}


@pytest.mark.parametrize(
    ("policy", "n", "pattern"),
    [
        ("head", None, r"transfer\.freeze: unknown freeze policy 'head'; expected one of: none, backbone"),
        ("all-but-last-N", None, r"transfer\.freeze: policy 'all-but-last-N' needs n >= 0; got n=None"),
    ],
)
def test_bad_policy(policy: str, n: int | None, pattern: str) -> None:
    with pytest.raises(InvalidSpecError, match=pattern):
        apply_freeze(_cnn(), policy, n=n)


def test_param_groups_head_and_backbone_lrs_exclude_frozen() -> None:
    model = _cnn()
    groups = param_groups(model, lr=0.1, backbone_lr_mult=0.01)
    assert [(g["name"], g["lr"]) for g in groups] == [("head", 0.1), ("backbone", pytest.approx(0.001))]
    assert {id(p) for p in groups[0]["params"]} == {id(model.head.weight), id(model.head.bias)}
    apply_freeze(model, "backbone")
    assert [g["name"] for g in param_groups(model, lr=0.1, backbone_lr_mult=0.5)] == ["head"]
    with_frozen = param_groups(model, lr=0.1, backbone_lr_mult=0.5, include_frozen=True)
    assert sum(len(g["params"]) for g in with_frozen) == len(list(model.parameters()))


def test_param_groups_drive_the_optimizer() -> None:
    model = _cnn()
    apply_freeze(model, "backbone")  # a backbone that must not learn is frozen, not given lr 0
    opt = torch.optim.SGD(param_groups(model, lr=0.5, backbone_lr_mult=0.1, include_frozen=True), lr=0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.5, pytest.approx(0.05)]
    body_before = model.body[0][0].weight.detach().clone()
    head_before = model.head.weight.detach().clone()
    _step(model, opt)
    assert torch.equal(model.body[0][0].weight, body_before)  # frozen: no gradient
    assert not torch.equal(model.head.weight, head_before)


def test_param_groups_validation() -> None:
    with pytest.raises(InvalidSpecError, match=r"training\.lr: expected a number > 0; got 0"):
        param_groups(_cnn(), lr=0)
    with pytest.raises(InvalidSpecError, match=r"transfer\.backbone_lr_mult: expected a number > 0; got 0"):
        param_groups(_cnn(), lr=0.1, backbone_lr_mult=0)


def test_gradual_unfreezing() -> None:
    model = _cnn()  # blocks: body.0, body.1, body.2, head
    assert unfreeze_schedule(model, 0, every=2) == 1
    assert _trainable(model) == {"head.weight", "head.bias"}
    assert unfreeze_schedule(model, 3, every=2) == 2
    assert "body.2.0.weight" in _trainable(model) and "body.1.0.weight" not in _trainable(model)
    assert unfreeze_schedule(model, 100, every=2) == 4
    assert _trainable(model) == {n for n, _ in model.named_parameters()}
    with pytest.raises(InvalidSpecError, match=r"transfer\.unfreeze_every: expected an integer >= 1; got 0"):
        unfreeze_schedule(model, 0, every=0)
