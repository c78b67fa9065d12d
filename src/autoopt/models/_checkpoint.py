"""Safe checkpoint I/O: safetensors out, safetensors or ``weights_only`` ``.pt`` in, head-aware loading.

A checkpoint's head (the model's final ``nn.Linear``) may differ in shape from the model's when the
class count changed (transfer learning): it is then left freshly initialized and reported. Any
other difference is an error that lists every offending tensor.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from autoopt.exceptions import CheckpointError, format_errors
from autoopt.io import atomic_write
from autoopt.models._base import AutoOptModel, WrappedModel, find_last_linear

__all__ = ["LoadReport", "save_checkpoint", "load_checkpoint", "read_state_dict", "head_name"]

logger = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """What :func:`load_checkpoint` did.

    Attributes:
        loaded: names of the tensors copied from the checkpoint.
        reinitialized: head tensors left freshly initialized (shape differs or absent in the checkpoint).
        missing: model tensors the checkpoint lacks (only when ``strict=False``).
        unexpected: checkpoint tensors the model lacks (only when ``strict=False``).
    """

    loaded: list[str] = field(default_factory=list)
    reinitialized: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


def head_name(model: nn.Module) -> str | None:
    """Qualified name of the model's classifier: ``classifier_name`` or the last ``nn.Linear``."""
    if isinstance(model, AutoOptModel):
        return model.classifier_name
    return find_last_linear(model)


