"""The model interface every autoopt model follows, and a wrapper for models that do not.

Distillation, NAS heads, transfer learning and export only rely on four methods::

    features = model.forward_features(x)     # everything up to the classifier
    logits = model.forward_head(features)    # the classifier
    model.reset_classifier(num_classes)      # a fresh classifier for a new class count
    model(x) == model.forward_head(model.forward_features(x))

plus :meth:`AutoOptModel.blocks`, the ordered list of trainable units (input to head) that the
freeze policies and gradual unfreezing count from the end.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from autoopt.data import DatasetMeta
from autoopt.exceptions import InvalidSpecError

__all__ = ["AutoOptModel", "WrappedModel", "as_autoopt_model", "output_dim", "find_last_linear"]


class AutoOptModel(nn.Module):
    """Base class of autoopt models: a backbone (:meth:`forward_features`) and a linear classifier.

    Subclasses implement :meth:`forward_features`, keep their classifier as an ``nn.Linear``
    reachable under :attr:`classifier_name` (``"head"`` by default) and may apply dropout in
    :meth:`forward_head` through ``self.head_drop``.
    """

    #: qualified name of the final ``nn.Linear`` (the part transfer learning re-initializes).
    classifier_name: str = "head"
    #: the dtype of the model's one input: ``torch.int64`` for token ids (text models); dummy inputs
    #: (``count_macs``, a torch runner's latency batch) use it when no task kind is given.
    input_dtype: torch.dtype = torch.float32

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Map a batch of inputs to a batch of feature vectors ``(N, D)``."""
        raise NotImplementedError

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Map features ``(N, D)`` to logits ``(N, num_outputs)``."""
        drop = getattr(self, "head_drop", None)
        if drop is not None:
            features = drop(features)
        return self.get_classifier()(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Linear:
        """The final linear layer."""
        module = self.get_submodule(self.classifier_name)
        if not isinstance(module, nn.Linear):
            raise TypeError(f"{type(self).__name__}.{self.classifier_name} is not an nn.Linear")
        return module

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a freshly initialized ``nn.Linear`` with ``num_classes`` outputs.

        Args:
            num_classes: the new number of outputs (1 for regression).
        """
        if not isinstance(num_classes, int) or num_classes < 1:
            raise InvalidSpecError(f"num_classes: expected a positive integer; got {num_classes!r}")
        old = self.get_classifier()
        new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
        new.to(device=old.weight.device, dtype=old.weight.dtype)
        _set_submodule(self, self.classifier_name, new)

    @property
    def num_features(self) -> int:
        """Width of the feature vector fed to the classifier."""
        return self.get_classifier().in_features

    def blocks(self) -> list[tuple[str, nn.Module]]:
        """The trainable units from input to output, the classifier last.

        The freeze policy ``all-but-last-N`` keeps the last ``N`` of them trainable. The default
        walks the children, expanding ``nn.Sequential``/``nn.ModuleList`` containers.
        """
        return default_blocks(self, self.classifier_name)


class WrappedModel(AutoOptModel):
    """Gives any ``nn.Module`` whose final operation is an ``nn.Linear`` the autoopt interface.

    ``forward`` calls the wrapped module unchanged. ``forward_features`` runs the module and captures
    the input of its last ``nn.Linear`` with a forward hook, so it is exact when that layer is the
    last operation of ``forward`` (the common ``... -> flatten -> fc`` layout). The parameters live
    under the ``model.`` prefix of the state dict.

    Args:
        model: the module to wrap.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        name = find_last_linear(model)
        if name is None:
            raise InvalidSpecError(
                f"{type(model).__name__} has no nn.Linear layer; subclass autoopt.models.AutoOptModel "
                "to give it forward_features/forward_head/reset_classifier"
            )
        # The root module itself may be the Linear layer (name ""): then it is "model".
        self.classifier_name = f"model.{name}" if name else "model"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []

        def hook(_module: nn.Module, args: tuple[Any, ...]) -> None:
            captured.append(args[0])

        handle = self.get_classifier().register_forward_pre_hook(hook)
        try:
            self.model(x)
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f"{type(self.model).__name__}.forward never called {self.classifier_name}")
        return captured[-1]

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.get_classifier()(features)

    def blocks(self) -> list[tuple[str, nn.Module]]:
        return [
            (f"model.{n}", m) for n, m in default_blocks(self.model, self.classifier_name[len("model.") :])
        ]


def as_autoopt_model(model: nn.Module) -> AutoOptModel:
    """Return ``model`` itself when it is an :class:`AutoOptModel`, else a :class:`WrappedModel`.

    Args:
        model: any module; a wrapped one must contain an ``nn.Linear`` (its last one is the head).
    """
    return model if isinstance(model, AutoOptModel) else WrappedModel(model)


def output_dim(meta: DatasetMeta) -> int:
    """Number of model outputs for a dataset (its task kind's ``output_dim``): ``num_classes`` for
    classification, 1 for regression.

    Args:
        meta: the dataset description.

    Raises:
        InvalidSpecError: the kind needs classes and ``meta.num_classes`` is missing or below 1.
    """
    return meta.kind.output_dim(meta.num_classes)


def find_last_linear(model: nn.Module) -> str | None:
    """Qualified name of the last ``nn.Linear`` registered in ``model`` (``None`` if there is none)."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    return last


def default_blocks(model: nn.Module, head: str | None) -> list[tuple[str, nn.Module]]:
    """Split ``model`` into ordered parameter-holding units, expanding Sequential/ModuleList children.

    Args:
        model: the module to split.
        head: qualified name of a submodule to keep as one unit placed last (``None``: keep order).
    """
    out: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, module: nn.Module) -> None:
        for name, child in module.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if head is not None and full == head:
                continue
            if isinstance(child, (nn.Sequential, nn.ModuleList)) or (
                head is not None and head.startswith(full + ".")
            ):
                walk(full, child)
            elif any(True for _ in child.parameters()):
                out.append((full, child))

    walk("", model)
    if head is not None:
        out.append((head, model.get_submodule(head)))
    return out


def _set_submodule(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, attr, module)
