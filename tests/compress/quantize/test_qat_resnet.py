"""QAT on residual networks: a ReLU module called twice per block no longer breaks torchao's PT2E."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import onnx
import pytest
import torch

from autoopt.compress import run_plan
from autoopt.compress.quantize._qat import _Inline, _quiet_import, split_reused_modules
from autoopt.data import DataBundle
from autoopt.models import build_model


def _prepare_non_strict(model: torch.nn.Module, x: torch.Tensor) -> None:
    with _quiet_import():
        from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e
        from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
            X86InductorQuantizer,
            get_default_x86_inductor_quantization_config,
        )
    shapes = ({0: torch.export.Dim("batch", min=1)},)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = torch.export.export(model, (x,), dynamic_shapes=shapes, strict=False).module()
        quantizer = X86InductorQuantizer().set_global(
            get_default_x86_inductor_quantization_config(is_qat=True)
        )
        prepare_qat_pt2e(graph, quantizer)


def test_reused_relu_is_split_so_the_non_strict_trace_prepares(digits: DataBundle) -> None:
    x = torch.zeros(8, *digits.meta.input_shape)
    model = build_model("resnet", {"stages": 2, "width": 8, "blocks": 1}, digits.meta)
    with pytest.raises(Exception, match="more than one output node"):  # the failure the issue saw
        _prepare_non_strict(model.train(), x)
    expected = model.eval()(x)
    assert split_reused_modules(model, x) == ["stages.0.0.relu", "stages.1.0.relu"]
    assert isinstance(model.stages[0][0].relu, _Inline)
    torch.testing.assert_close(model(x), expected)  # the same function
    _prepare_non_strict(model.train(), x)


@pytest.mark.slow  # ~1 min: QAT fine-tuning plus torchao's convert_pt2e (one export per Conv+BN pattern)
def test_qat_plan_on_resnet_runs_and_exports_onnx(trained: dict, digits: DataBundle, tmp_path: Path) -> None:
    plan = {
        "steps": [{"quantize": {"mode": "qat", "qat_epochs": 1, "qat_lr": 1e-4}}],
        "latency_repeats": 3,
        "max_accuracy_drop": 100,
        "reference": False,
    }
    res = run_plan(trained["resnet"], digits, plan, out_dir=tmp_path, train_config={"device": "cpu"})
    int8 = next(c for c in res.candidates if c.label == "1. quantize")
    assert int8.precision == "int8" and int8.derived_from == "baseline_fp32"
    proto = onnx.load(int8.onnx)
    ops = Counter(n.op_type for n in proto.graph.node)
    assert ops["QuantizeLinear"] >= 4 and ops["DequantizeLinear"] >= 4
    assert any(t.data_type == onnx.TensorProto.INT8 for t in proto.graph.initializer)
    row = next(r for r in res.rows if r.step == "1. quantize")
    assert row.accuracy_drop_pp is not None and row.accuracy_drop_pp < 10
    assert res.reports["1. quantize"]["mode"] == "qat"
