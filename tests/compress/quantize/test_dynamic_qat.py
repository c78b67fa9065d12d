"""Dynamic INT8 (with its conv-heavy warning), QAT end to end on CPU, fp16/bf16 casting, the dispatcher."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from autoopt.compress.quantize import quantize, quantize_dynamic, quantize_onnx, quantize_qat, to_precision
from autoopt.data import DataBundle
from autoopt.evaluate import predict, stack_inputs
from autoopt.exceptions import InvalidSpecError


def test_dynamic_runs_and_warns_on_a_cnn(fp32_onnx: dict, digits: DataBundle, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="conv-heavy"):
        res = quantize_dynamic(fp32_onnx["cnn"], tmp_path / "dyn.onnx", eval_data=digits, batch_sizes=(1,))
    rep = res.report
    ops = Counter(n.op_type for n in onnx.load(str(res.path)).graph.node)
    assert ops["ConvInteger"] == 3 and ops["DynamicQuantizeLinear"] >= 1
    assert rep.mode == "dynamic" and rep.quantized_ops["Conv"] == [3, 3]
    assert rep.accuracy_int8 is not None and rep.speedup(1) is not None
    assert any("conv-heavy" in n for n in rep.notes)


@pytest.mark.slow  # ~40 s: torchao's convert_pt2e exports 96 Conv+BN patterns (~0.5 s each) to fold BN
@pytest.mark.slow  # ~40 s: torchao's convert_pt2e exports 96 Conv+BN patterns (~0.5 s each) to fold BN
def test_qat_end_to_end_on_cpu(trained: dict, digits: DataBundle, tmp_path: Path) -> None:
    model = trained["resnet"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = {"mode": "qat", "qat_epochs": 1, "qat_lr": 1e-4}
    res = quantize_qat(
        model, digits, tmp_path / "qat.onnx", cfg, train_config={"device": "cpu"}, batch_sizes=(1,)
    )
    rep = res.report
    proto = onnx.load(str(res.path))
    ops = Counter(n.op_type for n in proto.graph.node)
    assert ops["QuantizeLinear"] >= 6 and ops["DequantizeLinear"] >= 7
    assert rep.quantized_ops == {"Conv": [6, 6], "Gemm": [1, 1]}
    assert any(t.data_type == onnx.TensorProto.INT8 for t in proto.graph.initializer)
    # The weights are int8; the file of this tiny model is mostly the exporter's per-node metadata.
    assert res.fp32_path.is_file() and rep.weight_ratio > 3.0
    assert rep.qat["epochs"] == 1 and "accuracy" in rep.qat["val_metrics"]
    x = stack_inputs(digits.test)
    agree = (predict(res.fp32_path, x).argmax(1) == predict(res.path, x).argmax(1)).mean()
    assert agree >= 0.8 and rep.accuracy_int8 is not None
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the model is untouched


def test_quantize_dispatches_on_mode(trained: dict, digits: DataBundle, tmp_path: Path) -> None:
    res = quantize(trained["cnn"], tmp_path / "m.int8.onnx", digits, {"calibration": "percentile"})
    assert res.fp32_path == tmp_path / "m.int8.fp32.onnx" and res.report.mode == "static"
    with pytest.raises(InvalidSpecError, match=r"compress\.quantize\.mode: 'qat' fine-tunes a torch model"):
        quantize_onnx(res.fp32_path, tmp_path / "q.onnx", digits, {"mode": "qat"})
    dyn = quantize_onnx(res.fp32_path, tmp_path / "d.onnx", digits, {"mode": "dynamic"})
    assert dyn.report.mode == "dynamic" and dyn.path.is_file()


def test_bf16_on_cpu_agrees(trained: dict, digits: DataBundle) -> None:
    x = torch.from_numpy(stack_inputs(digits.test))
    half = to_precision(trained["cnn"], "bf16", device="cpu", example_input=x[:2])
    assert next(half.parameters()).dtype == torch.bfloat16
    with torch.inference_mode():
        agree = (half(x).argmax(1) == trained["cnn"](x).argmax(1)).float().mean()
    assert agree >= 0.95
    with pytest.raises(InvalidSpecError, match="dtype: expected one of: fp16, bf16; got 'fp8'"):
        to_precision(nn.Linear(2, 2), "fp8")
