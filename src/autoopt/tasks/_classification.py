"""Classification: class-index targets, logits out, cross-entropy, accuracy."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from autoopt.tasks._base import TaskKind, _need_classes, task_kinds

__all__ = ["Classification"]


@task_kinds.register("classification")
class Classification(TaskKind):
    """``(N, num_classes)`` logits against ``int64`` class indices."""

    name = "classification"
    has_classes = True
    score_metric = "accuracy"
    metrics = ("accuracy", "precision_macro", "recall_macro", "f1_macro")
    train_metrics = ("loss", "accuracy")
    input_dtype = torch.float32
    target_dtype = torch.int64

    def output_dim(self, num_classes: int | None) -> int:
        return _need_classes(self.name, num_classes)

    def loss(
        self, output: torch.Tensor, target: torch.Tensor, *, label_smoothing: float = 0.0
    ) -> torch.Tensor:
        return F.cross_entropy(output, target.long(), label_smoothing=label_smoothing)

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        outputs = np.asarray(outputs)
        return outputs.argmax(axis=1) if outputs.ndim == 2 else outputs.astype(np.int64)

    def batch_sums(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        output = output.detach().float()
        return torch.stack(
            [
                F.cross_entropy(output, target, reduction="sum").double(),
                (output.argmax(dim=1) == target).sum().double(),
            ]
        )

    def from_sums(self, sums: list[float], count: int) -> dict[str, float]:
        sums, n = sums or [0.0, 0.0], max(count, 1)
        return {"loss": sums[0] / n, "accuracy": sums[1] / n}
