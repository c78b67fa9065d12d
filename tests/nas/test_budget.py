"""Hard budgets checked before training, the latency cache, and the feasibility check of a budget."""

from __future__ import annotations

import json

import pytest
from torch import nn

from autoopt.exceptions import InvalidSpecError, TrialRejected
from autoopt.models.arch import build_architecture, smallest_in_space
from autoopt.nas import ArchBudget, LatencyCache, NasConfig, check_feasible

from .conftest import DIGITS

SMALL = {"stem_width": 8, "stages": 1, "s1_width": 16, "s1_blocks": 1, "s1_b1_op": "conv3x3"}


def test_budget_passes_and_reports_counts() -> None:
    # Linear(4, 2): 4*2 weights + 2 biases = 10 params; 8 MACs per sample.
    assert ArchBudget(max_params=10, max_macs=8).check(nn.Linear(4, 2), (4,)) == {"params": 10, "macs": 8}


def test_budget_rejects_naming_each_broken_limit() -> None:
    with pytest.raises(TrialRejected) as e:
        ArchBudget(max_params=100, max_macs=50).check(nn.Linear(40, 20), (40,))
    assert "params 820 > max_params 100" in str(e.value)
    assert "macs 800 > max_macs 50" in str(e.value)


def test_params_are_checked_before_latency_is_measured(tmp_path) -> None:
    cache = LatencyCache(tmp_path / "lat.json", repeats=3, warmup=1)
    model = build_architecture("nas-macro", SMALL, DIGITS)
    with pytest.raises(TrialRejected, match="max_params"):
        ArchBudget(max_params=10, max_latency_ms=1e9).check(
            model, DIGITS.input_shape, arch=SMALL, latency=cache
        )
    assert cache.measured == 0
    out = ArchBudget(max_latency_ms=1e9).check(model, DIGITS.input_shape, arch=SMALL, latency=cache)
    assert out["latency_ms"] > 0 and cache.measured == 1


def test_latency_rejection_names_the_measured_value(tmp_path) -> None:
    model = build_architecture("nas-macro", SMALL, DIGITS)
    cache = LatencyCache(None, repeats=3, warmup=1)
    with pytest.raises(TrialRejected, match=r"latency_ms [0-9.]+ > max_latency_ms 1e-09"):
        ArchBudget(max_latency_ms=1e-9).check(model, DIGITS.input_shape, arch=SMALL, latency=cache)


def test_latency_is_measured_once_per_architecture_and_persisted(tmp_path) -> None:
    path = tmp_path / "lat.json"
    cache = LatencyCache(path, repeats=3, warmup=1)
    model = build_architecture("nas-macro", SMALL, DIGITS)
    first = cache.latency_ms(SMALL, model, DIGITS.input_shape)
    again = cache.latency_ms(dict(reversed(list(SMALL.items()))), model, DIGITS.input_shape)  # key order
    assert first == again and cache.measured == 1
    reloaded = LatencyCache(path, repeats=3, warmup=1)
    assert reloaded.latency_ms(SMALL, model, DIGITS.input_shape) == first and reloaded.measured == 0


def test_a_damaged_latency_cache_is_measured_again(tmp_path) -> None:
    path = tmp_path / "lat.json"
    path.write_text("{not json")
    cache = LatencyCache(path, repeats=3, warmup=1)
    model = build_architecture("nas-macro", SMALL, DIGITS)
    assert cache.latency_ms(SMALL, model, DIGITS.input_shape) > 0 and cache.measured == 1
    assert len(json.loads(path.read_text())) == 1


def test_an_impossible_budget_is_reported_with_the_smallest_architecture_found() -> None:
    limits = {"max_stages": 2, "widths": [16, 32]}
    smallest = smallest_in_space("nas-macro", DIGITS, n_samples=50, **limits)["params"]
    with pytest.raises(InvalidSpecError) as e:
        check_feasible("nas-macro", DIGITS, ArchBudget(max_params=100), limits=limits, n_samples=50)
    msg = str(e.value)
    assert msg.startswith("nas.max_params: 100 cannot be met")
    assert f"{smallest:,} parameters" in msg


def test_a_reachable_budget_passes_the_feasibility_check() -> None:
    found = check_feasible("nas-macro", DIGITS, ArchBudget(max_params=50_000, max_macs=10**7), n_samples=30)
    assert found["params"] <= 50_000 and found["macs"] <= 10**7


def test_nas_config_errors_name_the_key() -> None:
    with pytest.raises(InvalidSpecError, match=r"nas\.max_params: must be > 0"):
        NasConfig.from_spec({"max_params": 0})
    with pytest.raises(InvalidSpecError, match=r"nas\.retrain_topk: unknown key.*retrain_top_k"):
        NasConfig.from_spec({"retrain_topk": 2})
    with pytest.raises(InvalidSpecError, match="only 'nas-macro' has a supernet"):
        NasConfig.from_spec({"space": "nas-cell", "one_shot": True})
    assert NasConfig.from_spec("nas-mlp").space == "nas-mlp"
    assert NasConfig.from_spec({"max_params": 10, "max_latency_ms": 2}).budget_constraints() == [
        "params <= 10",
        "latency_ms <= 2.0",
    ]
