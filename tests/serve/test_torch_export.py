"""A model exported by torch.onnx (dynamo, weights in model.onnx.data) serves as the exporter's will."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from .conftest import start_server


@pytest.mark.slow
def test_dynamo_exported_cnn_serves_torch_predictions(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10)).eval()
    x = torch.randn(3, 1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (x,),
            str(tmp_path / "model.onnx"),
            input_names=["input"],
            output_names=["logits"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            dynamo=True,
            external_data=True,
            verbose=False,
        )
    card = {
        "autoopt_version": "0.1.0",
        "task": "classification",
        "class_names": None,
        "input": {"name": "input", "shape": [None, 1, 8, 8], "dtype": "float32"},
        "output": {"name": "logits", "shape": [None, 10]},
        "preprocessing": {
            "mean": [0.0],
            "std": [1.0],
            "pixel_scale": 1.0,
            "image_size": [8, 8],
            "channels": 1,
        },
        "files": {"onnx": "model.onnx"},
        "metrics": {},
        "model": {"name": "cnn", "params": 2610},
    }
    (tmp_path / "model.json").write_text(json.dumps(card))
    with torch.no_grad():
        expected = torch.softmax(model(x), dim=1).numpy()
    server = start_server(tmp_path, tmp_path / "server.log")
    try:
        with server.client() as client:
            r = client.post("/predict", json={"inputs": x.numpy().tolist()})
    finally:
        assert server.stop() == 0
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    np.testing.assert_allclose([p["probabilities"] for p in predictions], expected, atol=1e-5)
    assert [p["label"] for p in predictions] == [str(int(k)) for k in expected.argmax(1)]
