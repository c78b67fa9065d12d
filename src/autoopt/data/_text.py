"""Text sources: ``text-csv`` and ``text-jsonl``, one text column and one label column.

The loader splits the rows as for tables (seeded, stratified by label); the tokenizer
(:mod:`autoopt.data._tokenizer`) is learned on the train split only and encodes every split into
``(max_length,)`` rows of ``int64`` token ids, padded with 0. ``DatasetMeta.extra`` records the
tokenizer (``tokenizer``: kind, vocab size, max length; ``tokenizer_json``: the tokenizer itself,
which export writes next to the model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from autoopt.data._config import DataConfig
from autoopt.data._registry import RawData, register_dataset
from autoopt.data._tables import read_table
from autoopt.data._tokenizer import TokenizerConfig, encode_texts, learn_tokenizer
from autoopt.exceptions import DataError

__all__ = ["TEXT_TASK", "text_column"]

#: the task kind of text sources (``autoopt.tasks``).
TEXT_TASK: Final = "text"


def text_column(config: DataConfig) -> str:
    """``data.text``, or ``"text"`` when it is not set."""
    return config.text or "text"


def _read_jsonl(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"data.path: expected a jsonl file, got {str(path)!r} (not found)")
    try:
        frame = pd.read_json(path, lines=True)
    except ValueError as exc:
        raise DataError(f"data.path: cannot read {str(path)!r} as JSON lines: {exc}") from exc
    if frame.empty:
        raise DataError(f"data.path: {str(path)!r} holds no rows")
    return frame


def _texts(values: Any) -> list[str]:
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def _load_text(config: DataConfig, kind: str) -> RawData:
    path = config.resolved_path()
    frame = read_table(path, "csv") if kind == "csv" else _read_jsonl(path)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    text_col = text_column(config)
    for key, col in (("data.text", text_col), ("data.target", config.target)):
        if col not in columns:
            raise DataError(f"{key}: column {col!r} not found; {path.name} has columns: {', '.join(columns)}")
    if text_col == config.target:
        raise DataError(f"data.text: the text column cannot also be the target ({text_col!r})")
    tok_cfg = config.tokenizer or TokenizerConfig()
    holder: dict[str, Any] = {}

    def encode(parts: list[Any]) -> tuple[list[np.ndarray], dict[str, Any]]:
        texts = [_texts(p) for p in parts]
        tok = learn_tokenizer(texts[0], tok_cfg)
        holder["tokenizer"] = tok
        ids = [encode_texts(tok, t) for t in texts]
        truncated = sum(int((a[:, -1] != 0).sum()) for a in ids)
        extra = {
            "tokenizer": {
                "kind": tok_cfg.kind,
                "vocab_size": int(tok.get_vocab_size()),
                "max_length": tok_cfg.max_length,
                "pad_id": 0,
                "full_rows": truncated,
            },
            "tokenizer_json": tok.to_str(),
        }
        return ids, extra

    x = np.asarray(frame[text_col].to_numpy(), dtype=object)
    return RawData(
        x,
        frame[config.target].to_numpy(),
        task=TEXT_TASK,
        extra={"file": path.name, "text_column": text_col, "target": config.target},
        encode=encode,
    )


@register_dataset("text-csv", needs=("path", "target"), text=True)
def _load_text_csv(config: DataConfig) -> RawData:
    return _load_text(config, "csv")


@register_dataset("text-jsonl", needs=("path", "target"), text=True)
def _load_text_jsonl(config: DataConfig) -> RawData:
    return _load_text(config, "jsonl")
