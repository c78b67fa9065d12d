from __future__ import annotations

import pytest
import torch
from torch import nn

from autoopt.compress import CompressionError as ExportedError
from autoopt.compress.prune import CompressionError, prune
from autoopt.exceptions import AutoOptError
from autoopt.models import count_params

#: hardware-agnostic pruning: these tiny models have 4-16 channels, below the default floor of 16.
ANY = {"round_to": 1, "min_channels": 1}

SHAPE = (1, 8, 8)


class Branchy(nn.Module):
    """Data-dependent control flow: ``rare`` only runs on huge inputs, so tracing never sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.common = nn.Conv2d(8, 8, 3, padding=1)
        self.rare = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.rare(x) if x.abs().sum() > 1e9 else self.common(x)
        return self.head(x.mean((2, 3)))


class HardCodedWidth(nn.Module):
    """``reshape`` with a hard-coded width: removing ``c2``'s channels breaks the head; ``c1`` is fine."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c2(torch.relu(self.c1(x)))
        return self.head(x.reshape(-1, 8 * 8 * 8))


class NeedsTwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1)
        self.head = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("this forward needs a mask tensor too")


def test_error_type_is_exported_and_in_the_hierarchy() -> None:
    assert ExportedError is CompressionError
    assert issubclass(CompressionError, AutoOptError) and issubclass(CompressionError, RuntimeError)


def test_untraceable_model_raises_naming_the_layer() -> None:
    with pytest.raises(CompressionError, match=r"cannot trace Branchy: layer\(s\) 'rare' were never reached"):
        prune(Branchy(), {**ANY, "ratio": 0.5}, input_shape=SHAPE)


def test_skip_returns_the_model_unchanged_and_flags_the_report() -> None:
    model = Branchy()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    out, report = prune(model, {**ANY, "ratio": 0.5, "on_error": "skip"}, input_shape=SHAPE)
    assert out is model
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert report.params_after == report.params_before == count_params(model)
    assert report.skipped is not None and "'rare' were never reached" in report.skipped
    assert report.pruned is False
    assert report.to_dict()["pruned"] is False
    assert "SKIPPED" in report.summary()
    assert all(before == after for before, after in report.channels.values())


def test_forward_failure_names_the_failing_layer() -> None:
    with pytest.raises(
        CompressionError, match=r"NeedsTwoInputs does not run on an example batch.*needs a mask"
    ):
        prune(NeedsTwoInputs(), {**ANY, "ratio": 0.5}, input_shape=SHAPE)


def test_layer_that_breaks_the_graph_is_excluded_and_the_rest_pruned() -> None:
    model = HardCodedWidth()
    pruned, report = prune(model, {**ANY, "ratio": 0.5}, input_shape=SHAPE)
    assert list(report.excluded) == ["c2"]
    assert "breaks the graph" in report.excluded["c2"]
    assert "'head' (Linear)" in report.excluded["c2"]  # where the forward failed
    assert report.channels["c1"] == (8, 4) and report.channels["c2"] == (8, 8)
    assert report.pruned and report.params_after < report.params_before
    assert pruned(torch.zeros(3, *SHAPE)).shape == (3, 10)


def test_nothing_prunable_is_never_reported_as_pruned(tiny) -> None:
    model = tiny("mlp", depth=0)  # only the classifier, which is always kept
    with pytest.raises(CompressionError, match="nothing was pruned"):
        prune(model, {**ANY, "ratio": 0.5}, input_shape=SHAPE)
    out, report = prune(model, {**ANY, "ratio": 0.5, "on_error": "skip"}, input_shape=SHAPE)
    assert out is model and not report.pruned
    assert report.skipped is not None and "nothing was pruned" in report.skipped


def test_bn_scale_without_batchnorm_says_which_criteria_work(tiny) -> None:
    with pytest.raises(CompressionError, match=r"'bn-scale' .* MLP has no BatchNorm layer; use 'l1'"):
        prune(tiny("mlp", batch_norm=False), {**ANY, "criterion": "bn-scale"}, input_shape=SHAPE)


def test_report_cannot_claim_pruning_when_sizes_are_equal() -> None:
    from autoopt.compress.prune import PruneReport

    report = PruneReport(
        "l1", 0.5, "layer", 1, params_before=10, params_after=10, macs_before=5, macs_after=5
    )
    assert report.skipped is not None and not report.pruned
