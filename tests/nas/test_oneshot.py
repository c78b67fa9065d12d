"""The single-path one-shot supernet: paths, weight inheritance, batch-norm recalibration, determinism."""

from __future__ import annotations

import pytest
import torch

from autoopt.models.arch import build_architecture
from autoopt.nas.oneshot import SuperNet, UniformSampler, train_supernet

from .conftest import DIGITS

LIMITS = {"max_stages": 2, "max_blocks": 2, "widths": [8, 16], "stem_widths": [8, 16]}


def _copy_sliced(net: SuperNet, model: torch.nn.Module, arch: dict) -> None:
    """Load the supernet's weights of ``arch``'s path, cut to its widths, into a stand-alone model."""
    parsed = net.parse(arch)
    src: dict[str, torch.Tensor] = {}
    pairs = [("stem", "stem")]
    for k, stage in enumerate(parsed.stages, 1):
        for j, op in enumerate(stage.ops, 1):
            stride = 2 if j == 1 and stage.downsample else 1
            prev = parsed.stem_width if k == 1 else parsed.stages[k - 2].width
            if op == "skip" and stride == 1 and j == 1 and prev != stage.width:
                op = "skipproj"
            pairs.append((f"choice.s{k}_b{j}_{op}_{stride}", f"stages.{k - 1}.{j - 1}"))
    full = net.state_dict()
    for a, b in pairs:
        for name, t in full.items():
            if name.startswith(a + "."):
                src[b + name[len(a) :]] = t
    src["head.weight"], src["head.bias"] = full["head.weight"], full["head.bias"]
    target = model.state_dict()
    for name, t in target.items():
        s = src[name]
        target[name] = s[tuple(slice(0, n) for n in t.shape)] if s.dim() else s
    model.load_state_dict(target)


@pytest.mark.parametrize("op", ["conv3x3", "conv5x5", "skip"])
def test_a_path_of_full_convolutions_equals_the_stand_alone_network_with_sliced_weights(op: str) -> None:
    net = SuperNet(DIGITS, **LIMITS)
    arch = {
        "stem_width": 8,
        "stages": 2,
        "s1_width": 8,
        "s1_blocks": 1,
        "s1_downsample": True,
        "s1_se": False,
        "s1_b1_op": "conv3x3",
        "s2_width": 16,
        "s2_blocks": 2,
        "s2_downsample": False,
        "s2_se": False,
        "s2_b1_op": op,
        "s2_b2_op": "conv3x3",
    }
    with torch.no_grad():  # give batch norm non-trivial statistics first
        net.set_path(arch)
        net.train()
        net(torch.randn(32, 1, 8, 8))
    net.eval()
    model = build_architecture("nas-macro", arch, DIGITS).eval()
    _copy_sliced(net, model, arch)
    x = torch.randn(5, 1, 8, 8)
    torch.testing.assert_close(net(x), model(x), atol=1e-5, rtol=1e-4)


def test_every_sampled_path_runs_and_has_the_right_output() -> None:
    net = SuperNet(DIGITS, **LIMITS).eval()
    sampler = UniformSampler(net.space, seed=0)
    for _ in range(20):
        net.set_path(sampler.sample())
        assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_forward_without_a_path_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="set_path"):
        SuperNet(DIGITS, **LIMITS)(torch.randn(1, 1, 8, 8))


def test_uniform_sampler_is_deterministic_and_covers_the_choices() -> None:
    net = SuperNet(DIGITS, **LIMITS)
    first, second = UniformSampler(net.space, seed=3), UniformSampler(net.space, seed=3)
    a = [first.sample() for _ in range(5)]
    assert a == [second.sample() for _ in range(5)]
    assert len({str(x) for x in a}) > 1  # a sequence, not one architecture repeated
    s = UniformSampler(net.space, seed=0)
    seen = {s.sample()["s1_b1_op"] for _ in range(300)}
    assert seen == set(net.space["s1_b1_op"].choices)


def test_supernet_training_is_deterministic_under_a_seed(digits) -> None:
    stats = []
    for _ in range(2):
        torch.manual_seed(5)  # the initial weights
        net = SuperNet(digits.meta, **LIMITS)
        stats.append(train_supernet(net, digits, epochs=1, batch_size=128, seed=5).final_loss)
    assert stats[0] == stats[1]


def test_scoring_recalibrates_batch_norm_for_the_path(digits) -> None:
    net = SuperNet(digits.meta, **LIMITS)
    train_supernet(net, digits, epochs=1, batch_size=128, seed=0)
    before = net.stem[1].running_mean.clone()
    arch = UniformSampler(net.space, seed=1).sample()
    out = net.score(arch, digits, calibration_batches=2, batch_size=64)
    assert set(out) == {"val_loss", "val_accuracy"} and 0.0 <= out["val_accuracy"] <= 1.0
    assert not torch.equal(before, net.stem[1].running_mean)
    assert net.score(arch, digits, calibration_batches=2, batch_size=64) == out  # same seed, same score
