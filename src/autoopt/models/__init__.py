"""Model builders registered by name, the model interface, size profiling and transfer learning.

Example:
    >>> from autoopt.data import DatasetMeta
    >>> from autoopt.models import build_model, count_params, list_models
    >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
    >>> "cnn" in list_models()
    True
    >>> model = build_model("mlp", {"depth": 1, "width": 16}, meta)
    >>> count_params(model)  # (64 * 16 + 16) + (16 * 10 + 10)
    1210
"""

from __future__ import annotations

from autoopt.models import (  # noqa: F401  (register the builders)
    _cnn,
    _mlp,
    _resnet,
    _text,
    _torchvision,
    arch,  # the architecture spaces nas-macro, nas-cell, nas-mlp
)
from autoopt.models._base import AutoOptModel, WrappedModel, as_autoopt_model
from autoopt.models._checkpoint import LoadReport, load_checkpoint, read_state_dict, save_checkpoint
from autoopt.models._cnn import CNN
from autoopt.models._default_space import default_epochs, default_point, default_space
from autoopt.models._factory import (
    REQUIRED,
    build_model,
    check_model_params,
    list_models,
    model_params,
    models,
)
from autoopt.models._freeze import FREEZE_POLICIES, apply_freeze, param_groups, unfreeze_schedule
from autoopt.models._mlp import MLP
from autoopt.models._profile import count_macs, count_params
from autoopt.models._resnet import BasicBlock, ResNet

__all__ = [
    "default_space",
    "default_point",
    "default_epochs",
    "AutoOptModel",
    "WrappedModel",
    "as_autoopt_model",
    "models",
    "build_model",
    "list_models",
    "model_params",
    "check_model_params",
    "REQUIRED",
    "MLP",
    "CNN",
    "ResNet",
    "BasicBlock",
    "count_params",
    "count_macs",
    "LoadReport",
    "save_checkpoint",
    "load_checkpoint",
    "read_state_dict",
    "FREEZE_POLICIES",
    "apply_freeze",
    "param_groups",
    "unfreeze_schedule",
]
