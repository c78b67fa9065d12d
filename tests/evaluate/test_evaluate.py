from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from autoopt.evaluate import evaluate_artifact, load_artifact, predict, score, stack_inputs
from autoopt.exceptions import InvalidSpecError


@pytest.fixture(scope="module")
def reference(cnn, digits):
    """Metrics of the torch model itself on the test split."""
    x = torch.from_numpy(stack_inputs(digits.test))
    y = np.array([int(digits.test[i][1]) for i in range(len(digits.test))])
    with torch.no_grad():
        return score("classification", y, cnn(x).numpy())


@pytest.mark.parametrize("artifact", ["dir", "model.safetensors", "model.pt2", "model.onnx"])
def test_every_fp32_artifact_scores_like_the_model(artifact, exported, digits, reference):
    out, _ = exported
    path = out if artifact == "dir" else out / artifact
    res = evaluate_artifact(path, digits, batch_size=16)
    assert res["format"] == {"dir": "checkpoint", "model.safetensors": "checkpoint"}.get(
        artifact, artifact[6:]
    )
    assert res["samples"] == len(digits.test)
    assert res["accuracy"] == pytest.approx(reference["accuracy"])
    assert res["loss"] == pytest.approx(reference["loss"], abs=1e-4)
    weights = "model.safetensors" if artifact == "dir" else artifact
    assert res["size_bytes"] == (out / weights).stat().st_size
    assert reference["accuracy"] > 0.5  # the fixture model is really trained


def test_an_int8_onnx_scores_close_to_the_model(exported, digits, reference, tmp_path):
    out, _ = exported
    quantize_dynamic(str(out / "model.onnx"), str(tmp_path / "int8.onnx"), weight_type=QuantType.QInt8)
    res = evaluate_artifact(tmp_path / "int8.onnx", digits, split="test")
    assert res["format"] == "onnx" and res["size_bytes"] == (tmp_path / "int8.onnx").stat().st_size
    assert abs(res["accuracy"] - reference["accuracy"]) <= 0.1


def test_other_splits(exported, digits):
    out, _ = exported
    assert evaluate_artifact(out / "model.onnx", digits, split="val")["samples"] == len(digits.val)
    with pytest.raises(InvalidSpecError, match=r"split: expected one of: train, val, test; got 'dev'"):
        evaluate_artifact(out / "model.onnx", digits, split="dev")


def test_a_lone_checkpoint_says_what_it_needs(exported, digits, tmp_path):
    out, _ = exported
    shutil.copy(out / "model.safetensors", tmp_path / "w.safetensors")
    with pytest.raises(
        InvalidSpecError, match=r"w\.safetensors: cannot rebuild the model .* expected model\.json"
    ):
        evaluate_artifact(tmp_path / "w.safetensors", digits)
    with pytest.raises(InvalidSpecError, match=r"expected a model dir \(with model\.json\) or a run dir"):
        evaluate_artifact(tmp_path, digits)
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(InvalidSpecError, match=r"expected a \.onnx, \.pt2, .*got suffix '\.txt'"):
        load_artifact(tmp_path / "m.txt")


def test_predict_batches_like_one_call(cnn, exported, digits):
    out, _ = exported
    x = stack_inputs(digits.test)
    with torch.no_grad():
        want = cnn(torch.from_numpy(x)).numpy()
    for target in (cnn, out / "model.onnx", out / "model.pt2"):
        np.testing.assert_allclose(predict(target, x, batch_size=7), want, atol=1e-5, rtol=1e-4)
