from __future__ import annotations

import pytest
import torch
from torch import nn

from autoopt.compress.prune import AGPSchedule, CompressionError, SparsityConfig, prune_unstructured, sparsity
from autoopt.exceptions import InvalidSpecError


@pytest.mark.parametrize(("s_i", "s_f", "t0", "dt", "n"), [(0.0, 0.9, 0, 10, 5), (0.1, 0.5, 7, 3, 4)])
def test_agp_matches_the_formula_at_every_update(s_i: float, s_f: float, t0: int, dt: int, n: int) -> None:
    agp = AGPSchedule(initial=s_i, final=s_f, start=t0, frequency=dt, n_updates=n)
    for k in range(n + 1):
        t = t0 + k * dt
        assert agp(t) == pytest.approx(s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3)
        assert agp.is_update(t)
    assert agp(t0) == pytest.approx(s_i) and agp(t0 + n * dt) == pytest.approx(s_f)
    assert agp(t0 + dt + 1) == agp(t0 + dt)  # constant between updates
    assert agp(t0 + 100 * n * dt) == pytest.approx(s_f)
    assert not agp.is_update(t0 + 1) if dt > 1 else True
    values = [s for _, s in agp.updates()]
    assert values == sorted(values) and len(values) == n + 1


def test_sparsity_counts_exact_zeros_of_conv_and_linear_weights() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 4))
    with torch.no_grad():
        net[0].weight[0].zero_()  # 9 of 18
        net[3].weight[:, :2] = 0.0  # 8 of 32
        net[1].weight.zero_()  # BatchNorm: not counted
    s = sparsity(net)
    assert s.per_layer == {"0": 0.5, "3": 0.25}
    assert (s.zeros, s.total) == (17, 50) and s.overall == pytest.approx(17 / 50)
    assert sparsity(net, ignore=["3"]).overall == 0.5


@pytest.mark.parametrize("scope", ["layer", "global"])
@pytest.mark.parametrize("target", [0.5, 0.9])
def test_one_shot_real_sparsity_matches_the_target(tiny, scope: str, target: float) -> None:
    model = tiny("resnet")
    sparse, report = prune_unstructured(model, {"sparsity": target, "scope": scope})
    real = sparsity(sparse)
    assert abs(real.overall - target) <= 0.01
    assert report.sparsity.overall == real.overall
    if scope == "layer":
        assert all(abs(v - target) <= 0.01 for v in real.per_layer.values())
    # permanent: plain parameters, no parametrization left, and the input model is dense
    assert not any("parametrizations" in name for name, _ in sparse.named_parameters())
    assert sparsity(model).overall < 0.01


def test_agp_finetuning_reaches_the_target_and_keeps_zeros(tiny, digits) -> None:
    model = tiny("cnn")
    cfg = SparsityConfig(sparsity=0.8, epochs=3, ignore=["head"])
    sparse, report = prune_unstructured(model, cfg, data=digits, train_config={"device": "cpu", "lr": 0.01})
    real = sparsity(sparse, ignore=["head"])
    assert abs(real.overall - 0.8) <= 0.01
    assert sparsity(sparse).per_layer["head"] == 0.0
    steps = [t for t, _ in report.schedule]
    values = [s for _, s in report.schedule]
    assert len(report.schedule) > 3 and steps == sorted(steps) and values == sorted(values)
    assert values[0] == pytest.approx(0.0) and values[-1] == pytest.approx(0.8)
    assert report.finetune == "plain" and 0.0 <= report.val_metrics["accuracy"] <= 1.0
    # the returned model runs and stays sparse through a state-dict round trip
    clone = tiny("cnn")
    clone.load_state_dict(sparse.state_dict())
    assert abs(sparsity(clone, ignore=["head"]).overall - 0.8) <= 0.01


def test_unstructured_errors(tiny) -> None:
    with pytest.raises(InvalidSpecError, match=r"compress\.sparsity\.epochs: 2 needs training data"):
        prune_unstructured(tiny("cnn"), {"sparsity": 0.5, "epochs": 2})
    with pytest.raises(CompressionError, match="nothing to prune"):
        prune_unstructured(nn.Sequential(nn.ReLU()), {"sparsity": 0.5})
