"""Files a model dir holds beside the ONNX model so a server can take raw inputs: the tokenizer of text.

A text dataset records its tokenizer in ``DatasetMeta.extra["tokenizer_json"]`` (see
:mod:`autoopt.data`); every model dir written for it gets ``tokenizer.json`` (``files.tokenizer`` in
the card, with its size and hash) and ``preprocessing.tokenizer`` / ``preprocessing.max_length``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autoopt.data import DatasetMeta
from autoopt.io import atomic_write_text

__all__ = ["TOKENIZER_FILE", "text_preprocessing", "write_assets"]

TOKENIZER_FILE = "tokenizer.json"


def text_preprocessing(meta: DatasetMeta) -> dict[str, Any]:
    """The card's ``preprocessing`` keys of a text model (empty for images and tables)."""
    tok = meta.extra.get("tokenizer")
    if not isinstance(tok, dict) or "tokenizer_json" not in meta.extra:
        return {}
    return {
        "tokenizer": TOKENIZER_FILE,
        "max_length": int(tok["max_length"]),
        "pad_id": int(tok.get("pad_id", 0)),
    }


def write_assets(meta: DatasetMeta, out: Path) -> dict[str, str]:
    """Write the assets of ``meta`` into ``out``; returns ``{card files key: file name}``."""
    text = meta.extra.get("tokenizer_json")
    if not isinstance(text, str):
        return {}
    atomic_write_text(out / TOKENIZER_FILE, text)
    return {"tokenizer": TOKENIZER_FILE}
