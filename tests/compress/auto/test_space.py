"""The policy space: an exact cost model, budgets met by construction, clear errors before any search."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from autoopt.compress.auto import PolicySpace, keep_count, uniform_policy
from autoopt.data._bundle import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.models import build_model, count_macs, count_params

META = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
X = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
TINY = {
    "cnn": {"blocks": 2, "channels": 8},
    "resnet": {"stages": 2, "width": 8, "blocks": 2},
    "mlp": {"depth": 2, "width": 32, "batch_norm": True},
}


def space_of(name: str, **kw: object) -> PolicySpace:
    torch.manual_seed(0)
    return PolicySpace(build_model(name, TINY[name], META), X, **kw)


_SPACES = {name: space_of(name) for name in TINY}


@pytest.mark.parametrize("name", sorted(TINY))
def test_cost_model_equals_the_counts_of_the_built_model(name: str) -> None:
    space = _SPACES[name]
    rng = random.Random(1)
    for _ in range(4):
        ratios = [rng.uniform(0.0, space.max_ratio) for _ in space.groups]
        pruned = space.apply(ratios)
        assert space.cost(ratios, "macs") == count_macs(pruned, (1, 8, 8))
        assert space.cost(ratios, "params") == count_params(pruned)
        kept = dict(zip([g.name for g in space.groups], space.keeps(ratios), strict=False))
        modules = dict(pruned.named_modules())
        for group in space.groups:  # every member of a group really lost the same channels
            for member in group.members:
                assert modules[member].weight.shape[0] == kept[group.name]


def test_residual_coupled_convolutions_are_one_layer_of_the_policy() -> None:
    groups = {g.name: g.members for g in _SPACES["resnet"].groups}
    assert set(groups["stem.0"]) == {"stem.0", "stages.0.0.conv2", "stages.0.1.conv2"}
    assert "head" not in {m for ms in groups.values() for m in ms}  # the classifier keeps its outputs


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    name=st.sampled_from(sorted(TINY)),
    kind=st.sampled_from(["macs", "params", "both"]),
    fraction=st.floats(0.2, 0.95),
    actions=st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6),
)
def test_every_clipped_policy_meets_the_budget(
    name: str, kind: str, fraction: float, actions: list[float]
) -> None:
    space = _SPACES[name]
    budget = {"macs": fraction, "params": fraction} if kind == "both" else {kind: fraction}
    if any(space.min_fraction(k) > f for k, f in budget.items()):
        with pytest.raises(InvalidSpecError, match="smallest achievable"):
            space.check_budget(budget)
        return
    ratios = space.clip([a * space.max_ratio for a in actions[: len(space.groups)]], budget)
    for k, f in budget.items():
        assert space.cost(ratios, k) <= f * space.full_cost(k)
    # clipping only raises ratios, and never beyond max_ratio's channel count
    for g, a, r in zip(space.groups, actions, ratios, strict=False):
        assert keep_count(g.channels, r) <= keep_count(g.channels, a * space.max_ratio)
        assert keep_count(g.channels, r) >= keep_count(g.channels, space.max_ratio)


def test_a_policy_inside_the_budget_is_not_changed() -> None:
    space = _SPACES["resnet"]
    ratios = [0.75] * len(space.groups)
    assert space.clip(ratios, {"macs": 0.9}) == ratios


def test_uniform_policy_is_the_least_single_ratio_meeting_the_budget() -> None:
    space = _SPACES["resnet"]
    ratios = uniform_policy(space, {"macs": 0.5})
    assert space.meets(ratios, {"macs": 0.5})
    assert not space.meets([min(ratios) - 0.05] * len(ratios), {"macs": 0.5})


def test_unreachable_budget_names_the_smallest_achievable_value() -> None:
    space = _SPACES["resnet"]
    low = space.min_fraction("macs")
    assert 0.01 < low < 0.5
    with pytest.raises(
        InvalidSpecError, match=r"budget\.macs: 0\.01 .*smallest achievable is 0\.0\d+"
    ) as info:
        space.check_budget({"macs": 0.01})
    assert f"{space.cost([space.max_ratio] * len(space.groups), 'macs'):,}" in str(info.value)


class HardCodedWidth(nn.Module):
    """``reshape`` with a hard-coded width: pruning ``c2`` breaks the head; ``c1`` and ``c0`` are fine."""

    def __init__(self) -> None:
        super().__init__()
        self.c0 = nn.Conv2d(1, 8, 3, padding=1)
        self.c1 = nn.Conv2d(8, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c2(torch.relu(self.c1(torch.relu(self.c0(x)))))
        return self.head(x.reshape(-1, 8 * 8 * 8))


def test_a_layer_whose_pruning_breaks_the_graph_is_excluded_and_the_rest_searched() -> None:
    torch.manual_seed(0)
    space = PolicySpace(HardCodedWidth(), X)
    assert list(space.excluded) == ["c2"] and "breaks the graph" in space.excluded["c2"]
    assert [g.name for g in space.groups] == ["c0", "c1"]
    ratios = space.clip([0.0, 0.0], {"macs": 0.8})
    out = space.apply(ratios)(X)
    assert out.shape == (4, 10) and space.meets(ratios, {"macs": 0.8})


def test_bad_options_are_named() -> None:
    with pytest.raises(InvalidSpecError, match="max_ratio"):
        space_of("cnn", max_ratio=1.0)
    with pytest.raises(InvalidSpecError, match="needs gradients"):
        space_of("cnn", criterion="taylor")
    with pytest.raises(InvalidSpecError, match="ignore"):
        space_of("cnn", ignore=["nope"])
    with pytest.raises(InvalidSpecError, match="unknown resource 'latency'"):
        _SPACES["cnn"].check_budget({"latency": 0.5})
