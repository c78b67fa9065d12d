"""The compression-step registry: every step is one class, and a new one is one file plus its registration."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from autoopt.compress import PlanConfig, run_plan
from autoopt.compress.steps import CompressionStep, StepContext, StepResult, list_steps, steps
from autoopt.data import load_data
from autoopt.exceptions import InvalidSpecError
from autoopt.models import build_model


class ScaleConfig(BaseModel):
    """A plain pydantic config (not autoopt's base class): its errors still name the step's path."""

    model_config = ConfigDict(extra="forbid")
    factor: float = Field(2.0, gt=0)


class ScaleStep(CompressionStep[ScaleConfig]):
    """Multiply the classifier's logits by ``factor`` (> 0 keeps every prediction: accuracy unchanged)."""

    name: ClassVar[str] = "scale"
    config_class = ScaleConfig

    def apply(self, model: nn.Module, ctx: StepContext) -> StepResult:
        name, head = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
        with torch.no_grad():
            head.weight.mul_(self.config.factor)
            if head.bias is not None:
                head.bias.mul_(self.config.factor)
        return StepResult(model, f"logits x{self.config.factor:g}", {"layer": name, "index": ctx.index})

    def report(self, result: StepResult) -> dict[str, Any] | None:
        return {**result.details, "factor": self.config.factor}


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    data = load_data({"name": "digits", "limit": 200})
    return build_model("cnn", {"blocks": 1, "channels": 8}, data.meta).eval(), data


def test_a_registered_dummy_step_runs_in_a_plan_from_a_spec_and_shows_in_the_report(tiny, tmp_path) -> None:
    model, data = tiny
    section = {"steps": [{"scale": {"factor": 3.0}}], "latency_repeats": 2, "reference": False}
    with pytest.raises(InvalidSpecError, match=r"compress\.steps\[0\]: unknown compression step 'scale'"):
        PlanConfig.from_spec(section)
    with steps.registered("scale", ScaleStep):
        assert "scale" in list_steps()
        res = run_plan(model, data, PlanConfig.from_spec(section), out_dir=tmp_path)
        with pytest.raises(
            InvalidSpecError, match=r"^compress\.steps\[1\]\.scale\.factor: must be > 0\.0; got -1$"
        ):
            PlanConfig.from_spec({"steps": [{"finetune": {}}, {"scale": {"factor": -1}}]})
    assert "scale" not in steps and "scale" not in list_steps()

    base, scaled = res.rows
    assert scaled.step == "1. scale" and scaled.note == "logits x3"
    assert scaled.accuracy == base.accuracy and scaled.params == base.params  # argmax unchanged
    assert res.reports["1. scale"] == {"layer": "head", "index": 1, "factor": 3.0}
    cand = res.candidates[-1]
    assert cand.id == "1_scale" and cand.derived_from == "baseline_fp32" and res.selected is cand
    x = torch.stack([data.test[i][0] for i in range(8)])
    with torch.no_grad():  # the step really ran on the model that ships; the input model is untouched
        torch.testing.assert_close(res.model(x), 3.0 * model(x), rtol=1e-4, atol=1e-5)
    assert res.models["1_scale"] is res.model
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert [r["step"] for r in saved["rows"]] == ["baseline (fp32)", "1. scale"]
    assert saved["reports"]["1. scale"]["factor"] == 3.0 and (tmp_path / "1_scale" / "model.onnx").is_file()


@pytest.mark.parametrize("name", list_steps())
def test_every_registered_step_has_a_config_with_defaults_and_names_bad_keys(name: str) -> None:
    step = steps.get(name)
    assert step.name == name and issubclass(step.config_class, BaseModel)
    config = step.parse({}, f"compress.steps[0].{name}")
    assert isinstance(config, BaseModel) and isinstance(step(config), CompressionStep)
    with pytest.raises(InvalidSpecError, match=rf"^compress\.steps\[2\]\.{name}\.bogus: unknown field"):
        step.parse({"bogus": 1}, f"compress.steps[2].{name}")


def test_the_built_in_steps() -> None:
    assert list_steps() == ["finetune", "prune", "quantize", "sparsity"]
