"""The one ONNX Runtime session of a served model, and turning its outputs into predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from autoopt.exceptions import InvalidSpecError
from autoopt.serve._card import CARD_FILE, ModelCard, load_card
from autoopt.serve._text import load_tokenizer

__all__ = ["LoadedModel", "load_model"]

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,  # token ids (a text kind)
}


def _dim(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


@dataclass
class LoadedModel:
    """A model directory opened for serving.

    Attributes:
        card: the checked model card.
        raw_card: the card exactly as written in ``model.json``.
        session: the ONNX Runtime session (thread-safe; concurrent ``run`` calls are fine).
        input_name: the session's input name (read from the ONNX graph, not the card).
        output_name: the output that holds logits (classification) or values (regression).
        sample_shape: per-sample input shape; ``None`` marks a dimension of any size.
        dtype: the numpy dtype the session's input expects.
        tokenizer: a text model's tokenizer (``files.tokenizer``), ``None`` for other models.
    """

    card: ModelCard
    raw_card: dict[str, Any]
    session: ort.InferenceSession
    input_name: str
    output_name: str
    sample_shape: tuple[int | None, ...]
    dtype: np.dtype
    tokenizer: Any = None

    @property
    def name(self) -> str:
        """The model's name from the card (``model.name``), or ``"model"``."""
        return str(self.card.model.get("name", "model"))

    @property
    def is_image_model(self) -> bool:
        """Whether the model takes ``(channels, height, width)`` images and the card says how to prepare."""
        return len(self.sample_shape) == 3 and self.card.preprocessing is not None

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run the session on a ``(batch, *sample_shape)`` array; returns the chosen output."""
        return self.session.run([self.output_name], {self.input_name: batch.astype(self.dtype, copy=False)})[
            0
        ]

    def predictions(self, batch: np.ndarray) -> list[Any]:
        """Run the model and shape the output for the API.

        A kind with classes: one ``{"label", "index", "probabilities"}`` per sample (softmax of the
        logits). Otherwise (regression): one number per sample (a list of numbers when the model has
        several outputs).
        """
        out = np.asarray(self.run(batch), dtype=np.float64).reshape(len(batch), -1)
        if not self.card.kind.has_classes:
            return out[:, 0].tolist() if out.shape[1] == 1 else out.tolist()
        probs = np.exp(out - out.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        index = probs.argmax(axis=1).tolist()
        names = self.card.class_names
        return [
            {"label": names[k] if names and k < len(names) else str(k), "index": k, "probabilities": p}
            for k, p in zip(index, probs.tolist(), strict=True)
        ]


def _check_preprocessing(card: ModelCard, sample_shape: tuple[int | None, ...], card_path: Path) -> None:
    pre = card.preprocessing
    if pre is None:
        return
    channels = pre.channels or (sample_shape[0] if len(sample_shape) == 3 else None)
    for key in ("mean", "std"):
        values = getattr(pre, key)
        if values is not None and channels is not None and len(values) not in (1, channels):
            allowed = "1 value" if channels == 1 else f"1 or {channels} values"
            raise InvalidSpecError(
                f"{card_path}: preprocessing.{key}: expected {allowed} (one per channel), got {len(values)}"
            )
    if pre.std is not None and any(v <= 0 for v in pre.std):
        raise InvalidSpecError(f"{card_path}: preprocessing.std: expected positive values, got {pre.std}")
    if len(sample_shape) == 3 and pre.channels and sample_shape[0] not in (None, pre.channels):
        raise InvalidSpecError(
            f"{card_path}: preprocessing.channels is {pre.channels}, "
            f"but the model takes {sample_shape[0]} channels"
        )


def load_model(model_dir: str | Path, *, threads: int | None = None) -> LoadedModel:
    """Open ``model_dir`` for serving: read the card, start one CPU ONNX Runtime session, check them.

    Args:
        model_dir: a directory with ``model.json`` and the ONNX model it names.
        threads: intra-op threads of the session; ``None`` lets ONNX Runtime choose (one per core).

    Raises:
        InvalidSpecError: a missing or malformed card or ONNX file, or a card that disagrees with the model.
    """
    card, raw_card, onnx_path = load_card(model_dir)
    if threads is not None and threads < 1:
        raise InvalidSpecError(f"threads: expected a positive integer, got {threads}")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types, all plain Exception subclasses
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidSpecError(
            f"{onnx_path}: ONNX Runtime cannot load it; expected a valid ONNX model ({message})"
        ) from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise InvalidSpecError(f"{onnx_path}: expected a model with one input, got {len(inputs)}")
    if inputs[0].type not in _DTYPES:
        raise InvalidSpecError(
            f"{onnx_path}: input {inputs[0].name!r} has type {inputs[0].type}; "
            f"expected one of {sorted(_DTYPES)}"
        )
    output_names = [str(o.name) for o in outputs]
    wanted = card.output.name
    output_name = wanted if wanted is not None and wanted in output_names else output_names[0]
    sample_shape = tuple(_dim(d) for d in inputs[0].shape[1:])
    if card.input.shape is not None and len(card.input.shape) == len(inputs[0].shape):
        # The graph may leave a dimension dynamic that the card fixes (e.g. image size).
        sample_shape = tuple(
            s if s is not None else c for s, c in zip(sample_shape, card.input.shape[1:], strict=True)
        )
    n_out = _dim(next(o for o in outputs if o.name == output_name).shape[-1]) if outputs else None
    names = card.class_names
    if card.kind.has_classes and names is not None and n_out is not None and len(names) != n_out:
        raise InvalidSpecError(
            f"{Path(model_dir) / CARD_FILE}: class_names has {len(names)} names, "
            f"but the model outputs {n_out} classes"
        )
    _check_preprocessing(card, sample_shape, Path(model_dir) / CARD_FILE)
    return LoadedModel(
        card=card,
        raw_card=raw_card,
        session=session,
        input_name=inputs[0].name,
        output_name=output_name,
        sample_shape=sample_shape,
        dtype=np.dtype(_DTYPES[inputs[0].type]),
        tokenizer=load_tokenizer(Path(model_dir), card, sample_shape),
    )
