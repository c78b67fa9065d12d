"""Tiny text data and a tiny local Hugging Face checkpoint, made in code, for tests and trials.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as d:
    ...     rows = write_text_csv(Path(d) / "t.csv")
    ...     Path(d, "t.csv").read_text().splitlines()[0]
    'text,label'
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

__all__ = ["WORDS", "make_text_rows", "write_text_csv", "make_hf_checkpoint"]

#: words that say the class, per class; filler words are shared by all classes.
WORDS = {
    "fruit": ["apple", "banana", "cherry", "mango", "peach", "plum"],
    "tool": ["hammer", "wrench", "chisel", "pliers", "saw", "drill"],
    "animal": ["otter", "badger", "heron", "lynx", "moose", "walrus"],
}
FILLER = ["the", "a", "with", "and", "of", "is", "very", "some"]


def make_text_rows(n_per_class: int = 40, seed: int = 0) -> list[tuple[str, str]]:
    """``(text, label)`` rows: three class words and three filler words, shuffled."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, words in WORDS.items():
        for _ in range(n_per_class):
            picked = [str(w) for w in rng.choice(words, 3)] + [str(w) for w in rng.choice(FILLER, 3)]
            rng.shuffle(picked)
            rows.append((" ".join(picked), label))
    return rows


def write_text_csv(
    path: str | os.PathLike[str],
    rows: list[tuple[str, str]] | None = None,
    header: tuple[str, str] = ("text", "label"),
) -> list[tuple[str, str]]:
    """Write ``rows`` (default :func:`make_text_rows`) as a CSV; returns the rows."""
    rows = make_text_rows() if rows is None else rows
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return rows


def make_hf_checkpoint(directory: str | os.PathLike[str], *, num_labels: int = 3, hidden: int = 32) -> Path:
    """A tiny BERT sequence classifier (random init) and its WordPiece tokenizer (``save_pretrained``).

    The vocabulary holds the special tokens, the ASCII letters (as word starts and ``##`` pieces) and
    every word of :data:`WORDS` and :data:`FILLER`; ``[PAD]`` has id 0.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    words = sorted({w for ws in WORDS.values() for w in ws} | set(FILLER))
    vocab_list = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *letters,
        *[f"##{c}" for c in letters],
        *words,
    ]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(vocab_list))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    tok.decoder = decoders.WordPiece()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]",
    )  # fmt: skip
    fast.save_pretrained(str(d))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=64, pad_token_id=0,
    )  # fmt: skip
    config.num_labels = num_labels
    BertForSequenceClassification(config).save_pretrained(str(d))
    return d
