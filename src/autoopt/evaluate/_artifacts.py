"""From a path to something runnable: a ``.onnx`` or ``.pt2`` file, a checkpoint, a model dir or a run dir.

A checkpoint holds weights only; its model is rebuilt from what sits next to it:

- a model dir (``model.json`` written by ``autoopt export``): ``model.name`` and ``model.config``;
- a run dir (``autoopt tune``): ``spec.yaml``'s ``model`` with ``best/params.yaml``'s ``model_params``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn

from autoopt.data import DataBundle, DatasetMeta, load_data
from autoopt.evaluate._runners import Runner, make_runner
from autoopt.exceptions import CheckpointError, InvalidSpecError
from autoopt.io import read_yaml
from autoopt.models import build_model, load_checkpoint
from autoopt.spec import Spec, read_spec

__all__ = ["Artifact", "LoadedRun", "load_artifact", "load_run", "onnx_files", "CARD_FILE"]

CARD_FILE = "model.json"
_CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth")


@dataclass
class Artifact:
    """A loaded artifact: how to run it, what it is, and the files it occupies on disk."""

    runner: Runner
    kind: str  # "checkpoint", "pt2" or "onnx"
    files: list[Path]
    model: nn.Module | None = None

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files)


@dataclass
class LoadedRun:
    """The best model of a run dir, rebuilt and loaded, with what describes it."""

    model: nn.Module
    spec: Spec
    model_name: str
    model_config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    data: DataBundle | None = None
    checkpoint: Path | None = None


def onnx_files(path: str | os.PathLike[str]) -> list[Path]:
    """An ``.onnx`` file and the external-data files its initializers point to (every byte it needs)."""
    path = Path(path)
    proto = onnx.load(str(path), load_external_data=False)
    extra: list[Path] = []
    for tensor in proto.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                p = path.parent / entry.value
                if p not in extra:
                    extra.append(p)
    return [path, *extra]


def load_run(
    run_dir: str | os.PathLike[str], data: DataBundle | None = None, *, meta: DatasetMeta | None = None
) -> LoadedRun:
    """Rebuild and load the best model of a tune run (``RUN_DIR/spec.yaml`` + ``RUN_DIR/best/``).

    Args:
        run_dir: the run directory.
        data: the loaded data; ``None`` loads ``spec.data`` (the model needs the dataset's metadata)
            unless ``meta`` is given.
        meta: the dataset's metadata, when the data itself is not needed.

    Raises:
        InvalidSpecError: ``spec.yaml`` or ``best/`` is missing or invalid.
        CheckpointError: the checkpoint does not fit the rebuilt model.

    Example:
        >>> run = load_run("runs/tiny")  # doctest: +SKIP
        >>> run.model_name, run.metrics["test_accuracy"]  # doctest: +SKIP
    """
    run_dir = Path(run_dir)
    best = run_dir / "best"
    missing = [
        p
        for p in (run_dir / "spec.yaml", best / "model.safetensors", best / "params.yaml")
        if not p.is_file()
    ]
    if missing:
        raise InvalidSpecError(
            f"{run_dir}: expected a run dir of 'autoopt tune' (spec.yaml, best/model.safetensors, "
            f"best/params.yaml); missing: {', '.join(str(p.relative_to(run_dir)) for p in missing)}"
        )
    spec = read_spec(run_dir / "spec.yaml")
    params = read_yaml(best / "params.yaml")
    name = str(params.get("model") or spec.model.name)
    config = {**spec.model.params, **(params.get("model_params") or {})}
    if meta is None:
        data = data if data is not None else load_data(spec.data)
        meta = data.meta
    model = build_model(name, config, meta)
    load_checkpoint(model, best / "model.safetensors")
    metrics_file = best / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    return LoadedRun(model.eval(), spec, name, config, metrics, data, best / "model.safetensors")


def _model_from_card(
    card_path: Path, meta: DatasetMeta, checkpoint: Path | None = None
) -> tuple[nn.Module, Path]:
    card = json.loads(card_path.read_text())
    info = card.get("model") or {}
    if not info.get("name") or not isinstance(info.get("config"), Mapping):
        raise CheckpointError(
            f"{card_path}: cannot rebuild the model: expected 'model.name' and 'model.config' (builder "
            f"parameters); got {info!r}. Evaluate the model's .onnx or .pt2 file instead."
        )
    weights = checkpoint or card_path.parent / (card.get("files") or {}).get("weights", "model.safetensors")
    model = build_model(info["name"], dict(info["config"]), meta)
    load_checkpoint(model, weights)
    return model.eval(), weights


def _need_meta(meta: DatasetMeta | None, path: Path) -> DatasetMeta:
    if meta is None:
        raise InvalidSpecError(
            f"{path}: rebuilding a model from a checkpoint needs the dataset's metadata; pass data"
        )
    return meta


def load_artifact(
    path: str | os.PathLike[str], meta: DatasetMeta | None = None, *, threads: int | None = None
) -> Artifact:
    """Load a ``.onnx``, ``.pt2``, checkpoint, model dir (``model.json``) or run dir for inference.

    Args:
        path: the artifact. A checkpoint needs ``model.json`` next to it, or to be ``RUN_DIR/best/``'s.
            A model dir means its weights (rebuilt from the card); a run dir its best checkpoint.
        meta: the dataset's metadata, needed to rebuild a model from a checkpoint.
        threads: intra-op threads of an ONNX Runtime session.

    Raises:
        InvalidSpecError: the path is none of the above, or a checkpoint's model cannot be found.

    Example:
        >>> art = load_artifact("final/model.onnx", threads=1)  # doctest: +SKIP
        >>> art.kind, art.size_bytes  # doctest: +SKIP
        ('onnx', 10363)
    """
    path = Path(path)
    if path.is_dir():
        if (path / CARD_FILE).is_file():
            card = json.loads((path / CARD_FILE).read_text())
            onnx_name = (card.get("files") or {}).get("onnx")
            if not isinstance((card.get("model") or {}).get("config"), Mapping) and onnx_name:
                # An INT8 or pruned model dir: its ONNX file is the model (nothing to rebuild).
                return Artifact(
                    make_runner(path / onnx_name, threads=threads), "onnx", onnx_files(path / onnx_name)
                )
            model, weights = _model_from_card(path / CARD_FILE, _need_meta(meta, path))
            return Artifact(make_runner(model), "checkpoint", [weights], model)
        if (path / "spec.yaml").is_file() and (path / "best").is_dir():
            run = load_run(path, meta=_need_meta(meta, path))
            return Artifact(make_runner(run.model), "checkpoint", [run.checkpoint], run.model)  # type: ignore[list-item]
        raise InvalidSpecError(
            f"{path}: expected a model dir (with {CARD_FILE}) or a run dir (with spec.yaml and best/); "
            "got neither"
        )
    if not path.is_file():
        raise InvalidSpecError(f"{path}: no such file or directory")
    if path.suffix == ".onnx":
        return Artifact(make_runner(path, threads=threads), "onnx", onnx_files(path))
    if path.suffix == ".pt2":
        try:
            program = torch.export.load(str(path))
        except Exception as exc:  # torch raises a variety of errors on a bad archive
            raise InvalidSpecError(f"{path}: cannot load the .pt2 program: {exc}") from exc
        return Artifact(make_runner(program), "pt2", [path])
    if path.suffix in _CHECKPOINT_SUFFIXES:
        if (path.parent / CARD_FILE).is_file():
            model, _ = _model_from_card(path.parent / CARD_FILE, _need_meta(meta, path), path)
            return Artifact(make_runner(model), "checkpoint", [path], model)
        run_dir = path.parent.parent
        if path.parent.name == "best" and (run_dir / "spec.yaml").is_file():
            run = load_run(run_dir, meta=_need_meta(meta, path))
            return Artifact(make_runner(run.model), "checkpoint", [path], run.model)
        raise InvalidSpecError(
            f"{path}: cannot rebuild the model of this checkpoint: expected {CARD_FILE} next to it "
            "(an export dir) or RUN_DIR/best/ with RUN_DIR/spec.yaml; found neither"
        )
    raise InvalidSpecError(
        f"{path}: expected a .onnx, .pt2, .safetensors/.pt checkpoint, a model dir or a run dir; "
        f"got suffix {path.suffix!r}"
    )
