"""An INT8 model dir (what `autoopt run` ships when INT8 wins) is served and evaluated via its ONNX file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autoopt.compress.quantize import quantize_onnx
from autoopt.data import load_data
from autoopt.evaluate import evaluate_artifact
from autoopt.export import model_dir_for_onnx

from .conftest import start_server


@pytest.fixture(scope="module")
def int8_dir(model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("int8")
    data = load_data({"name": "digits"})
    q = quantize_onnx(
        model_dir / "model.onnx", tmp / "q.onnx", data, {"mode": "static", "sensitivity": False}
    )
    card = json.loads((model_dir / "model.json").read_text())
    out = tmp / "model"
    model_dir_for_onnx(
        q.path, data, out, metrics={}, model={"name": "linear", "config": None, "precision": "int8"}
    )
    # The served preprocessing is the fp32 model's (the INT8 file takes the same input).
    written = json.loads((out / "model.json").read_text())
    written["preprocessing"] = card["preprocessing"]
    (out / "model.json").write_text(json.dumps(written))
    return out, card


def test_the_int8_model_dir_is_served(int8_dir, digits, tmp_path):
    out, card = int8_dir
    files = json.loads((out / "model.json").read_text())["files"]
    assert files == {"onnx": "model.onnx"}
    pre = card["preprocessing"]
    x = ((digits[0][:16, None] / pre["pixel_scale"]) - np.array(pre["mean"])[:, None, None]) / np.array(
        pre["std"]
    )[:, None, None]
    server = start_server(out, tmp_path / "log.txt")
    try:
        with server.client() as c:
            r = c.post("/predict", json={"inputs": x.astype(np.float32).tolist()})
            assert r.status_code == 200, r.text
            hits = sum(
                p["index"] == int(t) for p, t in zip(r.json()["predictions"], digits[1][:16], strict=True)
            )
            assert hits >= 13  # the quantized linear model still reads most digits
            assert c.get("/metadata").json()["model"]["precision"] == "int8"
            assert c.post("/predict", json={"inputs": [[1, 2]]}).status_code == 422
    finally:
        server.stop()


def test_a_model_dir_without_builder_config_is_evaluated_through_its_onnx(int8_dir):
    out, _ = int8_dir
    data = load_data({"name": "digits"})
    direct = evaluate_artifact(out / "model.onnx", data)
    via_dir = evaluate_artifact(out, data)
    assert via_dir["accuracy"] == direct["accuracy"] and via_dir["accuracy"] > 0.8
