"""Static INT8: agreement with fp32, size, the three calibration methods, errors, collapse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from torch import nn

from autoopt.compress.quantize import (
    QuantizeConfig,
    calibrate,
    calibrated_ranges,
    calibration_inputs,
    quantize_static,
)
from autoopt.data import DataBundle
from autoopt.evaluate import predict, stack_inputs
from autoopt.exceptions import InvalidSpecError
from autoopt.export import export_onnx


def test_int8_agrees_with_fp32_and_is_4x_smaller(fp32_onnx: dict, digits: DataBundle, tmp_path: Path) -> None:
    res = quantize_static(fp32_onnx["cnn"], tmp_path / "cnn.int8.onnx", digits)
    x = stack_inputs(digits.test)
    agree = (predict(res.fp32_path, x).argmax(1) == predict(res.path, x).argmax(1)).mean()
    rep = res.report
    assert agree >= 0.95
    assert rep.size_ratio > 3.0, rep.summary()
    assert rep.quantized_ops == {"Conv": [3, 3], "Gemm": [1, 1]}
    assert rep.accuracy_int8 is not None and rep.accuracy_drop is not None
    assert rep.calibration_samples == min(256, len(digits.train))
    assert set(rep.latency_int8["batches"]) == {"1", "64"} and rep.speedup(64) is not None
    assert not rep.collapsed and rep.sensitivity == []
    assert {"size_ratio", "speedup", "collapsed"} <= set(rep.to_dict())
    types = {t.data_type for t in onnx.load(str(res.path)).graph.initializer if t.name.endswith("_quantized")}
    assert onnx.TensorProto.INT8 in types


@pytest.mark.parametrize("method", ["minmax", "entropy", "percentile"])
def test_each_calibration_method_runs(
    method: str, fp32_onnx: dict, digits: DataBundle, tmp_path: Path
) -> None:
    cfg = {"calibration": method, "histogram_bins": 512, "calibration_samples": 128}
    rep = quantize_static(
        fp32_onnx["resnet"], tmp_path / f"{method}.onnx", digits, cfg, batch_sizes=(1,)
    ).report
    assert rep.calibration == method and rep.quantized_ops["Conv"][0] == rep.quantized_ops["Conv"][1]
    assert rep.accuracy_int8 is not None and rep.accuracy_int8 > 0.5


def test_methods_give_different_ranges_on_a_heavy_tail(tmp_path: Path) -> None:
    path = export_onnx(nn.Sequential(nn.Linear(16, 4)), torch.zeros(2, 16), tmp_path / "lin.onnx").path
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 16)).astype(np.float32)
    x.flat[rng.choice(x.size, 4, replace=False)] = 60.0  # a heavy right tail: 4 values in 4096
    highs = {}
    for method in ("minmax", "entropy", "percentile"):
        cfg = QuantizeConfig(calibration=method, percentile=99.9, histogram_bins=512)
        highs[method] = calibrated_ranges(calibrate(path, calibration_inputs(x, cfg), cfg))["input"][1]
    assert highs["minmax"] == pytest.approx(60.0)
    assert highs["percentile"] < highs["minmax"] / 4  # clips the tail
    assert highs["entropy"] < highs["minmax"]  # clips the tail too
    assert highs["entropy"] != pytest.approx(highs["percentile"])


def test_too_few_calibration_samples_names_the_key(fp32_onnx: dict, tmp_path: Path) -> None:
    few = torch.zeros(50, 1, 8, 8)
    with pytest.raises(
        InvalidSpecError, match=r"compress\.quantize\.calibration_samples: got 50 .* at least"
    ):
        quantize_static(fp32_onnx["cnn"], tmp_path / "x.onnx", few)
    assert not (tmp_path / "x.onnx").exists()


def test_unknown_exclude_names_the_key(fp32_onnx: dict, digits: DataBundle, tmp_path: Path) -> None:
    with pytest.raises(InvalidSpecError, match=r"compress\.quantize\.exclude: unknown node or layer 'nope'"):
        quantize_static(fp32_onnx["cnn"], tmp_path / "x.onnx", digits, {"exclude": ["nope"]})


def test_exclude_keeps_a_layer_in_float(fp32_onnx: dict, digits: DataBundle, tmp_path: Path) -> None:
    rep = quantize_static(
        fp32_onnx["cnn"], tmp_path / "x.onnx", digits, {"exclude": ["head"]}, batch_sizes=()
    ).report
    assert rep.quantized_ops["Gemm"] == [0, 1] and rep.quantized_ops["Conv"] == [3, 3]
    assert len(rep.excluded) == 1


def _outlier_channel(src: Path, dst: Path, factor: float = 1000.0) -> Path:
    """The same function with one channel of the first conv 1000x larger and the next conv's matching
    input weights 1000x smaller (ReLU and max-pooling commute with a positive scale): one per-tensor
    activation scale then has to cover that channel and rounds the others to zero."""
    proto = onnx.load(str(src))
    inits = {t.name: t for t in proto.graph.initializer}
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    w0, b0, w1 = (
        numpy_helper.to_array(inits[n]) for n in (convs[0].input[1], convs[0].input[2], convs[1].input[1])
    )
    w0, b0, w1 = w0.copy(), b0.copy(), w1.copy()
    w0[0] *= factor
    b0[0] *= factor
    w1[:, 0] /= factor
    for name, arr in zip(
        (convs[0].input[1], convs[0].input[2], convs[1].input[1]), (w0, b0, w1), strict=True
    ):
        inits[name].CopyFrom(numpy_helper.from_array(arr, name))
    onnx.save(proto, str(dst))
    return dst


def test_collapse_is_flagged_with_a_sensitivity_list(
    fp32_onnx: dict, digits: DataBundle, tmp_path: Path
) -> None:
    src = _outlier_channel(fp32_onnx["cnn"], tmp_path / "outlier.onnx")
    x = stack_inputs(digits.test)
    np.testing.assert_allclose(predict(src, x), predict(fp32_onnx["cnn"], x), rtol=1e-3, atol=1e-3)
    rep = quantize_static(src, tmp_path / "int8.onnx", digits, batch_sizes=()).report
    assert rep.collapsed and rep.accuracy_drop is not None and rep.accuracy_drop > 10.0
    assert [s.layer for s in rep.sensitivity][:1] in (["body.0.0"], ["body.1.0"])
    drops = [s.drop for s in rep.sensitivity]
    assert drops == sorted(drops, reverse=True) and len(drops) == 4
    assert rep.keep_float and set(rep.keep_float) <= {"body.0.0", "body.1.0"}
    assert "COLLAPSED" in rep.summary()


def test_negative_max_drop_always_flags(fp32_onnx: dict, digits: DataBundle, tmp_path: Path) -> None:
    cfg = {"max_accuracy_drop": -100.0, "calibration_samples": 128}
    rep = quantize_static(fp32_onnx["resnet"], tmp_path / "x.onnx", digits, cfg, batch_sizes=()).report
    assert rep.collapsed and len(rep.sensitivity) == 7 and len(rep.keep_float) >= 1
