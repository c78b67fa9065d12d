"""``prune: {policy: auto}`` in a plan and the HAQ-style per-layer precision choice."""

from __future__ import annotations

import random

import pytest
import torch

from autoopt.compress import PlanConfig, run_plan
from autoopt.compress.auto import AutoPolicyConfig, HeldOut, PrecisionSpace, auto_prune, search_precision
from autoopt.exceptions import InvalidSpecError


def test_plan_searches_applies_finetunes_quantizes_and_reports(tiny_resnet, digits_full, tmp_path) -> None:
    plan = {
        "steps": [
            {
                "prune": {
                    "policy": "auto",
                    "agent": "tpe",
                    "budget": {"macs": 0.5},
                    "episodes": 6,
                    "samples": 128,
                    "bn_batches": 2,
                    "precision": True,
                    "size": 0.5,
                    "precision_episodes": 4,
                }
            },
            {"finetune": {"epochs": 1, "distill": True}},
            {"quantize": {"mode": "static", "sensitivity": False, "calibration_samples": 128}},
        ],
        "latency_repeats": 2,
        "latency_batch_sizes": [1],
    }
    res = run_plan(
        tiny_resnet, digits_full, plan, out_dir=tmp_path, train_config={"epochs": 1, "device": "cpu"}
    )
    base, pruned, tuned, quant = res.rows[:4]
    assert [r.step for r in res.rows[:4]] == ["baseline (fp32)", "1. prune", "2. finetune", "3. quantize"]
    # an INT8 model measured slower than its fp32 source is not shipped: the source is, in a last row
    assert [r.step for r in res.rows[4:]] in ([], ["shipped: 2. finetune"])
    assert pruned.macs <= 0.5 * base.macs and pruned.params < base.params
    assert "policy auto (tpe, 6 evaluations" in pruned.note
    search = res.reports["1. prune"]["search"]
    assert search["evaluations"] == 6 and len(search["policy"]) == 6
    assert "mixed precision (tpe)" in quant.note and quant.size_bytes < tuned.size_bytes
    precision = res.reports["3. quantize"]["precision"]
    assert precision["size_fraction"] <= 0.5
    # the layers chosen to stay fp32 reach the quantizer as ONNX nodes kept in float
    assert bool(precision["fp32_layers"]) == bool(res.reports["3. quantize"]["excluded"])
    assert (tmp_path / "metrics.json").is_file() and quant.accuracy is not None


STEP0 = r"compress\.steps\[0\]\.prune"  # errors name the step where it stands in the plan


@pytest.mark.parametrize(
    ("prune", "match"),
    [
        ({"policy": "manual"}, r"compress\.steps\[0\]\.prune\.policy: expected 'auto'"),
        ({"policy": "auto", "budget": {"latency": 0.5}}, rf"{STEP0}\.budget.*unknown resource"),
        ({"policy": "auto", "budget": {"macs": 1.5}}, r"compress\.steps\[0\]\.prune\.budget.*\(0, 1\]"),
        ({"policy": "auto", "agent": "ppo"}, r"compress\.steps\[0\]\.prune\.agent"),
        ({"policy": "auto", "criterion": "taylor"}, r"compress\.steps\[0\]\.prune\.criterion.*gradients"),
        (
            {"policy": "auto", "precision": True},
            rf"{STEP0}\.precision: per-layer precisions are applied by a final",
        ),
    ],
)
def test_bad_auto_settings_are_named_before_anything_runs(prune: dict, match: str) -> None:
    with pytest.raises(InvalidSpecError, match=match):
        PlanConfig.from_spec({"steps": [{"prune": prune}, {"finetune": {"epochs": 1}}]})


def test_unreachable_budget_names_the_smallest_value_before_searching(tiny_resnet, digits_full) -> None:
    seen = []
    with pytest.raises(InvalidSpecError, match=r"budget\.macs: 0\.01 .*smallest achievable is 0\.\d+"):
        auto_prune(tiny_resnet, {"budget": {"macs": 0.01}, "episodes": 3}, digits_full, on_trial=seen.append)
    assert seen == []


def test_precision_policies_meet_the_size_budget(tiny_resnet, digits_full) -> None:
    held = HeldOut(digits_full, samples=128, bn_batches=2, seed=0)
    space = PrecisionSpace(tiny_resnet, held.bn)
    rng = random.Random(0)
    for _ in range(50):
        size = rng.uniform(space.min_fraction(), 1.0)
        chosen = space.clip([rng.random() < 0.5 for _ in space.layers], size)
        assert space.size_fraction(chosen) <= size
    with pytest.raises(InvalidSpecError, match="all-INT8|every layer INT8"):
        space.check_budget(0.1)
    # fake INT8 stays close to fp32 on a trained model, and changes the weights
    fp32 = held.accuracy(space.model)
    assert held.accuracy(space.quantized(["int8"] * len(space.layers))) > fp32 - 0.1
    q = dict(space.quantized(["int8"] * len(space.layers)).named_modules())["stem.0"].weight
    assert not torch.equal(q, dict(space.model.named_modules())["stem.0"].weight)


def test_precision_search_returns_a_policy_within_the_budget(tiny_resnet, digits_full) -> None:
    held = HeldOut(digits_full, samples=128, bn_batches=2, seed=0)
    space = PrecisionSpace(tiny_resnet, held.bn)
    for agent in ("ddpg", "tpe"):
        res = search_precision(space, held, size=0.4, agent=agent, episodes=5, seed=0)
        assert res.size_fraction <= 0.4 and res.evaluations == 5
        assert res.reward >= res.int8_reward  # all-INT8 is the fallback when no mix beats it
        assert set(res.fp32_layers) <= set(space.layers)


def test_auto_config_defaults() -> None:
    cfg = AutoPolicyConfig()
    assert (cfg.agent, cfg.budget, cfg.max_ratio, cfg.episodes) == ("ddpg", {"macs": 0.5}, 0.8, 60)
