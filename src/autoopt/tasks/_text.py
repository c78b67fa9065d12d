"""Text classification: class labels of texts given as ``int64`` token ids (padding id 0).

A classification kind (cross-entropy, accuracy, class names, stratified splits, probabilities when
serving) whose model input is ONE ``(batch, max_length)`` ``int64`` tensor of token ids; the model
builds its attention mask inside (``ids != 0``). So the dummy input of export, latency and
profiling (:meth:`TaskKind.example_input`) is int64 zeros, and nothing casts the input to float.
The ``text-csv`` and ``text-jsonl`` sources (:mod:`autoopt.data`) give datasets of this kind.
"""

from __future__ import annotations

import torch

from autoopt.tasks._base import task_kinds
from autoopt.tasks._classification import Classification

__all__ = ["TextClassification"]


@task_kinds.register("text")
class TextClassification(Classification):
    """:class:`Classification` over token ids: ``input_dtype`` is ``torch.int64``."""

    name = "text"
    input_dtype = torch.int64
