"""Text classifiers over ``(batch, max_length)`` ``int64`` token ids, padding id 0.

Each model takes ONE input, the token ids, and builds its attention mask inside (``ids != 0``), so
export, the latency harness, runners and serving keep their one-input interface.

- ``bag_of_embeddings``: the mean of the token embeddings (padding left out), an optional hidden
  layer, a linear head. The fast baseline.
- ``cnn1d``: token embeddings, 1-D convolutions, max over positions, a linear head.
- ``transformer``: a small BERT-style encoder built from a ``transformers.BertConfig`` (random
  init), mean-pooled over the tokens, a linear head.
- ``hf:<dir>``: a local ``transformers`` sequence-classification checkpoint (``config.json`` and
  ``model.safetensors`` or ``pytorch_model.bin``), never downloaded; its classifier is replaced when
  the data has another number of classes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autoopt.data._bundle import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.models._base import AutoOptModel, WrappedModel, output_dim
from autoopt.models._checks import ParamError, check_float, check_int
from autoopt.models._default_space import register_space
from autoopt.models._factory import models, register_prefix

__all__ = [
    "BagOfEmbeddings",
    "TextCNN",
    "TextTransformer",
    "HF_PREFIX",
    "TEXT_MODELS",
    "is_text_model",
    "text_vocab",
]

HF_PREFIX = "hf:"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: the attention implementation of transformers models: "eager" ran a training step of a small encoder
#: 2.4x faster than "sdpa" on 2 CPU cores (413 vs 990 ms, batch 32, length 64) and exports plainly.
ATTENTION = "eager"
#: builders that take token ids (the registry's common tests give them a text dataset).
TEXT_MODELS: set[str] = set()


def _text_model(name: str) -> Any:
    TEXT_MODELS.add(name)
    return models.register(name)


def is_text_model(name: str) -> bool:
    """Whether the model ``name`` (a registered name or ``hf:<dir>``) takes token ids."""
    return name in TEXT_MODELS or name.startswith(HF_PREFIX)


def text_vocab(meta: DatasetMeta, model: str) -> tuple[int, int]:
    """``(vocab_size, max_length)`` of a text dataset (from ``meta.extra["tokenizer"]``).

    Raises:
        InvalidSpecError: the dataset is not text (no tokenizer recorded).
    """
    tok = meta.extra.get("tokenizer")
    if not isinstance(tok, dict) or len(meta.input_shape) != 1:
        raise InvalidSpecError(
            f"model.name: {model!r} takes token ids; expected a text dataset (data.name: text-csv or "
            f"text-jsonl), got {meta.name!r} with input shape {list(meta.input_shape)}"
        )
    return int(tok["vocab_size"]), int(meta.input_shape[0])


def _masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class BagOfEmbeddings(AutoOptModel):
    """Mean of token embeddings (padding excluded) -> [Linear -> GELU -> Dropout] -> head.

    Args:
        vocab_size: embedding rows (token ids must be below it).
        dim: embedding width.
        hidden: width of the hidden layer (0: none).
        num_outputs: classes.
        dropout: dropout before the head.
    """

    input_dtype = torch.int64

    def __init__(
        self, vocab_size: int, dim: int, hidden: int, num_outputs: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.hidden = nn.Sequential(nn.Linear(dim, hidden), nn.GELU()) if hidden > 0 else nn.Identity()
        self.head_drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden if hidden > 0 else dim, num_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(_masked_mean(self.embed(x), x != 0))


class TextCNN(AutoOptModel):
    """Embeddings -> ``layers`` x (Conv1d ``kernel`` -> GELU) -> max over non-padding positions -> head."""

    input_dtype = torch.int64

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        channels: int,
        layers: int,
        kernel: int,
        num_outputs: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        convs: list[nn.Module] = []
        prev = dim
        for _ in range(layers):
            convs.append(nn.Sequential(nn.Conv1d(prev, channels, kernel, padding=kernel // 2), nn.GELU()))
            prev = channels
        self.convs = nn.ModuleList(convs)
        self.head_drop = nn.Dropout(dropout)
        self.head = nn.Linear(prev, num_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        mask = (x != 0).unsqueeze(1)
        h = self.embed(x).transpose(1, 2)
        for conv in self.convs:
            h = conv(h)[..., : x.shape[1]]
        h = h.masked_fill(~mask, torch.finfo(h.dtype).min)
        return h.amax(dim=2).clamp(min=-1e4)  # an all-padding row gives a finite feature vector


class TextTransformer(AutoOptModel):
    """A BERT-style encoder (``transformers.BertModel``, random init), masked mean pooling, a head.

    Args:
        config: the ``transformers.BertConfig``.
        num_outputs: classes.
    """

    input_dtype = torch.int64

    def __init__(self, config: Any, num_outputs: int) -> None:
        super().__init__()
        from transformers import BertModel

        self.encoder = BertModel(config, add_pooling_layer=False)
        self.head_drop = nn.Dropout(config.hidden_dropout_prob)
        self.head = nn.Linear(config.hidden_size, num_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        mask = x != 0
        out = self.encoder(input_ids=x, attention_mask=mask.long()).last_hidden_state
        return _masked_mean(out, mask)

    def blocks(self) -> list[tuple[str, nn.Module]]:
        layers = [(f"encoder.encoder.layer.{i}", m) for i, m in enumerate(self.encoder.encoder.layer)]
        return [("encoder.embeddings", self.encoder.embeddings), *layers, ("head", self.head)]


@_text_model("bag_of_embeddings")
def bag_of_embeddings(
    meta: DatasetMeta, *, dim: int = 64, hidden: int = 0, dropout: float = 0.1
) -> BagOfEmbeddings:
    """Build a :class:`BagOfEmbeddings` for a text dataset.

    Args:
        meta: the dataset description (a text source).
        dim: embedding width.
        hidden: hidden layer width after the mean (0: none).
        dropout: dropout before the head, in ``[0, 1)``.
    """
    vocab, _ = text_vocab(meta, "bag_of_embeddings")
    return BagOfEmbeddings(
        vocab,
        check_int("dim", dim, low=1),
        check_int("hidden", hidden),
        output_dim(meta),
        check_float("dropout", dropout, high=1.0),
    )


@_text_model("cnn1d")
def cnn1d(
    meta: DatasetMeta,
    *,
    dim: int = 64,
    channels: int = 64,
    layers: int = 1,
    kernel: int = 3,
    dropout: float = 0.1,
) -> TextCNN:
    """Build a :class:`TextCNN` for a text dataset.

    Args:
        meta: the dataset description (a text source).
        dim: embedding width.
        channels: convolution channels.
        layers: convolution layers (at least 1).
        kernel: odd kernel width.
        dropout: dropout before the head, in ``[0, 1)``.
    """
    vocab, _ = text_vocab(meta, "cnn1d")
    kernel = check_int("kernel", kernel, low=1)
    if kernel % 2 == 0:
        raise ParamError("kernel", f"expected an odd width; got {kernel}")
    return TextCNN(
        vocab,
        check_int("dim", dim, low=1),
        check_int("channels", channels, low=1),
        check_int("layers", layers, low=1),
        kernel,
        output_dim(meta),
        check_float("dropout", dropout, high=1.0),
    )


@_text_model("transformer")
def transformer(
    meta: DatasetMeta,
    *,
    layers: int = 2,
    hidden: int = 128,
    heads: int = 4,
    intermediate: int | None = None,
    dropout: float = 0.1,
    max_length: int | None = None,
) -> TextTransformer:
    """Build a small BERT-style :class:`TextTransformer` (random init) for a text dataset.

    Args:
        meta: the dataset description (a text source).
        layers: encoder layers.
        hidden: hidden size (a multiple of ``heads``).
        heads: attention heads.
        intermediate: feed-forward width (default ``4 * hidden``).
        dropout: dropout of the hidden states and attention probabilities, in ``[0, 1)``.
        max_length: position embeddings (default and minimum: the data's ``max_length``).
    """
    from transformers import BertConfig

    vocab, length = text_vocab(meta, "transformer")
    layers, hidden, heads = (
        check_int("layers", layers, low=1),
        check_int("hidden", hidden, low=1),
        check_int("heads", heads, low=1),
    )
    if hidden % heads:
        raise ParamError("hidden", f"expected a multiple of heads ({heads}); got {hidden}")
    positions = check_int("max_length", max_length if max_length is not None else length, low=1)
    if positions < length:
        raise ParamError("max_length", f"expected at least the data's max_length ({length}); got {positions}")
    drop = check_float("dropout", dropout, high=1.0)
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=check_int(
            "intermediate", intermediate if intermediate is not None else 4 * hidden, low=1
        ),
        hidden_dropout_prob=drop,
        attention_probs_dropout_prob=drop,
        max_position_embeddings=positions,
        type_vocab_size=1,
        pad_token_id=0,
    )
    config._attn_implementation = ATTENTION  # BertConfig's kwargs are typed without it
    return TextTransformer(config, output_dim(meta))


class _IdsToLogits(nn.Module):
    """A ``transformers`` sequence classifier called with token ids only (mask = ``ids != 0``)."""

    def __init__(self, hf: nn.Module) -> None:
        super().__init__()
        self.hf = hf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hf(input_ids=x, attention_mask=(x != 0).long()).logits


class HFTextModel(WrappedModel):
    """A wrapped ``transformers`` sequence classifier taking token ids."""

    input_dtype = torch.int64


def check_hf_dir(path: str | os.PathLike[str], *, key: str = "model.name") -> Path:
    """``path`` if it holds a local checkpoint (``config.json`` and weights), else a clear error."""
    d = Path(path)
    if not d.is_dir():
        raise InvalidSpecError(
            f"{key}: expected a local checkpoint directory after 'hf:', got {str(d)!r} (not found)"
        )
    missing = [] if (d / "config.json").is_file() else ["config.json"]
    if not any((d / f).is_file() for f in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    if missing:
        raise InvalidSpecError(
            f"{key}: {str(d)!r} is missing {', '.join(missing)}; expected a transformers checkpoint "
            "saved with save_pretrained (autoopt never downloads models)"
        )
    return d


@_text_model("hf")
def hf_model(meta: DatasetMeta, *, path: str) -> HFTextModel:
    """Load a local ``transformers`` sequence-classification checkpoint (``hf:<dir>`` in a spec).

    Args:
        meta: the dataset description (a text source whose tokenizer fits the checkpoint's vocabulary,
            e.g. ``data.tokenizer.kind: hf:<dir>``).
        path: the checkpoint directory.
    """
    d = check_hf_dir(path)
    vocab, _ = text_vocab(meta, f"hf:{path}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForSequenceClassification

    try:
        hf = AutoModelForSequenceClassification.from_pretrained(
            str(d), local_files_only=True, attn_implementation=ATTENTION
        )
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidSpecError(f"model.name: cannot load hf:{path} as a sequence classifier: {exc}") from None
    embeds = int(getattr(hf.config, "vocab_size", vocab))
    if vocab > embeds:
        raise InvalidSpecError(
            f"data.tokenizer: gives ids up to {vocab - 1}, but hf:{path} embeds {embeds} tokens; "
            f"use the checkpoint's tokenizer (data.tokenizer.kind: hf:{path})"
        )
    model = HFTextModel(_IdsToLogits(hf))
    n = output_dim(meta)
    if model.get_classifier().out_features != n:
        model.reset_classifier(n)
    return model


register_prefix(HF_PREFIX, "hf", "path")


# Default search spaces (``search.space: default``). Transformers train with smaller learning rates
# than the defaults for small conv nets, and with a warm-up: the schedules searched all have one.
_WARMUP = ["warmup-linear", "warmup-cosine", "onecycle"]


@register_space("transformer")
def _transformer_space(meta: DatasetMeta) -> tuple[dict[str, Any], dict[str, Any]]:
    model = {
        "layers": {"type": "int", "low": 1, "high": 4},
        "hidden": [64, 128, 192],
        "heads": [2, 4],
        "dropout": {"type": "float", "low": 0.0, "high": 0.3},
    }
    training = {
        "lr": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
        "weight_decay": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
        "schedule": _WARMUP,
    }
    return model, training


@register_space("bag_of_embeddings")
def _bag_space(meta: DatasetMeta) -> tuple[dict[str, Any], dict[str, Any]]:
    model = {"dim": [32, 64, 128], "hidden": [0, 64], "dropout": {"type": "float", "low": 0.0, "high": 0.5}}
    return model, {"lr": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True}}


@register_space("cnn1d")
def _cnn1d_space(meta: DatasetMeta) -> tuple[dict[str, Any], dict[str, Any]]:
    model = {
        "dim": [32, 64, 128],
        "channels": [32, 64, 128],
        "layers": {"type": "int", "low": 1, "high": 2},
        "kernel": [3, 5],
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    }
    return model, {"lr": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True}}


@register_space(HF_PREFIX)
def _hf_space(meta: DatasetMeta) -> tuple[dict[str, Any], dict[str, Any]]:
    training = {
        "lr": {"type": "float", "low": 1e-5, "high": 3e-4, "log": True},
        "weight_decay": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
        "schedule": _WARMUP,
    }
    return {}, training
