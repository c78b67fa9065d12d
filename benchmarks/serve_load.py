"""Load test of ``autoopt serve`` over loopback: requests/s and p50/p99 latency at several concurrencies.

Starts the server as a subprocess on 127.0.0.1 (a free port), sends bounded numbers of ``POST /predict``
requests from client threads (one keep-alive ``httpx.Client`` each), and compares with calling the ONNX
Runtime session in-process from as many threads (the limit HTTP serving can approach). Stops by itself:
each level ends after ``--requests`` requests or ``--seconds`` seconds, whichever comes first.

    python benchmarks/serve_load.py                       # builds a small digits model dir
    python benchmarks/serve_load.py --model-dir runs/x/final --concurrency 1 8 32 --batch 1

Client and server share the machine's cores, so on a small machine the client's own CPU use counts against
the server's throughput; the in-process column is measured alone.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(model_dir: Path, port: int, threads: int | None, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "autoopt.serve", str(model_dir), "--port", str(port)]
    if threads:
        cmd += ["--threads", str(threads)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not become healthy within 60 s")


def _run_level(worker, concurrency: int, requests: int, seconds: float) -> dict[str, float]:
    """Run ``worker(stop) -> (latencies, errors)`` in ``concurrency`` threads for a bounded amount of work."""
    lock, count = threading.Lock(), [0]
    deadline = time.monotonic() + seconds
    results: list[tuple[list[float], int]] = []

    def take() -> bool:
        with lock:
            if count[0] >= requests or time.monotonic() > deadline:
                return False
            count[0] += 1
            return True

    threads = [threading.Thread(target=lambda: results.append(worker(take))) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    latencies = np.array([x for lat, _ in results for x in lat]) * 1000.0
    errors = sum(e for _, e in results)
    return {
        "requests": float(len(latencies) + errors),
        "rps": (len(latencies) + errors) / wall,
        "p50_ms": float(np.percentile(latencies, 50)) if len(latencies) else float("nan"),
        "p99_ms": float(np.percentile(latencies, 99)) if len(latencies) else float("nan"),
        "errors": float(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir", type=Path, help="served model directory (default: a small digits model)"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=2000, help="requests per concurrency level at most")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per concurrency level at most")
    parser.add_argument("--batch", type=int, default=1, help="samples per request")
    parser.add_argument(
        "--threads", type=int, default=None, help="ONNX Runtime intra-op threads (both sides)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="serve_load_")
    model_dir = args.model_dir
    if model_dir is None:
        from autoopt.serve._demo import write_digits_model_dir

        model_dir = write_digits_model_dir(Path(tmp.name) / "model")
    port = _free_port()
    log = Path(tmp.name) / "server.log"
    proc = _start(model_dir, port, args.threads, log)
    url = f"http://127.0.0.1:{port}"
    try:
        meta = httpx.get(f"{url}/metadata").json()
        shape = [d or 8 for d in meta["input"]["shape"][1:]]
        rng = np.random.default_rng(0)
        batch = rng.standard_normal((args.batch, *shape)).astype(np.float32)
        payload = json.dumps({"inputs": batch.tolist()}).encode()
        headers = {"Content-Type": "application/json"}

        def http_worker(take) -> tuple[list[float], int]:
            latencies, errors = [], 0
            with httpx.Client(base_url=url, timeout=30) as client:
                while take():
                    t0 = time.perf_counter()
                    try:
                        ok = client.post("/predict", content=payload, headers=headers).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    if ok:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        errors += 1
            return latencies, errors

        options = ort.SessionOptions()
        if args.threads:
            options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(
            str(model_dir / meta.get("files", {}).get("onnx", "model.onnx")),
            options,
            providers=["CPUExecutionProvider"],
        )
        feed = {session.get_inputs()[0].name: batch}

        def ort_worker(take) -> tuple[list[float], int]:
            latencies = []
            while take():
                t0 = time.perf_counter()
                session.run(None, feed)
                latencies.append(time.perf_counter() - t0)
            return latencies, 0

        _run_level(http_worker, 4, 200, 5)  # warm-up: connections, thread pool, caches
        rows = []
        for c in args.concurrency:
            http = _run_level(http_worker, c, args.requests, args.seconds)
            local = _run_level(ort_worker, c, args.requests * 10, min(args.seconds, 3.0))
            rows.append(
                {"concurrency": c, "http": http, "in_process": local, "ratio": http["rps"] / local["rps"]}
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        tmp.cleanup()

    print(
        f"model: {meta.get('model', {}).get('name', model_dir)}  input {shape}  batch {args.batch}  "
        f"cores {os.cpu_count()}  server exit code {code}"
    )
    print(
        "| concurrency | HTTP req/s | p50 ms | p99 ms | errors | in-process ORT req/s | p50 ms "
        "| HTTP / in-process |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        h, o = r["http"], r["in_process"]
        print(
            f"| {r['concurrency']} | {h['rps']:.0f} | {h['p50_ms']:.2f} | {h['p99_ms']:.2f} "
            f"| {h['errors']:.0f} "
            f"| {o['rps']:.0f} | {o['p50_ms']:.3f} | {r['ratio']:.3f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if any(r["http"]["errors"] for r in rows):
        raise SystemExit("errors during the load test")


if __name__ == "__main__":
    main()
