"""Raw text to token ids on the server: the tokenizer saved beside the model (``files.tokenizer``).

``POST /predict/text`` takes ``{"texts": ["...", ...]}`` (JSON) or one text as ``text/plain``; each
text is tokenized exactly as in training (``[CLS] text [SEP]``, cut or padded with 0 to the model's
length) and the ids go to the model's one ``int64`` input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from autoopt.exceptions import InvalidSpecError
from autoopt.serve._card import ModelCard
from autoopt.serve._validate import InputError

__all__ = ["MAX_TEXT_CHARS", "check_texts", "load_tokenizer", "tokenize"]

#: the longest text accepted (characters); the tokenizer cuts to the model's length anyway.
MAX_TEXT_CHARS = 100_000


def load_tokenizer(model_dir: Path, card: ModelCard, sample_shape: tuple[int | None, ...]) -> Any:
    """The tokenizer named by ``files.tokenizer``, or ``None`` when the model takes no text.

    Raises:
        InvalidSpecError: the file is missing or unreadable, or it pads to another length than the
            model's input.
    """
    name = card.files.get("tokenizer")
    if name is None:
        return None
    from tokenizers import Tokenizer

    path = model_dir / name
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exceptions
        raise InvalidSpecError(
            f"{path}: files.tokenizer: cannot read it as a tokenizers JSON file ({exc})"
        ) from None
    length = (tok.padding or {}).get("length")
    if len(sample_shape) != 1 or (sample_shape[0] is not None and length != sample_shape[0]):
        raise InvalidSpecError(
            f"{path}: the tokenizer pads to {length} ids, but the model takes input of shape "
            f"{list(sample_shape)}"
        )
    return tok


def check_texts(body: Any, *, max_batch: int) -> list[str]:
    """The texts of a ``{"texts": [...]}`` body; :class:`InputError` naming each problem otherwise."""
    if not isinstance(body, dict) or "texts" not in body:
        got = "an object without 'texts'" if isinstance(body, dict) else type(body).__name__
        raise InputError([f'body: expected {{"texts": ["...", ...]}}, got {got}'])
    unknown = sorted(set(body) - {"texts"})
    if unknown:
        raise InputError([f"body.{k}: unknown field; expected only 'texts'" for k in unknown])
    texts = body["texts"]
    if not isinstance(texts, list) or not texts:
        got = "an empty list" if isinstance(texts, list) else type(texts).__name__
        raise InputError([f"texts: expected a non-empty list of strings, got {got}"])
    if len(texts) > max_batch:
        raise InputError([f"texts: expected at most {max_batch} texts per request, got {len(texts)}"])
    errors = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            errors.append(f"texts[{i}]: expected a string, got {type(t).__name__}")
        elif len(t) > MAX_TEXT_CHARS:
            errors.append(f"texts[{i}]: expected at most {MAX_TEXT_CHARS} characters, got {len(t)}")
    if errors:
        raise InputError(errors)
    return texts


def tokenize(tokenizer: Any, texts: list[str]) -> np.ndarray:
    """``(len(texts), max_length)`` ``int64`` ids."""
    return np.asarray([e.ids for e in tokenizer.encode_batch(texts)], dtype=np.int64)
