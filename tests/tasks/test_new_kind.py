"""A kind registered from outside (int64 token-id inputs, like issue 18's text) works end to end:
train one epoch, evaluate, export to ONNX with parity, run the ONNX file, time it, serve it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from autoopt.data import DataBundle, DatasetMeta, TensorData
from autoopt.evaluate import evaluate_runner, make_runner, measure_latency
from autoopt.export import export_model
from autoopt.models import count_macs
from autoopt.models._base import output_dim
from autoopt.serve import load_model
from autoopt.tasks import Classification, get_task, list_tasks, task_kinds
from autoopt.training import TrainConfig, build_task, evaluate_model, fit

VOCAB, LENGTH = 16, 6


class Tokens(Classification):
    """Class-index targets, ``(batch, LENGTH)`` int64 token ids with padding id 0."""

    name = "toy-tokens"
    input_dtype = torch.int64


class BagOfEmbeddings(nn.Module):
    """Mean of the non-padding token embeddings, then a linear head (the mask is built inside)."""

    def __init__(self, num_outputs: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 8, padding_idx=0)
        self.head = nn.Linear(8, num_outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != 0).unsqueeze(-1).float()
        pooled = (self.embed(ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(pooled)


@pytest.fixture
def tokens_kind() -> Iterator[str]:
    with task_kinds.registered(Tokens.name, Tokens):
        yield Tokens.name
    assert Tokens.name not in list_tasks()


def _bundle(task: str) -> DataBundle:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, VOCAB, (240, LENGTH), generator=g)
    x[:, 4:] *= torch.randint(0, 2, (240, 1), generator=g)  # some sequences are padded
    y = (x == 3).any(1).long()  # class 1: the sequence holds token 3
    split = [TensorData(x[i : i + 80], y[i : i + 80]) for i in (0, 80, 160)]
    meta = DatasetMeta("toy-tokens", task, (LENGTH,), num_classes=2, class_names=["no", "yes"])
    return DataBundle(*split, meta)


def test_a_registered_int64_kind_trains_evaluates_exports_and_serves(
    tokens_kind: str, tmp_path: Path
) -> None:
    data = _bundle(tokens_kind)
    kind = data.meta.kind
    assert isinstance(kind, Tokens) and kind.example_input((LENGTH,), 3).dtype == torch.int64
    torch.manual_seed(0)
    model = BagOfEmbeddings(output_dim(data.meta))
    assert isinstance(build_task(model, tokens_kind, TrainConfig()).kind, Tokens)

    result = fit(model, data, {"epochs": 1, "batch_size": 16, "device": "cpu"})
    assert result.history and np.isfinite(result.history[-1]["train_loss"])
    test = evaluate_model(model, data.test, device="cpu", task=tokens_kind)
    assert {"loss", "accuracy", "f1_macro"} <= set(test) and 0.0 <= test["accuracy"] <= 1.0

    assert count_macs(model, data.meta.input_shape, task=tokens_kind) == 8 * 2  # the head; lookups are free

    card = export_model(
        model, data, tmp_path, latency_batch_sizes=(1, 4), latency_repeats=2, parity_samples=64
    )
    assert card.input["dtype"] == "int64"
    assert card.parity["onnx"]["passed"] and card.parity["pt2"]["passed"]
    runner = make_runner(tmp_path / "model.onnx")
    assert runner.input_dtype == np.dtype(np.int64)
    onnx_test = evaluate_runner(runner, data.test, tokens_kind)
    assert onnx_test["accuracy"] == pytest.approx(test["accuracy"])
    assert onnx_test["loss"] == pytest.approx(test["loss"], abs=1e-4)

    latency = measure_latency(model, (LENGTH,), batch_sizes=[2], repeats=2, task=tokens_kind)
    assert latency.row(2).p50_ms > 0

    served = load_model(tmp_path)
    x = data.test[0:3][0].numpy()
    preds = served.predictions(x)
    assert [p["index"] for p in preds] == kind.predictions(runner(x)).tolist()
    assert preds[0]["label"] in ("no", "yes")


def test_the_kind_is_gone_after_unregistering() -> None:
    with pytest.raises(KeyError, match=r"unknown task kind 'toy-tokens'"):
        get_task("toy-tokens")