def _is_safetensors(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    header_len = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 0 < header_len <= path.stat().st_size - 8


HASH_KEY = "autoopt:sha256"  # safetensors metadata: a hash of every tensor, checked on load


def content_hash(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``tensors`` (in name order)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _check_hash(path: Path, state: dict[str, torch.Tensor]) -> None:
    with safe_open(str(path), framework="pt") as f:
        expected = (f.metadata() or {}).get(HASH_KEY)
    if expected is not None and content_hash(state) != expected:
        raise CheckpointError(
            f"{path}: corrupt checkpoint: its content hash does not match the one written with it "
            "(a truncated or altered file); use an earlier checkpoint or train again"
        )


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a state dict of tensors from a safetensors file or a ``.pt``/``.pth`` file.

    ``.pt`` files are read with ``torch.load(..., weights_only=True)``: a pickle that would build
    anything but tensors and plain containers (e.g. one that runs code) is refused. A ``{"state_dict":
    ...}`` or ``{"model": ...}`` wrapper and a DataParallel ``module.`` prefix are unwrapped.

    Args:
        path: the checkpoint file (the format is recognized from its content, not its suffix).

    Raises:
        CheckpointError: missing file, unreadable or unsafe payload, or entries that are not tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if _is_safetensors(path):
        try:
            state: object = load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: cannot read safetensors file: {exc}") from exc
        _check_hash(path, state)  # type: ignore[arg-type]
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"{path}: refused to load: not a plain tensor checkpoint (torch.load with "
                f"weights_only=True failed: {first}). autoopt never unpickles arbitrary objects; "
                "re-save the weights as a state dict of tensors, or as safetensors."
            ) from None
    if isinstance(state, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(state.get(wrapper), dict):
                state = state[wrapper]
                break
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path}: expected a mapping of tensor names to tensors; got {type(state).__name__}"
        )
    bad = [str(k) for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: entries that are not tensors: {', '.join(bad[:10])}")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def save_checkpoint(
    model: nn.Module, path: str | os.PathLike[str], *, metadata: dict[str, str] | None = None
) -> Path:
    """Write ``model.state_dict()`` as safetensors, atomically (temp file in the same folder, fsync,
    rename), with a content hash in its metadata that :func:`read_state_dict` checks.

    Args:
        model: the model to save.
        path: the destination; parent folders are created.
        metadata: optional string key/values stored in the safetensors header.

    Returns:
        The written path.
    """
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {**(metadata or {}), HASH_KEY: content_hash(tensors)}
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def load_checkpoint(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    strict_head: bool = False,
    strict: bool = True,
) -> LoadReport:
    """Load a local checkpoint into ``model``, re-initializing the head when its shape differs.

    Example (torchvision weights saved beforehand, never downloaded at run time)::

        # once, on a machine with internet access:
        #   torch.save(torchvision.models.resnet18(weights="DEFAULT").state_dict(), "resnet18.pth")
        model = build_model("tv:resnet18", {"weights": "resnet18.pth"}, meta)   # or:
        model = build_model("tv:resnet18", {}, meta)
        report = load_checkpoint(model, "resnet18.pth")   # head 1000 -> meta.num_classes
        report.reinitialized                              # ['model.fc.weight', 'model.fc.bias']

    Args:
        model: the model to load into (for a :class:`WrappedModel`, checkpoints of the bare module
            are accepted too).
        path: a safetensors or ``.pt``/``.pth`` file (see :func:`read_state_dict`).
        strict_head: treat a head shape difference as an error instead of re-initializing it.
        strict: treat missing and unexpected tensors (outside the head) as errors; when ``False``
            they are only listed in the report.

    Returns:
        A :class:`LoadReport`.

    Raises:
        CheckpointError: unreadable/unsafe file, or tensors that do not fit; the message lists every
            mismatched tensor with both shapes, and the missing and unexpected names.
    """
    state = read_state_dict(path)
    if isinstance(model, WrappedModel) and state and not any(k.startswith("model.") for k in state):
        state = {f"model.{k}": v for k, v in state.items()}
    own = model.state_dict()
    head = head_name(model)
    is_head = (lambda k: k.startswith(head + ".")) if head else (lambda k: False)

    mismatched = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    # A head whose class count changed is re-initialized (transfer learning). The same class count
    # with another input width means the features differ: another architecture (e.g. a gap-head
    # checkpoint of a model now built with the grid head), never silently re-initialized.
    feature_mismatch = [
        k
        for k in mismatched
        if is_head(k)
        and own[k].shape[:1] == state[k].shape[:1]
        and tuple(own[k].shape[1:]) != tuple(state[k].shape[1:])
    ]
    head_mismatch = [k for k in mismatched if is_head(k) and k not in feature_mismatch]
    body_mismatch = [k for k in mismatched if not is_head(k) or k in feature_mismatch]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    head_missing = [k for k in missing if is_head(k)]
    report = LoadReport()

    errors = [
        f"shape mismatch {k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in body_mismatch + (head_mismatch if strict_head else [])
    ]
    if strict and [k for k in missing if not is_head(k)]:
        errors.append("missing from checkpoint: " + ", ".join(k for k in missing if not is_head(k)))
    if strict_head and head_missing:
        errors.append("head missing from checkpoint: " + ", ".join(head_missing))
    if strict and unexpected:
        errors.append("unexpected in checkpoint: " + ", ".join(unexpected))
    if feature_mismatch:
        k = feature_mismatch[0]
        errors.append(
            f"the head {k} takes {state[k].shape[1]} features in the checkpoint but {own[k].shape[1]} in "
            "the model: it was built with another architecture or head (cnn/resnet checkpoints written "
            "before the grid head need 'head: gap' in the model's params)"
        )
    if errors:
        hint = " (pass strict=False to ignore missing/unexpected tensors)" if not body_mismatch else ""
        raise CheckpointError(
            f"{path}: checkpoint does not fit {type(model).__name__}{hint}: " + format_errors(errors)
        )

    reinit = head_mismatch or head_missing
    head_keys = [k for k in own if is_head(k)] if reinit else []
    to_load = {k: v for k, v in state.items() if k in own and k not in head_keys}
    model.load_state_dict(to_load, strict=False)
    if reinit and head:
        for module in model.get_submodule(head).modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
        logger.info("%s: head %s re-initialized (%s)", path, head, ", ".join(head_keys))
    report.loaded = sorted(to_load)
    report.reinitialized = head_keys
    report.missing = [k for k in missing if not is_head(k)]
    report.unexpected = unexpected
    return report
