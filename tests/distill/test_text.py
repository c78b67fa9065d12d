"""Distillation and INT8 on text: a transformer teacher teaches a smaller student (logits KD and the
hidden-state hint); the exported student is quantized to dynamic INT8 with int64 token-id inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from autoopt.compress.quantize import quantize_dynamic, quantize_static
from autoopt.data import DataBundle, load_data
from autoopt.distill import distill
from autoopt.evaluate import predict
from autoopt.export import export_model
from autoopt.models import build_model
from autoopt.testing.text import make_text_rows, write_text_csv
from autoopt.training import fit

pytestmark = pytest.mark.slow  # a teacher trained once for the module (~10 s on 2 cores)

TEACHER = {"layers": 1, "hidden": 32, "heads": 2, "intermediate": 64, "dropout": 0.0}
STUDENT = {"layers": 1, "hidden": 16, "heads": 2, "intermediate": 32, "dropout": 0.0}
TRAIN = {"epochs": 6, "batch_size": 16, "lr": 3e-3, "device": "cpu", "seed": 0}


@pytest.fixture(scope="module")
def text(tmp_path_factory: pytest.TempPathFactory) -> DataBundle:
    path = tmp_path_factory.mktemp("text") / "t.csv"
    write_text_csv(path, make_text_rows(n_per_class=40))
    return load_data({"name": "text-csv", "path": str(path), "target": "label", "seed": 0,
                      "tokenizer": {"vocab_size": 80, "max_length": 10}})  # fmt: skip


@pytest.fixture(scope="module")
def teacher(text: DataBundle) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model("transformer", TEACHER, text.meta)
    fit(model, text, TRAIN)
    return model.eval()


def accuracy(model: torch.nn.Module, data: DataBundle) -> float:
    out = predict(model, data.test)
    return float((out.argmax(1) == data.test.y.numpy()).mean())


def test_the_teacher_learns_the_words(text: DataBundle, teacher: torch.nn.Module) -> None:
    assert accuracy(teacher, text) >= 0.8  # words name the class; chance is 1/3


@pytest.mark.parametrize("feature_weight", [0.0, 0.5], ids=["logits", "logits+hidden"])
def test_a_transformer_distills_into_a_smaller_one(
    text: DataBundle, teacher: torch.nn.Module, feature_weight: float
) -> None:
    torch.manual_seed(1)
    student = build_model("transformer", STUDENT, text.meta)
    before = [p.detach().clone() for p in teacher.parameters()]
    result = distill(student, teacher, text, TRAIN, alpha=0.7, temperature=2.0, feature_weight=feature_weight)
    assert (result.projection is not None) is (feature_weight > 0)
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters(), strict=True))
    assert accuracy(student, text) >= 0.7


def test_the_baseline_distills_into_bag_of_embeddings(text: DataBundle, teacher: torch.nn.Module) -> None:
    torch.manual_seed(2)
    student = build_model("bag_of_embeddings", {"dim": 16}, text.meta)
    distill(student, teacher, text, {**TRAIN, "lr": 3e-2}, alpha=0.5, temperature=2.0)
    assert accuracy(student, text) >= 0.7


def test_export_and_dynamic_int8_keep_int64_inputs(
    text: DataBundle, teacher: torch.nn.Module, tmp_path: Path
) -> None:
    card = export_model(teacher, text, tmp_path / "fp32", name="transformer", config=TEACHER,
                        latency_batch_sizes=(1,), latency_repeats=5)  # fmt: skip
    assert card.parity["onnx"]["passed"] and card.parity["pt2"]["passed"]
    assert card.input["dtype"] == "int64" and card.files["tokenizer"] == "tokenizer.json"
    res = quantize_dynamic(
        tmp_path / "fp32" / "model.onnx", tmp_path / "int8.onnx", eval_data=text, batch_sizes=(1,)
    )
    proto = onnx.load(str(tmp_path / "int8.onnx"))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    ops = {n.op_type for n in proto.graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeLinear" in ops
    assert (tmp_path / "int8.onnx").stat().st_size < (tmp_path / "fp32" / "model.onnx").stat().st_size
    fp32 = predict(str(tmp_path / "fp32" / "model.onnx"), text.test)
    int8 = predict(str(tmp_path / "int8.onnx"), text.test)
    assert np.mean(fp32.argmax(1) == int8.argmax(1)) >= 0.9
    assert res.report.mode == "dynamic"


def test_static_int8_calibrates_on_token_ids(
    text: DataBundle, teacher: torch.nn.Module, tmp_path: Path
) -> None:
    export_model(teacher, text, tmp_path / "fp32", latency_batch_sizes=(1,), latency_repeats=5)
    res = quantize_static(
        tmp_path / "fp32" / "model.onnx", tmp_path / "int8.onnx", text,
        {"min_calibration_samples": 16}, eval_data=text, batch_sizes=(1,),
    )  # fmt: skip
    proto = onnx.load(str(tmp_path / "int8.onnx"))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert any(n.op_type == "QuantizeLinear" for n in proto.graph.node)
    fp32 = predict(str(tmp_path / "fp32" / "model.onnx"), text.test)
    int8 = predict(str(tmp_path / "int8.onnx"), text.test)
    assert np.mean(fp32.argmax(1) == int8.argmax(1)) >= 0.8
    assert res.report.mode == "static"
