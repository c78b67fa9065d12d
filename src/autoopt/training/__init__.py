"""The training loop: ``fit`` a model on a ``DataBundle`` with a ``TrainConfig``.

Example:
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from autoopt.data._bundle import DataBundle, DatasetMeta
    >>> from autoopt.training import TrainConfig, fit
    >>> ds = TensorDataset(torch.randn(64, 4), torch.randint(0, 3, (64,)))
    >>> data = DataBundle(ds, ds, ds, DatasetMeta("toy", "classification", (4,), num_classes=3))
    >>> result = fit(torch.nn.Linear(4, 3), data, TrainConfig(epochs=2, device="cpu"))
    >>> sorted(result.val_metrics)
    ['accuracy', 'f1_macro', 'loss', 'precision_macro', 'recall_macro']
"""

from __future__ import annotations

from autoopt.training._config import TrainConfig, coerce_config
from autoopt.training._device import resolve_device
from autoopt.training._evaluate import evaluate_model
from autoopt.training._loop import Reporter, fit
from autoopt.training._optim import OPTIMIZERS, build_optimizer, list_optimizers
from autoopt.training._progress import EpochListener, epoch_listener, listen_epochs
from autoopt.training._result import FitResult
from autoopt.training._resume import RESUME_NAME
from autoopt.training._schedule import SCHEDULES, Schedule, build_schedule, list_schedules
from autoopt.training._seed import seed_everything
from autoopt.training._task import ClassificationTask, KindTask, RegressionTask, TrainTask, build_task

__all__ = [
    "RESUME_NAME",
    "TrainConfig",
    "coerce_config",
    "EpochListener",
    "epoch_listener",
    "listen_epochs",
    "fit",
    "FitResult",
    "Reporter",
    "evaluate_model",
    "TrainTask",
    "KindTask",
    "ClassificationTask",
    "RegressionTask",
    "build_task",
    "OPTIMIZERS",
    "SCHEDULES",
    "Schedule",
    "build_optimizer",
    "build_schedule",
    "list_optimizers",
    "list_schedules",
    "resolve_device",
    "seed_everything",
]
