"""The model directory: read and check ``model.json`` (the model card) and find the ONNX file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autoopt.exceptions import InvalidSpecError
from autoopt.tasks import TaskKind, check_task, get_task

__all__ = ["CARD_FILE", "ModelCard", "Preprocessing", "load_card"]

CARD_FILE = "model.json"
_EXPECTED_DIR = "a model directory written by 'autoopt export' (model.json + model.onnx)"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class TensorSpec(_Lenient):
    """Name, shape (``null`` for a dynamic dimension, the batch first) and dtype of a model tensor."""

    name: str | None = None
    shape: list[int | None] | None = None
    dtype: str | None = None


class Preprocessing(_Lenient):
    """What turns raw pixels into model input: ``(pixels / pixel_scale - mean) / std`` per channel."""

    mean: list[float] | None = None
    std: list[float] | None = None
    pixel_scale: float = Field(255.0, gt=0)
    image_size: tuple[int, int] | None = None
    channels: int | None = Field(None, ge=1)


class ModelCard(_Lenient):
    """The fields of ``model.json`` that serving reads; any other key is kept as is."""

    task: str
    class_names: list[str] | None = None
    input: TensorSpec = Field(default_factory=TensorSpec)
    output: TensorSpec = Field(default_factory=TensorSpec)
    preprocessing: Preprocessing | None = None
    files: dict[str, str] = Field(default_factory=dict)
    model: dict[str, Any] = Field(default_factory=dict)

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str) -> str:
        check_task(value)
        return value

    @property
    def kind(self) -> TaskKind:
        """The card's task kind (:func:`autoopt.tasks.get_task`)."""
        return get_task(self.task)


def _format(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    return f"{CARD_FILE}: {loc}: {error['msg']} (got {error.get('input')!r})"


def load_card(model_dir: str | Path) -> tuple[ModelCard, dict[str, Any], Path]:
    """Read the model card of ``model_dir`` and locate its ONNX file.

    Args:
        model_dir: a directory holding ``model.json`` and the ONNX file it names (``files.onnx``,
            default ``model.onnx``).

    Returns:
        The checked card, the card exactly as written (for ``/metadata``) and the ONNX file's path.

    Raises:
        InvalidSpecError: the directory, the card or the ONNX file is missing or malformed.
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise InvalidSpecError(f"{root}: not a directory; expected {_EXPECTED_DIR}")
    card_path = root / CARD_FILE
    if not card_path.is_file():
        raise InvalidSpecError(f"{card_path}: not found; expected the model card of {_EXPECTED_DIR}")
    try:
        raw = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidSpecError(f"{card_path}: not a readable JSON model card ({exc})") from None
    if not isinstance(raw, dict):
        raise InvalidSpecError(f"{card_path}: expected a JSON object, got {type(raw).__name__}")
    try:
        card = ModelCard.model_validate(raw)
    except ValidationError as exc:
        raise InvalidSpecError(errors=[f"{root}/{_format(e)}" for e in exc.errors()]) from None
    onnx_name = card.files.get("onnx", "model.onnx")
    onnx_path = root / onnx_name
    if not onnx_path.is_file():
        raise InvalidSpecError(
            f"{onnx_path}: not found; expected the ONNX model that {CARD_FILE} names "
            f"(files.onnx={onnx_name!r})"
        )
    return card, raw, onnx_path
