"""A real server in a subprocess, a demo model directory and a PNG encoder for the serving tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from autoopt.serve._demo import write_digits_model_dir, write_digits_regression_dir

MAX_REQUEST_MB = 0.0625  # 64 KiB: a few dozen samples fit, a large batch does not
MAX_BATCH = 16
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def png_bytes(image: np.ndarray) -> bytes:
    """Encode a uint8 ``(H, W)`` gray or ``(H, W, 3)`` RGB image as a non-interlaced 8-bit PNG."""
    h, w = image.shape[:2]
    color = 0 if image.ndim == 2 else 2
    rows = image.astype(np.uint8).reshape(h, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class Server:
    """A running ``python -m autoopt.serve`` subprocess."""

    process: subprocess.Popen
    url: str
    port: int
    log: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)  # type: ignore[arg-type]

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait(timeout=timeout)
        return int(self.process.returncode)


def start_server(model_dir: Path, log: Path, *args: str) -> Server:
    """Start the server on a free loopback port and wait until ``/health`` answers."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "autoopt.serve", str(model_dir), "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(process, f"http://127.0.0.1:{port}", port, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server not healthy after {START_TIMEOUT_S} s:\n{server.log_text()}")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_digits_model_dir(tmp_path_factory.mktemp("digits-model"))


@pytest.fixture(scope="session")
def regression_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_digits_regression_dir(tmp_path_factory.mktemp("digits-regression"))


@pytest.fixture(scope="session")
def card(model_dir: Path) -> dict:
    return json.loads((model_dir / "model.json").read_text())


@pytest.fixture(scope="session")
def session(model_dir: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: ``(images (N, 8, 8) with values 0..16, targets)``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images, d.target


@pytest.fixture(scope="session")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    srv = start_server(
        model_dir,
        log,
        "--max-request-mb",
        str(MAX_REQUEST_MB),
        "--max-batch",
        str(MAX_BATCH),
        "--threads",
        "1",
    )
    yield srv
    srv.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c
