"""``quantize``: INT8 ONNX (static, dynamic or QAT); the plan's last step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from autoopt.compress.quantize import QuantizeConfig
from autoopt.compress.steps._base import CompressionStep, StepContext, StepResult, register_step

__all__ = ["QuantizeStep"]


@register_step
class QuantizeStep(CompressionStep[QuantizeConfig]):
    """Make an INT8 ONNX file: static and dynamic convert the previous step's fp32 ONNX file, QAT
    fine-tunes the torch model. A ``prune`` step with ``policy: auto`` and ``precision: true`` before
    it keeps the layers it chose in fp32."""

    name = "quantize"
    config_class = QuantizeConfig
    last = True

    def apply(self, model: nn.Module, ctx: StepContext) -> StepResult:
        from autoopt.compress.quantize import quantize

        sc = self.config
        note: str = sc.mode
        precision = None
        policy = ctx.shared.get("precision_policy")
        if policy is not None:
            from autoopt.compress.auto import auto_precision

            precision = auto_precision(model, policy, ctx.data)
            sc = sc.model_copy(update={"exclude": sorted({*sc.exclude, *precision.fp32_layers})})
            note += (
                f", mixed precision ({policy.agent}): fp32 layers "
                f"{precision.fp32_layers or 'none'}, weights {precision.size_fraction:.1%} of fp32"
            )
        source: Any = model if sc.mode == "qat" else ctx.source_onnx
        res = quantize(source, ctx.folder / "model.onnx", ctx.data, sc, train_config=ctx.train)
        details: dict[str, Any] = res.report.to_dict() if hasattr(res.report, "to_dict") else {}
        if precision is not None:
            details["precision"] = precision.to_dict()
        return StepResult(model, note, details, onnx=Path(res.path), precision="int8")

    def report(self, result: StepResult) -> dict[str, Any] | None:
        return dict(result.details or {})
