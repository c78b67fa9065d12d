from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from autoopt.exceptions import InvalidSpecError
from autoopt.export import ExportError, check_parity
from autoopt.models import build_model


def test_parity_on_real_digits_inputs(exported, cnn, digits):
    out, _ = exported
    report = check_parity(cnn, out / "model.onnx", digits.test, atol=1e-4, rtol=1e-3, batch_size=16)
    assert report.passed and report.mismatched == 0
    assert report.samples == len(digits.test)
    assert report.max_abs_error < 1e-4 and report.top1_agreement == 1.0


def test_parity_against_a_different_model_fails_with_the_numbers(exported, digits):
    out, _ = exported
    torch.manual_seed(123)
    other = build_model("cnn", {"blocks": 1, "channels": 8}, digits.meta)
    with pytest.raises(
        ExportError, match=r"parity check failed: .*model\.onnx.*max abs error \d.*top-1 agreement 0\.\d+"
    ):
        check_parity(other, out / "model.onnx", digits.test, atol=1e-4, rtol=1e-3)


def test_a_perturbed_onnx_fails_an_exact_tolerance(exported, cnn, digits, tmp_path):
    out, _ = exported
    proto = onnx.load(str(out / "model.onnx"))
    init = max(proto.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    # 1e-4 on every weight of the largest tensor (the grid head's classifier: 128 inputs)
    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) + np.float32(1e-4), init.name))
    onnx.save(proto, str(tmp_path / "perturbed.onnx"))
    report = check_parity(
        cnn, tmp_path / "perturbed.onnx", digits.test, atol=0, rtol=0, raise_on_failure=False
    )
    assert not report.passed and report.mismatched > 0 and report.max_abs_error > 0
    with pytest.raises(ExportError, match=r"atol 0, rtol 0; [1-9]\d* elements outside"):
        check_parity(cnn, tmp_path / "perturbed.onnx", digits.test, atol=0, rtol=0)
    # The same file is fine at a realistic tolerance: the check measures, it does not guess.
    assert check_parity(
        cnn, tmp_path / "perturbed.onnx", digits.test, atol=0.1, min_top1_agreement=0.9
    ).passed


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"atol": -1.0}, r"atol: expected a tolerance >= 0; got -1.0"),
        ({"min_top1_agreement": 1.5}, r"min_top1_agreement: expected a fraction in \[0, 1\]; got 1.5"),
    ],
)
def test_invalid_tolerances_are_refused(exported, cnn, digits, kwargs, message):
    out, _ = exported
    with pytest.raises(InvalidSpecError, match=message):
        check_parity(cnn, out / "model.onnx", digits.test, **kwargs)
