from __future__ import annotations

import pytest
import torch
from torch import nn

from autoopt.compress.prune import PruneConfig, list_criteria, prune
from autoopt.models import count_macs, count_params
from autoopt.training import ClassificationTask, evaluate_model, fit

#: hardware-agnostic pruning: these tiny models have 4-16 channels, below the default floor of 16.
ANY = {"round_to": 1, "min_channels": 1}

SHAPE = (1, 8, 8)
X = torch.randn(4, *SHAPE, generator=torch.Generator().manual_seed(0))


def _conv_out(model: nn.Module) -> dict[str, int]:
    return {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


@pytest.mark.parametrize("builder", ["cnn", "resnet", "mlp"])
@pytest.mark.parametrize("criterion", [c for c in list_criteria() if c != "taylor"] + ["taylor"])
def test_every_builder_and_criterion_really_shrinks(tiny, digits, builder: str, criterion: str) -> None:
    model = tiny(builder).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pruned, report = prune(model, {**ANY, "ratio": 0.5, "criterion": criterion}, data=digits)
    assert not pruned.training  # the mode of the input model
    assert report.pruned and report.skipped is None
    assert count_params(pruned) == report.params_after < report.params_before == count_params(model)
    assert count_macs(pruned, SHAPE) == report.macs_after < report.macs_before
    assert report.macs_ratio < 0.6
    # Same outputs shape; the autoopt model interface still works on the smaller model.
    assert pruned(X).shape == model(X).shape == (4, 10)
    torch.testing.assert_close(pruned.forward_head(pruned.forward_features(X)), pruned(X))
    assert pruned.get_classifier().out_features == 10
    # The input model is untouched.
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_resnet_residual_groups_stay_consistent(tiny) -> None:
    model = tiny("resnet")
    pruned, report = prune(model, {**ANY, "ratio": 0.5, "criterion": "l1"}, input_shape=SHAPE)
    ch = _conv_out(pruned)
    # Everything added to the stage-0 residual stream has the same width (stem, conv2 of each block).
    assert ch["stem.0"] == ch["stages.0.0.conv2"] == ch["stages.0.1.conv2"] == 4
    assert ch["stages.1.0.shortcut.0"] == ch["stages.1.0.conv2"] == ch["stages.1.1.conv2"] == 8
    assert pruned.stages[1][0].bn2.num_features == 8
    assert report.channels["stem.0"] == (8, 4)


def test_layer_scope_gives_each_layer_its_ratio(tiny) -> None:
    cfg = PruneConfig(**ANY, ratio=0.5, per_layer={"body.0.0": 0.25, "body.2.0": 0.75}, criterion="l2")
    model = tiny("cnn", blocks=3, channels=16)  # 16, 32, 64 channels
    _, report = prune(model, cfg, input_shape=SHAPE)
    for name, ratio in {"body.0.0": 0.25, "body.1.0": 0.5, "body.2.0": 0.75}.items():
        before, after = report.channels[name]
        assert abs(after - before * (1 - ratio)) <= 1, (name, before, after)
    assert report.channels["head"] == (10, 10)


def test_global_scope_reaches_the_total_and_ranks_across_layers(tiny, digits) -> None:
    model = tiny("cnn", blocks=3, channels=16)
    fit(model, digits, {"epochs": 2, "lr": 0.01, "device": "cpu"})
    _, glob = prune(model, {**ANY, "ratio": 0.5, "scope": "global", "criterion": "l1"}, input_shape=SHAPE)
    _, layer = prune(model, {**ANY, "ratio": 0.5, "scope": "layer", "criterion": "l1"}, input_shape=SHAPE)
    convs = ["body.0.0", "body.1.0", "body.2.0"]
    total_before = sum(glob.channels[n][0] for n in convs)
    assert abs(sum(glob.channels[n][1] for n in convs) - total_before / 2) <= len(convs)
    assert [layer.channels[n][1] for n in convs] == [8, 16, 32]
    assert [glob.channels[n][1] for n in convs] != [8, 16, 32]  # one ranking: unequal fractions


def test_iterative_steps_reach_the_one_shot_target(tiny) -> None:
    model = tiny("resnet")
    _, once = prune(model, {**ANY, "ratio": 0.6, "criterion": "l2"}, input_shape=SHAPE)
    _, steps = prune(model, {**ANY, "ratio": 0.6, "criterion": "l2", "steps": 3}, input_shape=SHAPE)
    assert [h.step for h in steps.history] == [1, 2, 3]
    assert [round(h.ratio, 3) for h in steps.history] == [0.2, 0.4, 0.6]
    params = [h.params for h in steps.history]
    assert params == sorted(params, reverse=True) and len(set(params)) == 3
    assert {n: c[1] for n, c in steps.channels.items()} == {n: c[1] for n, c in once.channels.items()}
    assert steps.params_after == once.params_after


def test_round_to_keeps_channel_multiples(tiny) -> None:
    model = tiny("cnn", blocks=2, channels=16)
    _, report = prune(model, {**ANY, "ratio": 0.3, "round_to": 4}, input_shape=SHAPE)
    assert [report.channels[n][1] % 4 for n in ("body.0.0", "body.1.0")] == [0, 0]
    assert report.pruned


def test_ignored_layers_keep_their_channels(tiny) -> None:
    _, report = prune(tiny("cnn"), {**ANY, "ratio": 0.5, "ignore": ["body.0"]}, input_shape=SHAPE)
    assert report.channels["body.0.0"] == (8, 8)
    assert report.channels["body.1.0"] == (16, 8)
    assert report.ignored == ["body.0", "head"]


def test_random_differs_from_l2_and_is_seeded(tiny, digits) -> None:
    model = tiny("cnn")
    fit(model, digits, {"epochs": 1, "lr": 0.01, "device": "cpu"})
    l2, _ = prune(model, {**ANY, "criterion": "l2"}, input_shape=SHAPE)
    r0, _ = prune(model, {**ANY, "criterion": "random", "seed": 0}, input_shape=SHAPE)
    r0b, _ = prune(model, {**ANY, "criterion": "random", "seed": 0}, input_shape=SHAPE)
    r1, _ = prune(model, {**ANY, "criterion": "random", "seed": 1}, input_shape=SHAPE)
    w = {k: m.body[0][0].weight for k, m in {"l2": l2, "r0": r0, "r0b": r0b, "r1": r1}.items()}
    assert w["l2"].shape == w["r0"].shape
    assert not torch.equal(w["l2"], w["r0"])
    assert torch.equal(w["r0"], w["r0b"])
    assert not torch.equal(w["r0"], w["r1"])


def test_l2_keeps_the_largest_filters(tiny) -> None:
    model = tiny("cnn", batch_norm=False)
    conv = model.body[0][0]
    with torch.no_grad():
        conv.weight.mul_(0.01)
        conv.weight[[1, 3, 4, 6]] *= 1000  # the four largest filters (no BatchNorm to share the score)
    pruned, _ = prune(model, {**ANY, "ratio": 0.5, "criterion": "l2"}, input_shape=SHAPE)
    torch.testing.assert_close(pruned.body[0][0].weight, conv.weight[[1, 3, 4, 6]])


def test_finetuning_recovers_accuracy(tiny, digits) -> None:
    model = tiny("cnn", channels=16)
    fit(model, digits, {"epochs": 6, "lr": 0.01, "device": "cpu", "seed": 0})
    train = {"lr": 0.01, "device": "cpu"}
    cfg = {**ANY, "ratio": 0.7, "criterion": "l1"}
    cut, _ = prune(model, cfg, data=digits)
    tuned, report = prune(model, {**cfg, "finetune_epochs": 4}, data=digits, train_config=train)
    acc_cut = evaluate_model(cut, digits.val, device="cpu")["accuracy"]
    acc_tuned = evaluate_model(tuned, digits.val, device="cpu")["accuracy"]
    assert acc_tuned >= acc_cut + 0.1, (acc_cut, acc_tuned)
    assert report.finetune == "plain"
    assert report.history[-1].val_metrics["accuracy"] == pytest.approx(acc_tuned)


def test_teacher_and_custom_task_are_used_for_finetuning(tiny, digits) -> None:
    calls = []

    def factory(student: nn.Module, teacher: nn.Module | None) -> ClassificationTask:
        calls.append(teacher)
        return ClassificationTask(student)

    model = tiny("cnn")
    cfg = {**ANY, "ratio": 0.5, "finetune_epochs": 1}
    _, report = prune(
        model, cfg, data=digits, train_config={"device": "cpu"}, teacher="original", task_factory=factory
    )
    assert report.finetune == "custom"
    assert isinstance(calls[0], type(model)) and calls[0] is not model
    _, report = prune(model, cfg, data=digits, train_config={"device": "cpu"}, teacher="original")
    assert report.finetune in ("distill", "plain")  # distill when autoopt.distill is importable


def test_report_serializes(tiny) -> None:
    _, report = prune(tiny("resnet"), {**ANY, "ratio": 0.5}, input_shape=SHAPE)
    d = report.to_dict()
    assert d["pruned"] is True and d["channels"]["stem.0"] == [8, 4]
    assert "params 4" in report.summary() or "params" in report.summary()
