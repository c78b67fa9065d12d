"""Loading a teacher: from a tune run dir or a checkpoint with its model spec; checking its classes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from autoopt.data import DataBundle, DatasetMeta
from autoopt.exceptions import CheckpointError, InvalidSpecError
from autoopt.models import AutoOptModel, build_model, load_checkpoint, read_state_dict
from autoopt.models._checkpoint import head_name

__all__ = ["TeacherModel", "load_teacher", "load_teacher_run", "check_teacher"]

logger = logging.getLogger(__name__)

KEY = "distill.teacher"


class TeacherModel:
    """A loaded teacher and what it is.

    Attributes:
        model: the network, in eval mode.
        name: its model name (``cnn``, ``mlp``, ...).
        params: its model params.
        source: where it came from (a run dir or checkpoint path).
    """

    def __init__(self, model: AutoOptModel, name: str, params: dict[str, Any], source: str) -> None:
        self.model, self.name, self.params, self.source = model, name, params, source

    def describe(self) -> dict[str, Any]:
        """``{name, params, source}`` for ``params.yaml``."""
        return {"name": self.name, "params": self.params, "source": self.source}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidSpecError(f"{KEY}: cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidSpecError(f"{KEY}: {path} should hold a mapping; got {type(data).__name__}")
    return data


def _checkpoint_classes(path: Path, model: nn.Module) -> int | None:
    """Rows of the head weight in the checkpoint (its class count), ``None`` when it has no such tensor."""
    head = head_name(model)
    weight = read_state_dict(path).get(f"{head}.weight") if head else None
    return int(weight.shape[0]) if weight is not None and weight.dim() == 2 else None


def load_teacher(
    name: str, params: dict[str, Any], checkpoint: str | Path, meta: DatasetMeta, *, source: str | None = None
) -> TeacherModel:
    """Rebuild a teacher for ``meta`` and load its weights, refusing one trained on other classes.

    Args:
        name: the model name.
        params: the model params.
        checkpoint: its weights (safetensors, or a weights-only ``.pt``).
        meta: the student's dataset (input shape and class count).
        source: what to record as the teacher's origin (default: the checkpoint path).

    Raises:
        InvalidSpecError: the checkpoint is missing, predicts another number of classes, or does not fit
            the model; the message names ``distill.teacher``.
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise InvalidSpecError(f"{KEY}: checkpoint {str(path)!r} does not exist")
    model = build_model(name, params, meta, key=f"{KEY}.model.params")
    try:
        classes = _checkpoint_classes(path, model)
        if meta.kind.has_classes and classes is not None and classes != meta.num_classes:
            raise InvalidSpecError(
                f"{KEY}: the teacher predicts {classes} classes but data {meta.name!r} has "
                f"{meta.num_classes}; distill from a teacher trained on the same classes"
            )
        load_checkpoint(model, path, strict_head=True)
    except CheckpointError as exc:
        raise InvalidSpecError(f"{KEY}: {exc}") from None
    return TeacherModel(model.eval(), name, dict(params), source or str(path))


def load_teacher_run(run_dir: str | Path, meta: DatasetMeta) -> TeacherModel:
    """The best model of an ``autoopt tune`` run as a teacher.

    Reads ``RUN_DIR/best/params.yaml`` (``model``, ``model_params``; ``RUN_DIR/spec.yaml``'s ``model``
    fills what it lacks) and ``RUN_DIR/best/model.safetensors``.

    Args:
        run_dir: the run directory.
        meta: the student's dataset.

    Raises:
        InvalidSpecError: files are missing or the teacher does not fit the data (names ``distill.teacher``).
    """
    run = Path(run_dir)
    best = run / "best"
    missing = [p.name for p in (best / "model.safetensors", best / "params.yaml") if not p.is_file()]
    if missing:
        raise InvalidSpecError(
            f"{KEY}: {str(run)!r} is not a finished tune run: best/{', best/'.join(missing)} missing; "
            "run 'autoopt tune' first, or give teacher: {checkpoint, model}"
        )
    params = _read_yaml(best / "params.yaml")
    spec_model: dict[str, Any] = {}
    if (run / "spec.yaml").is_file():
        spec_model = _read_yaml(run / "spec.yaml").get("model") or {}
    name = params.get("model") or spec_model.get("name")
    if not name:
        raise InvalidSpecError(f"{KEY}: {best / 'params.yaml'} names no model")
    config = {**(spec_model.get("params") or {}), **(params.get("model_params") or {})}
    return load_teacher(str(name), config, best / "model.safetensors", meta, source=str(run))


def check_teacher(
    teacher: nn.Module, data: DataBundle, device: torch.device, *, features: bool = False
) -> tuple[int, ...] | None:
    """Run the teacher on two training samples: check its class count, return its feature shape.

    Args:
        teacher: the teacher (with ``features``: an autoopt model, see ``as_autoopt_model``).
        data: the student's data.
        device: where the teacher runs (it is there already).
        features: also run ``forward_features`` and return the shape of one sample's features.

    Returns:
        The per-sample feature shape with ``features``, else ``None``.

    Raises:
        InvalidSpecError: the data is not classification, or the teacher's outputs differ in number
            from the data's classes (names ``distill.teacher``).
    """
    meta = data.meta
    if not meta.kind.has_classes:
        raise InvalidSpecError(
            f"distill: knowledge distillation needs a classification dataset (a task kind with "
            f"classes); data {meta.name!r} is {meta.task}"
        )
    n = min(2, len(data.train))  # type: ignore[arg-type]
    x = torch.stack([torch.as_tensor(data.train[i][0]) for i in range(n)]).to(device)
    teacher.eval()
    with torch.no_grad():
        if features:
            feats = teacher.forward_features(x)  # type: ignore[operator]
            out = teacher.forward_head(feats)  # type: ignore[operator]
        else:
            out = teacher(x)
    if out.dim() != 2 or out.shape[-1] != meta.num_classes:
        got = out.shape[-1] if out.dim() == 2 else tuple(out.shape[1:])
        raise InvalidSpecError(
            f"{KEY}: the teacher predicts {got} classes but data {meta.name!r} has {meta.num_classes}; "
            "distill from a teacher trained on the same classes"
        )
    return tuple(feats.shape[1:]) if features else None
