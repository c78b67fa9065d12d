"""Tokenizers for text data: learned on the train split, or read from a local Hugging Face directory.

Every tokenizer gives fixed-length rows of ``int64`` token ids: ``[CLS] text [SEP]`` truncated to
``max_length`` and padded with id ``0`` (``[PAD]``), so a model can build its attention mask as
``ids != 0``. The tokenizer is a ``tokenizers.Tokenizer`` whose JSON (``to_str()``) carries the
truncation and padding settings: export writes it next to the model as ``tokenizer.json`` and the
server tokenizes raw strings with it.

Kinds (``data.tokenizer.kind``):

- ``wordpiece`` (default): a WordPiece vocabulary learned by autoopt from the train split, then
  encoded by ``tokenizers``' WordPiece model. The vocabulary is the special tokens, every character
  seen (as a word start and as a ``##`` continuation), the most frequent words (three quarters of
  the rest of ``vocab_size``) and the most frequent word starts (3-6 characters) and ``##`` endings
  (2-5 characters); ties are broken alphabetically. Learning is deterministic: every stage of a run
  (each loads the data again) gets the same ids. (``tokenizers``' own trainers are not: their merges
  depend on hash-map order, so two processes learn different vocabularies from the same text.)
- ``bpe``: ``tokenizers``' BPE trainer. As it is not reproducible across processes, the learned
  tokenizer is cached under ``$AUTOOPT_CACHE`` (default ``~/.cache/autoopt``) ``/tokenizers/``,
  keyed by the SHA-256 of the train texts and the settings; the first load on a machine decides it.
- ``hf:<dir>``: a local directory's ``tokenizer.json`` (any fast tokenizer), else its ``vocab.txt``
  (a BERT WordPiece vocabulary; ``tokenizer_config.json``'s ``do_lower_case`` is read). Never
  downloaded. Its padding token must have id 0.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from autoopt.exceptions import DataError

__all__ = ["SPECIAL_TOKENS", "TokenizerConfig", "encode_texts", "learn_tokenizer", "load_hf_tokenizer"]

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
HF_PREFIX = "hf:"


class TokenizerConfig(BaseModel):
    """``data.tokenizer``: how text becomes token ids.

    Args:
        kind: ``wordpiece`` (learned on the train split, deterministic), ``bpe`` (``tokenizers``'
            trainer, cached) or ``hf:<dir>`` (a local tokenizer directory).
        vocab_size: the largest vocabulary to learn (ignored by ``hf:``).
        max_length: token ids per text, ``[CLS]`` and ``[SEP]`` included; longer texts are cut,
            shorter ones padded with 0.
        lowercase: lower-case text before learning and encoding (ignored by ``hf:``).
        min_frequency: a word must occur this often in train to enter the vocabulary as a whole.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = "wordpiece"
    vocab_size: int = Field(default=8000, ge=64, le=1_000_000)
    max_length: int = Field(default=128, ge=4, le=8192)
    lowercase: bool = True
    min_frequency: int = Field(default=2, ge=1)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value in ("wordpiece", "bpe") or (value.startswith(HF_PREFIX) and len(value) > len(HF_PREFIX)):
            return value
        raise ValueError(f"expected 'wordpiece', 'bpe' or 'hf:<local dir>', got {value!r}")


def _pipeline(tok: Any, lowercase: bool) -> None:
    from tokenizers import normalizers, pre_tokenizers

    tok.normalizer = normalizers.BertNormalizer(clean_text=True, lowercase=lowercase, strip_accents=None)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()


def _finish(tok: Any, max_length: int, *, where: str) -> Any:
    """Add ``[CLS] $A [SEP]`` (when the tokenizer has no post-processor), truncation and padding to 0."""
    from tokenizers import processors

    pad = next((t for t in ("[PAD]", "<pad>") if tok.token_to_id(t) is not None), None)
    if pad is None or tok.token_to_id(pad) != 0:
        got = "none" if pad is None else f"{pad!r} = {tok.token_to_id(pad)}"
        raise DataError(f"{where}: expected a padding token '[PAD]' with id 0, got {got}")
    if tok.post_processor is None:
        cls_, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        if cls_ is not None and sep is not None:
            tok.post_processor = processors.TemplateProcessing(
                single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_), ("[SEP]", sep)]
            )
    tok.enable_truncation(max_length=max_length)
    tok.enable_padding(length=max_length, pad_id=0, pad_token=pad)
    return tok


def _words(texts: Sequence[str], lowercase: bool) -> Counter[str]:
    from tokenizers import Tokenizer, models

    probe = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    _pipeline(probe, lowercase)
    counts: Counter[str] = Counter()
    for text in texts:
        normalized = probe.normalizer.normalize_str(text)
        counts.update(w for w, _ in probe.pre_tokenizer.pre_tokenize_str(normalized))
    return counts


def _top(counts: Counter[str], k: int, exclude: set[str]) -> list[str]:
    ranked = sorted((c for c in counts.items() if c[0] not in exclude), key=lambda kv: (-kv[1], kv[0]))
    return [s for s, _ in ranked[: max(k, 0)]]


