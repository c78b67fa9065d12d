"""Hardware-aware pruning: pruned convs keep multiples of ``round_to`` channels, never below the floor."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from autoopt.compress.prune import PruneConfig, prune
from autoopt.compress.prune._hardware import kept_channels, resolve_round_to
from autoopt.evaluate import vector_width
from autoopt.exceptions import InvalidSpecError

SHAPE = (1, 8, 8)


def _convs(model: nn.Module) -> dict[str, int]:
    return {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


@pytest.mark.parametrize("scope", ["layer", "global"])
@pytest.mark.parametrize(("round_to", "floor"), [(8, 16), (16, 16), (8, 8)])
@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.8])
def test_every_pruned_conv_is_a_multiple_of_round_to_and_at_least_the_floor(
    tiny, digits, scope: str, round_to: int, floor: int, ratio: float
) -> None:
    # widths 24/48/96: none of the requested counts (ratio * width) is a multiple of 8 or 16 by itself
    model = tiny("resnet", stages=3, width=24, blocks=1)
    before = _convs(model)
    cfg = {"ratio": ratio, "scope": scope, "round_to": round_to, "min_channels": floor, "criterion": "l1"}
    pruned, report = prune(model, cfg, data=digits)
    after = _convs(pruned)
    changed = {n: c for n, c in after.items() if c != before[n]}
    assert changed, "something was pruned"
    for name, c in changed.items():
        assert c % round_to == 0, (name, before[name], c)
        assert c >= floor, (name, before[name], c)
    assert report.round_to == round_to and report.min_channels == floor
    # the report shows the ratio asked for and the ratio really removed
    assert report.ratio == ratio
    assert report.effective_ratio is not None and 0 < report.effective_ratio < 1
    assert f"effective {report.effective_ratio:.3g}" in report.summary()
    assert pruned(torch.zeros(2, *SHAPE)).shape == (2, 10)


def test_layers_at_the_floor_are_kept_whole_and_named(tiny) -> None:
    model = tiny("cnn", blocks=3, channels=16)  # 16, 32, 64 channels
    _, report = prune(model, {"ratio": 0.5, "round_to": 16, "min_channels": 16}, input_shape=SHAPE)
    assert report.channels["body.0.0"] == (16, 16)  # at the floor already
    assert report.channels["body.1.0"] == (32, 16)
    assert report.channels["body.2.0"] == (64, 32)
    assert any("body.0.0" in n and "min_channels 16" in n for n in report.notes)


def test_rounding_goes_to_the_nearest_multiple() -> None:
    # 64 * 0.7 = 44.8 -> 48 (not 32, as rounding down would give); 40 * 0.5 = 20 -> 24 with round_to 8
    assert kept_channels(64, 0.3, 16, 16) == 48
    assert kept_channels(40, 0.5, 8, 16) == 24
    assert kept_channels(40, 0.9, 8, 16) == 16  # the floor
    assert kept_channels(12, 0.5, 16, 16) == 12  # below the floor already: kept whole
    assert kept_channels(64, 0.3, 1, 1) == 44  # hardware-agnostic: the plain ratio


def test_nothing_left_to_prune_says_which_setting_to_change(tiny) -> None:
    from autoopt.compress import CompressionError

    with pytest.raises(
        CompressionError, match=r"round_to 16 and min_channels 16 .* lower compress.prune.min_channels"
    ):
        prune(tiny("cnn"), {"ratio": 0.5, "round_to": 16, "min_channels": 16}, input_shape=SHAPE)


def test_auto_uses_the_machine_vector_width_and_is_the_default() -> None:
    assert PruneConfig().round_to == "auto" and PruneConfig().min_channels == 16
    assert resolve_round_to("auto") == vector_width() in (4, 8, 16)
    assert resolve_round_to(None) == 1 and resolve_round_to(8) == 8
    assert vector_width(("avx2", "avx512f")) == 16 and vector_width(("neon",)) == 8


@pytest.mark.parametrize("bad", [0, "fast", 2.5])
def test_bad_round_to_names_the_key(bad: object) -> None:
    with pytest.raises(InvalidSpecError, match=r"compress\.prune\.round_to"):
        PruneConfig(round_to=bad)
