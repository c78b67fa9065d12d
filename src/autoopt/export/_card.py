"""The model card (``model.json``): what a server needs to run an exported model without autoopt's code."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from autoopt import __version__
from autoopt.data import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.export._assets import text_preprocessing
from autoopt.io import write_json

__all__ = ["ModelCard", "read_model_card", "preprocessing_of", "sha256_file", "SCHEMA_KEYS"]

CARD_VERSION_KEYS = ("autoopt_version", "created")
SCHEMA_KEYS = (
    "autoopt_version", "created", "task", "class_names", "input", "output", "preprocessing", "files", "opset",
    "size_bytes", "sha256", "metrics", "latency", "parity", "spec", "model",
)  # fmt: skip


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def preprocessing_of(meta: DatasetMeta) -> dict[str, Any]:
    """How raw inputs become model inputs: ``(raw / pixel_scale - mean[c]) / std[c]``.

    ``autoopt.data`` records the factor raw pixels are *multiplied* by (``meta.extra["pixel_scale"]``,
    e.g. ``1/255``); the card records its inverse, the number they are *divided* by (``255``). Tables
    get ``1.0`` (a no-op), never ``null``, so a reader can always divide. Text models add
    ``tokenizer`` (the file next to the model), ``max_length`` and ``pad_id``.
    """
    image = meta.is_image
    factor = meta.extra.get("pixel_scale") if image else None
    divisor = round(1.0 / float(factor), 6) if factor else 1.0
    return {
        "mean": list(meta.mean) if meta.mean is not None else None,
        "std": list(meta.std) if meta.std is not None else None,
        "pixel_scale": divisor,
        "image_size": list(meta.input_shape[1:]) if image else None,
        "channels": int(meta.input_shape[0]) if image else None,
        **text_preprocessing(meta),
    }


@dataclass
class ModelCard:
    """``model.json``: the contract between export and serving. See :mod:`autoopt.export` for the schema."""

    task: str
    class_names: list[str] | None
    input: dict[str, Any]
    output: dict[str, Any]
    preprocessing: dict[str, Any]
    files: dict[str, str]
    opset: int
    size_bytes: dict[str, int]
    sha256: dict[str, str]
    model: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] | None = None
    autoopt_version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        """The card as a JSON-ready mapping, keys in schema order."""
        return {k: getattr(self, k) for k in SCHEMA_KEYS}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the card as JSON, atomically."""
        return write_json(Path(path), self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "model card") -> ModelCard:
        """Build a card from its JSON mapping; unknown keys are ignored (newer writers may add some).

        Raises:
            InvalidSpecError: required keys are missing.
        """
        known = {f.name for f in fields(cls)}
        required = [
            "task",
            "input",
            "output",
            "preprocessing",
            "files",
            "opset",
            "size_bytes",
            "sha256",
            "model",
        ]
        missing = [k for k in required if k not in data]
        if missing:
            raise InvalidSpecError(
                f"{where}: expected the keys {', '.join(required)}; missing: {', '.join(missing)}"
            )
        return cls(**{k: v for k, v in data.items() if k in known})

    def verify(self, folder: str | os.PathLike[str]) -> list[str]:
        """Problems of the files in ``folder`` against the card (missing file, size or hash differs)."""
        problems = []
        for key, name in self.files.items():
            p = Path(folder) / name
            if not p.is_file():
                problems.append(f"files.{key}: {p} is missing")
            elif self.size_bytes.get(key) != p.stat().st_size:
                problems.append(
                    f"size_bytes.{key}: card says {self.size_bytes.get(key)}, {p} has {p.stat().st_size}"
                )
            elif self.sha256.get(key) != sha256_file(p):
                problems.append(f"sha256.{key}: {p} does not match the card")
        return problems


def read_model_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read ``model.json`` (or the ``model.json`` of a model dir).

    Example:
        >>> card = read_model_card("runs/tiny/final")  # doctest: +SKIP
        >>> card.input["shape"], card.preprocessing["pixel_scale"]  # doctest: +SKIP
        ([None, 1, 8, 8], 16.0)

    Raises:
        InvalidSpecError: the file is missing, not JSON, or lacks required keys.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidSpecError(f"{path}: cannot read the model card: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidSpecError(f"{path}: expected a JSON object; got {type(data).__name__}")
    return ModelCard.from_dict(data, where=str(path))
