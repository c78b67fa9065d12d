"""``torchvision`` / ``tv:<arch>``: torchvision architectures adapted to the dataset (optional dependency).

torchvision is not a dependency of autoopt: the builder is always registered, and building says how
to install it when it is missing. Weights are never downloaded at run time; pass a local file saved
beforehand (see :func:`autoopt.models.load_checkpoint`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

import torch
from torch import nn

from autoopt.data import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.models._base import WrappedModel, output_dim
from autoopt.models._checkpoint import load_checkpoint
from autoopt.models._checks import ParamError
from autoopt.models._cnn import image_shape
from autoopt.models._factory import models

__all__ = ["torchvision_model", "import_torchvision"]


def import_torchvision() -> ModuleType:
    """Import ``torchvision.models`` or raise an :class:`InvalidSpecError` saying how to install it."""
    try:
        return importlib.import_module("torchvision.models")
    except ImportError as exc:
        raise InvalidSpecError(
            "model.name: torchvision architectures need the optional package torchvision, which is not "
            f"installed ({exc}); install the build matching your torch, e.g. `pip install torchvision`"
        ) from None


def _first_conv(model: nn.Module) -> tuple[str, nn.Conv2d] | None:
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    return None


def _adapt_input_channels(model: nn.Module, channels: int) -> None:
    """Give the first conv ``channels`` inputs, keeping pretrained filters (averaged over RGB)."""
    found = _first_conv(model)
    if found is None or found[1].in_channels == channels:
        return
    name, old = found
    new = nn.Conv2d(
        channels,
        old.out_channels,
        old.kernel_size,  # type: ignore[arg-type]
        stride=old.stride,  # type: ignore[arg-type]
        padding=old.padding,  # type: ignore[arg-type]
        dilation=old.dilation,  # type: ignore[arg-type]
        groups=old.groups,
        bias=old.bias is not None,
    )
    if old.groups == 1:
        with torch.no_grad():
            mean = old.weight.mean(dim=1, keepdim=True)
            new.weight.copy_(mean.repeat(1, channels, 1, 1) * (old.in_channels / channels))
            if old.bias is not None and new.bias is not None:
                new.bias.copy_(old.bias)
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, new)


def _small_input_stem(model: nn.Module, arch: str) -> None:
    """ResNet family: 3x3 stride-1 first conv and no max pool, for 8-32 px images."""
    conv, pool = getattr(model, "conv1", None), getattr(model, "maxpool", None)
    if not isinstance(conv, nn.Conv2d) or pool is None:
        raise ParamError(
            "small_input", f"only supported for the ResNet family; {arch!r} has no conv1/maxpool"
        )
    model.conv1 = nn.Conv2d(conv.in_channels, conv.out_channels, 3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()


@models.register("torchvision")
def torchvision_model(
    meta: DatasetMeta,
    *,
    arch: str = "resnet18",
    weights: str | None = None,
    small_input: bool = False,
) -> WrappedModel:
    """Build a torchvision architecture (``tv:resnet18`` is ``torchvision`` with ``arch: resnet18``).

    The first convolution is adapted to ``meta``'s channel count and the classifier to its class
    count (re-initialized). Example, with weights saved once on a machine with internet access::

        torch.save(torchvision.models.resnet18(weights="DEFAULT").state_dict(), "resnet18.pth")
        build_model("tv:resnet18", {"weights": "resnet18.pth"}, meta)

    Args:
        meta: the dataset description; ``input_shape`` must be ``(C, H, W)``.
        arch: a name of ``torchvision.models.list_models()`` (``resnet18``, ``mobilenet_v3_small``...).
        weights: a local ``.pth``/safetensors file of the architecture's original (ImageNet) weights,
            loaded before adapting; ``None`` for random initialization. Never downloaded.
        small_input: ResNets only: replace the 7x7/2 stem and the max pool with a 3x3/1 conv.
    """
    c, _, _ = image_shape(meta, f"tv:{arch}")
    tv = import_torchvision()
    if arch not in tv.list_models(module=tv):
        raise ParamError(
            "arch", f"unknown torchvision architecture {arch!r}; see torchvision.models.list_models()"
        )
    model = WrappedModel(tv.get_model(arch, weights=None))
    if weights is not None:
        load_checkpoint(model, weights, strict_head=True)
    _adapt_input_channels(model.model, c)
    if small_input:
        _small_input_stem(model.model, arch)
    model.reset_classifier(output_dim(meta))
    return model
