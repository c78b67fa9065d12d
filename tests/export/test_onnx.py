from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from autoopt.evaluate import onnx_session, stack_inputs
from autoopt.exceptions import AutoOptError
from autoopt.export import ExportError, export_onnx, export_pt2
from autoopt.models import build_model


@pytest.fixture(scope="module")
def mlp(digits):
    torch.manual_seed(1)
    return build_model("mlp", {"depth": 1, "width": 16}, digits.meta).eval()


def test_onnx_is_one_file_with_its_opset_and_a_dynamic_batch(mlp, digits, tmp_path):
    x = torch.from_numpy(stack_inputs(digits.val, limit=4))
    res = export_onnx(mlp, x, tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # weights inside, no .data file
    assert res.files == [tmp_path / "m.onnx"]
    assert res.size_bytes == {"m.onnx": (tmp_path / "m.onnx").stat().st_size}
    proto = onnx.load(str(res.path))
    assert res.opset == next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    assert res.input_shape == [None, 1, 8, 8] and res.output_shape == [None, 10]
    sess = onnx_session(res.path, threads=1)
    for batch in (1, 7):
        xb = stack_inputs(digits.test, limit=batch)
        got = sess.run(None, {res.input_name: xb})[0]
        with torch.no_grad():
            want = mlp(torch.from_numpy(xb)).numpy()
        assert got.shape == (batch, 10)
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def test_pt2_round_trip(mlp, digits, tmp_path):
    x = torch.from_numpy(stack_inputs(digits.val, limit=1))  # a batch of 1 still exports a dynamic batch
    path = export_pt2(mlp, x, tmp_path / "m.pt2")
    module = torch.export.load(str(path)).module()
    for batch in (1, 5):
        xb = torch.from_numpy(stack_inputs(digits.test, limit=batch))
        with torch.no_grad():
            torch.testing.assert_close(module(xb), mlp(xb))


def test_export_restores_the_training_mode(digits, tmp_path):
    model = build_model("cnn", {"blocks": 1, "channels": 4}, digits.meta).train()
    export_pt2(model, torch.zeros(2, 1, 8, 8), tmp_path / "m.pt2")
    assert model.training


class Airy(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.special.airy_ai(x)


class WithAiry(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.act = Airy()
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.act(x), 1))


def test_an_op_without_onnx_translation_names_the_op_and_the_layer(tmp_path):
    with pytest.raises(
        ExportError, match=r"no translation for op aten\.special_airy_ai.* in layer 'act' \(Airy\)"
    ):
        export_onnx(WithAiry(), torch.randn(2, 1, 8, 8), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


class DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * 2
        return x


def test_data_dependent_control_flow_names_the_code_line(tmp_path):
    with pytest.raises(
        ExportError, match=r"data-dependent control flow at File .*test_onnx\.py.*if x\.sum\(\) > 0"
    ):
        export_onnx(DataDependent(), torch.randn(2, 4), tmp_path / "m.onnx")


def test_export_error_is_an_autoopt_runtime_error():
    assert issubclass(ExportError, AutoOptError) and issubclass(ExportError, RuntimeError)


def test_an_example_without_batch_dimension_is_refused(mlp, tmp_path):
    with pytest.raises(
        ExportError, match=r"example_input: expected a tensor with a batch dimension.*got \(0, 64\)"
    ):
        export_onnx(mlp, torch.zeros(0, 64), tmp_path / "m.onnx")