def _learn_wordpiece_vocab(texts: Sequence[str], cfg: TokenizerConfig) -> dict[str, int]:
    words = _words(texts, cfg.lowercase)
    chars: Counter[str] = Counter()
    for w, c in words.items():
        chars[w[0]] += c
        for ch in w[1:]:
            chars["##" + ch] += c
    vocab = list(SPECIAL_TOKENS)
    taken = set(vocab)
    vocab += _top(chars, cfg.vocab_size - len(vocab), taken)
    taken = set(vocab)
    room = cfg.vocab_size - len(vocab)
    frequent = Counter({w: c for w, c in words.items() if c >= cfg.min_frequency and len(w) > 1})
    whole = _top(frequent, room * 3 // 4, taken)
    vocab += whole
    taken.update(whole)
    pieces: Counter[str] = Counter()
    for w, c in words.items():
        for k in range(3, min(len(w), 7)):
            pieces[w[:k]] += c
        for k in range(max(1, len(w) - 5), len(w) - 1):
            pieces["##" + w[k:]] += c
    vocab += _top(pieces, cfg.vocab_size - len(vocab), taken)
    return {tok: i for i, tok in enumerate(vocab)}


def _cache_dir() -> Path:
    return Path(os.environ.get("AUTOOPT_CACHE", Path.home() / ".cache" / "autoopt")) / "tokenizers"


def _learn_bpe(texts: Sequence[str], cfg: TokenizerConfig) -> Any:
    from tokenizers import Tokenizer, models, trainers

    digest = hashlib.sha256(cfg.model_dump_json().encode())
    for t in texts:
        digest.update(t.encode("utf-8", "replace") + b"\0")
    cached = _cache_dir() / f"bpe-{digest.hexdigest()[:32]}.json"
    if cached.is_file():
        return Tokenizer.from_file(str(cached))
    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##"))
    _pipeline(tok, cfg.lowercase)
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(tok.to_str())
    tmp.replace(cached)
    return tok


def load_hf_tokenizer(
    directory: str | os.PathLike[str], max_length: int, *, key: str = "data.tokenizer.kind"
) -> Any:
    """A local Hugging Face tokenizer directory's tokenizer, set to pad/truncate to ``max_length``.

    Args:
        directory: holds ``tokenizer.json`` or ``vocab.txt``.
        max_length: ids per text.
        key: the spec key, for messages.

    Raises:
        DataError: the directory or both files are missing, or the padding id is not 0.
    """
    from tokenizers import Tokenizer, decoders, models

    path = Path(directory)
    if not path.is_dir():
        raise DataError(f"{key}: expected a local tokenizer directory, got {str(path)!r} (not a directory)")
    if (path / "tokenizer.json").is_file():
        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
    elif (path / "vocab.txt").is_file():
        lowercase = True
        if (path / "tokenizer_config.json").is_file():
            lowercase = bool(
                json.loads((path / "tokenizer_config.json").read_text()).get("do_lower_case", True)
            )
        tok = Tokenizer(models.WordPiece.from_file(str(path / "vocab.txt"), unk_token="[UNK]"))
        _pipeline(tok, lowercase)
        tok.decoder = decoders.WordPiece()
    else:
        raise DataError(
            f"{key}: {str(path)!r} has neither tokenizer.json nor vocab.txt; expected a tokenizer saved "
            "with save_pretrained (autoopt never downloads one)"
        )
    return _finish(tok, max_length, where=f"{key} ({path})")


def learn_tokenizer(texts: Sequence[str], cfg: TokenizerConfig) -> Any:
    """The tokenizer ``cfg`` describes, learned on ``texts`` (the train split) unless it is ``hf:``.

    Example:
        >>> cfg = TokenizerConfig(vocab_size=64, max_length=6)
        >>> tok = learn_tokenizer(["a cat sat", "a dog sat"] * 3, cfg)
        >>> tok.encode("a cat").ids[0], len(tok.encode("a cat").ids)
        (2, 6)
    """
    if cfg.kind.startswith(HF_PREFIX):
        return load_hf_tokenizer(cfg.kind[len(HF_PREFIX) :], cfg.max_length)
    if cfg.kind == "bpe":
        tok = _learn_bpe(texts, cfg)
    else:
        from tokenizers import Tokenizer, decoders, models

        vocab = _learn_wordpiece_vocab(texts, cfg)
        tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
        _pipeline(tok, cfg.lowercase)
        tok.decoder = decoders.WordPiece()
    return _finish(tok, cfg.max_length, where=f"data.tokenizer ({cfg.kind})")


def encode_texts(tok: Any, texts: Sequence[str]) -> np.ndarray:
    """``(len(texts), max_length)`` ``int64`` token ids (the tokenizer pads and truncates)."""
    if not len(texts):
        padding = tok.padding or {}
        return np.zeros((0, int(padding.get("length") or 0)), dtype=np.int64)
    return np.asarray([e.ids for e in tok.encode_batch(list(texts))], dtype=np.int64)
