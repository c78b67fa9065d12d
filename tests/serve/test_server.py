"""The server over real HTTP: predictions, image upload, malformed requests, metadata, OpenAPI, shutdown."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from autoopt.serve._schemas import ErrorResponse, PredictResponse

from .conftest import MAX_BATCH, Server, png_bytes, start_server


def preprocess(images: np.ndarray, card: dict) -> np.ndarray:
    """Raw digits pixels (N, 8, 8) to model input the way the card says."""
    pre = card["preprocessing"]
    x = images[:, None].astype(np.float64) / pre["pixel_scale"]
    x = (x - np.reshape(pre["mean"], (1, -1, 1, 1))) / np.reshape(pre["std"], (1, -1, 1, 1))
    return x.astype(np.float32)


def offline_probabilities(session, x: np.ndarray) -> np.ndarray:
    logits = session.run(None, {session.get_inputs()[0].name: x})[0].astype(np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def assert_matches(predictions: list[dict], probs: np.ndarray, card: dict) -> None:
    assert len(predictions) == len(probs)
    for pred, p in zip(predictions, probs, strict=True):
        np.testing.assert_allclose(pred["probabilities"], p, rtol=1e-5, atol=1e-6)
        assert pred["index"] == int(p.argmax())
        assert pred["label"] == card["class_names"][pred["index"]]


def good_request(client: httpx.Client, digits, card) -> None:
    x = preprocess(digits[0][:1], card)
    r = client.post("/predict", json={"inputs": x.tolist()})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["index"] == int(digits[1][0])


def test_predict_equals_offline_onnxruntime(client, digits, card, session):
    images, targets = digits
    x = preprocess(images[:MAX_BATCH], card)
    r = client.post("/predict", json={"inputs": x.tolist()})
    assert r.status_code == 200, r.text
    PredictResponse.model_validate(r.json())  # the answer matches the documented schema
    predictions = r.json()["predictions"]
    assert_matches(predictions, offline_probabilities(session, x), card)
    # A fitted model: most of these training digits are right.
    assert np.mean([p["index"] for p in predictions] == targets[:MAX_BATCH]) > 0.8


def test_image_upload_equals_offline_preprocessing(client, digits, card, session):
    images, _ = digits
    for i in range(5):
        r = client.post(
            "/predict/image",
            content=png_bytes(images[i].astype(np.uint8)),
            headers={"Content-Type": "image/png"},
        )
        assert r.status_code == 200, r.text
        assert_matches(
            r.json()["predictions"], offline_probabilities(session, preprocess(images[i : i + 1], card)), card
        )


def test_image_upload_converts_rgb_and_resizes(client, digits, card, session):
    """A 16x16 RGB upload: to gray (BT.601 luma), resized to 8x8 like autoopt.data (bilinear, antialias)."""
    torch = pytest.importorskip("torch")
    gray = np.kron(digits[0][7], np.ones((2, 2))).astype(np.uint8)  # 16x16, values 0..16
    rgb = np.stack([gray, gray, gray], axis=-1)
    r = client.post("/predict/image", content=png_bytes(rgb), headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    small = torch.nn.functional.interpolate(
        torch.from_numpy(gray.astype(np.float64))[None, None],
        size=(8, 8),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )[0].numpy()
    assert_matches(r.json()["predictions"], offline_probabilities(session, preprocess(small, card)), card)


def test_concurrent_requests_all_answered_correctly(server: Server, digits, card, session):
    x = preprocess(digits[0][:32], card)
    expected = offline_probabilities(session, x)

    def one(i: int) -> list[dict]:
        with server.client() as c:
            r = c.post("/predict", json={"inputs": x[i : i + 1].tolist()})
            assert r.status_code == 200, r.text
            return r.json()["predictions"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(32)))
    for i, preds in enumerate(results):
        assert_matches(preds, expected[i : i + 1], card)


ROW = [0.0] * 8


def _sample(value: object = 0.0) -> list:
    return [[[*ROW[:-1], value]] + [ROW] * 7]


def _raw(text: str) -> dict:
    return {"content": text, "headers": {"Content-Type": "application/json"}}


MALFORMED = {
    "wrong shape": (
        {"json": {"inputs": [[0.0] * 64]}},
        422,
        r"inputs\[0\]: expected shape \[1, 8, 8\], got \[64\]",
    ),
    "unbatched sample": (
        {"json": {"inputs": _sample()}},
        422,
        r"expected shape \[1, 8, 8\], got \[8, 8\].*send one sample as \[sample\]",
    ),
    "ragged": ({"json": {"inputs": [[[*ROW]] * 7 + [[0.0] * 7]]}}, 422, r"expected shape|expected 8 items"),
    "string value": (
        {"json": {"inputs": [_sample("abc")]}},
        422,
        r"inputs\[0\]\[0\]\[0\]\[7\]: expected a number, got a string \('abc'\)",
    ),
    "boolean value": (
        {"json": {"inputs": [_sample(True)]}},
        422,
        r"expected a number, got a boolean \(true\)",
    ),
    "null value": ({"json": {"inputs": [_sample(None)]}}, 422, r"expected a number, got null"),
    "NaN": (
        _raw(json.dumps({"inputs": [_sample(float("nan"))]})),
        422,
        r"\[7\]: expected a finite number, got NaN",
    ),
    "Infinity": (
        _raw(json.dumps({"inputs": [_sample(float("-inf"))]})),
        422,
        r"expected a finite number, got -Infinity",
    ),
    "beyond float32": (
        {"json": {"inputs": [_sample(1e300)]}},
        422,
        r"inputs\[0\]: expected numbers within the float32 range",
    ),
    "missing field": ({"json": {"input": [_sample()]}}, 422, r"^inputs: required field is missing$"),
    "inputs not a list": (
        {"json": {"inputs": "abc"}},
        422,
        r"inputs: expected a list of samples, got a string",
    ),
    "body not an object": ({"json": [1, 2]}, 422, r"valid dictionary"),
    "empty batch": ({"json": {"inputs": []}}, 422, r"inputs: expected at least 1 sample, got an empty list"),
    "too many samples": (
        {"json": {"inputs": [_sample()] * (MAX_BATCH + 1)}},
        422,
        rf"inputs: expected at most {MAX_BATCH} samples per request, got {MAX_BATCH + 1}",
    ),
    "invalid JSON": (_raw('{"inputs": [1,'), 400, r"body: expected valid JSON"),
    "too large body": (
        {"json": {"inputs": [[[[0.123456789] * 8] * 8]] * 200}},
        413,
        r"request body: expected at most 64 KiB|expected at most 65536 bytes",
    ),
    "wrong content type": (
        {"content": "inputs=1", "headers": {"Content-Type": "text/plain"}},
        415,
        r"Content-Type: expected application/json, got text/plain",
    ),
    "no content type": (
        {"content": b'{"inputs": []}'},
        415,
        r"Content-Type: expected application/json, got none",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_gets_4xx_with_message_and_server_keeps_serving(case, client, digits, card):
    kwargs, status, pattern = MALFORMED[case]
    r = client.post("/predict", **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"detail", "errors"}
    ErrorResponse.model_validate(body)
    assert re.search(pattern, body["detail"]), body
    good_request(client, digits, card)


def test_too_large_body_without_content_length_is_413(client, digits, card):
    def chunks():
        for _ in range(20):
            yield b" " * 8192  # 160 KiB in all, streamed (chunked transfer encoding)

    r = client.post("/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "request body: expected at most" in r.json()["detail"]
    good_request(client, digits, card)


@pytest.mark.parametrize(
    ("kwargs", "status", "pattern"),
    [
        (
            {"content": b"not a png", "headers": {"Content-Type": "image/png"}},
            400,
            r"expected a PNG image, but .*not a PNG",
        ),
        (
            {"content": png_bytes(np.zeros((8, 8), np.uint8)), "headers": {"Content-Type": "image/jpeg"}},
            415,
            r"Content-Type: expected image/png, got image/jpeg",
        ),
        ({"content": b"", "headers": {"Content-Type": "image/png"}}, 422, r"required field is missing"),
    ],
    ids=["not a png", "wrong content type", "empty body"],
)
def test_bad_image_upload(kwargs, status, pattern, client, digits, card):
    r = client.post("/predict/image", **kwargs)
    assert r.status_code == status, r.text
    assert re.search(pattern, r.json()["detail"]), r.json()
    good_request(client, digits, card)


def test_unknown_path_and_wrong_method_say_what_exists(client):
    r = client.get("/nope")
    assert r.status_code == 404
    assert "POST /predict" in r.json()["detail"] and "GET /health" in r.json()["detail"]
    r = client.get("/predict")
    assert r.status_code == 405
    assert r.json()["detail"] == "GET /predict: method not allowed; expected POST"


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "model_loaded": True, "model": "digits-linear"}


def test_metadata_equals_card(client, card):
    r = client.get("/metadata")
    assert r.status_code == 200
    assert r.json() == card


def test_openapi_lists_endpoints_and_schemas(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/predict", "/predict/image", "/health", "/metadata"} <= set(paths)
    predict = paths["/predict"]["post"]
    assert predict["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PredictRequest")
    assert predict["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PredictResponse"
    )
    for code in ("400", "413", "415", "422"):
        assert predict["responses"][code]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorResponse"
        )
    assert "image/png" in paths["/predict/image"]["post"]["requestBody"]["content"]
    assert paths["/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "$ref"
    ].endswith("/HealthResponse")
    schemas = spec["components"]["schemas"]
    assert {"PredictRequest", "PredictResponse", "ClassPrediction", "ErrorResponse", "HealthResponse"} <= set(
        schemas
    )
    assert schemas["PredictRequest"]["required"] == ["inputs"]
    assert set(schemas["ClassPrediction"]["properties"]) == {"label", "index", "probabilities"}


def test_one_log_line_per_request(server: Server, client):
    client.get("/health", params={"token": "secret-value"})
    time.sleep(0.2)
    log = server.log_text()
    assert re.search(r"autoopt\.serve: GET /health 200 \d+\.\d+ ms", log)
    assert re.search(r"autoopt\.serve: POST /predict 422 \d+\.\d+ ms", log)
    assert "secret-value" not in log


def _listening_addresses(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp) of sockets listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, state = fields[1], fields[3]
            if state == "0A" and int(address.rsplit(":", 1)[1], 16) == port:
                found.append(address.rsplit(":", 1)[0])
    return found


def test_binds_to_loopback_by_default(server: Server):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux's /proc/net/tcp")
    assert _listening_addresses(server.port) == ["0100007F"]  # 127.0.0.1 only


def test_regression_model_serves_values_and_has_no_image_endpoint(regression_dir, tmp_path, digits):
    srv = start_server(regression_dir, tmp_path / "server.log")
    try:
        x = (digits[0][:10].reshape(10, 64) / 16.0).astype(np.float32)
        session = ort.InferenceSession(str(regression_dir / "model.onnx"), providers=["CPUExecutionProvider"])
        expected = session.run(None, {"input": x})[0][:, 0]
        with srv.client() as c:
            r = c.post("/predict", json={"inputs": x.tolist()})
            assert r.status_code == 200, r.text
            np.testing.assert_allclose(r.json()["predictions"], expected, rtol=1e-6)
            PredictResponse.model_validate(r.json())
            r = c.post("/predict", json={"inputs": [[0.0] * 63]})
            assert r.json()["detail"] == "inputs[0]: expected shape [64], got [63]"
            r = c.post("/predict/image", content=b"x", headers={"Content-Type": "image/png"})
            assert r.status_code == 404
            assert "/predict/image" not in c.get("/openapi.json").json()["paths"]
        assert srv.stop() == 0
    finally:
        srv.stop()


def test_sigterm_finishes_in_flight_request_then_exits_0(regression_dir, tmp_path):
    srv = start_server(regression_dir, tmp_path / "server.log")
    body = json.dumps({"inputs": [[0.5] * 64]}).encode()
    half_sent, result = threading.Event(), {}

    def slow_body():
        yield body[: len(body) // 2]
        half_sent.set()
        time.sleep(1.0)  # SIGTERM arrives while the request is in flight
        yield body[len(body) // 2 :]

    def send() -> None:
        with srv.client() as c:
            result["response"] = c.post(
                "/predict", content=slow_body(), headers={"Content-Type": "application/json"}
            )

    thread = threading.Thread(target=send)
    try:
        thread.start()
        assert half_sent.wait(10)
        time.sleep(0.3)  # the server has read the headers: the request is in flight
        start = time.monotonic()
        srv.process.send_signal(signal.SIGTERM)
        thread.join(15)
        assert result["response"].status_code == 200, result["response"].text
        assert srv.process.wait(timeout=10) == 0, srv.log_text()
        assert time.monotonic() - start < 5
        assert "server stopped" in srv.log_text()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{srv.url}/health", timeout=1.0)
    finally:
        srv.stop()
