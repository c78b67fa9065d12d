"""``finetune``: train the current model a few epochs, optionally distilling from the plan's input."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from torch import nn

from autoopt.compress._config import _Validated
from autoopt.compress.steps._base import CompressionStep, StepContext, StepResult, register_step
from autoopt.training import fit

__all__ = ["FinetuneConfig", "FinetuneStep"]


class FinetuneConfig(_Validated):
    """``finetune:`` step: train the current model a few epochs, optionally distilling from the original.

    Attributes:
        epochs: fine-tuning epochs.
        lr: learning rate; ``None``: the spec's ``training.lr``.
        distill: distill from the unpruned original model (knowledge distillation).
        alpha: weight of the teacher's soft targets when ``distill`` is on.
        temperature: softmax temperature of the soft targets when ``distill`` is on.
    """

    key: ClassVar[str] = "compress.finetune"

    epochs: int = Field(5, ge=1)
    lr: float | None = Field(None, gt=0)
    distill: bool = False
    alpha: float = Field(0.5, ge=0, le=1)
    temperature: float = Field(4.0, gt=0)


@register_step
class FinetuneStep(CompressionStep[FinetuneConfig]):
    """Recover accuracy after pruning: ``training.fit``, or knowledge distillation from the original."""

    name = "finetune"
    config_class = FinetuneConfig

    def apply(self, model: nn.Module, ctx: StepContext) -> StepResult:
        sc = self.config
        cfg = ctx.train.model_copy(update={"epochs": sc.epochs, **({"lr": sc.lr} if sc.lr else {})})
        if sc.distill:
            from autoopt.distill import distill

            distill(
                model,
                ctx.original,
                ctx.data,
                cfg,
                alpha=sc.alpha,
                temperature=sc.temperature,
                out_dir=ctx.folder / "train",
            )
            note = f"{sc.epochs} epochs, KD from the original (alpha {sc.alpha}, T {sc.temperature})"
            return StepResult(model, note)
        fit(model, ctx.data, cfg, out_dir=ctx.folder / "train")
        return StepResult(model, f"{sc.epochs} epochs")
