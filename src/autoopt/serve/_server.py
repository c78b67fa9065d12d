"""Run the app with uvicorn: loopback by default, graceful shutdown on SIGTERM/SIGINT (exit code 0)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import uvicorn

from autoopt.exceptions import InvalidSpecError
from autoopt.serve._app import DEFAULT_MAX_BATCH, DEFAULT_MAX_REQUEST_BYTES, create_app
from autoopt.serve._logging import LOGGER_NAME, configure_logging

__all__ = ["serve"]


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Stands in for the default handlers while uvicorn runs (see :func:`serve`)."""


def serve(
    model_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    threads: int | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    log_level: str = "info",
    graceful_timeout_s: int = 30,
) -> None:
    """Serve a model directory over HTTP until SIGTERM or SIGINT (Ctrl-C).

    The model is loaded before the port is bound, so a bad directory fails fast. On a signal the
    server stops accepting connections, finishes in-flight requests (up to ``graceful_timeout_s``)
    and returns normally.

    Args:
        model_dir: a directory with ``model.json`` and the ONNX model it names.
        host: the address to bind; the loopback interface unless told otherwise (``0.0.0.0``
            exposes the server to the network).
        port: the TCP port.
        threads: ONNX Runtime intra-op threads; ``None`` lets it choose.
        max_request_bytes: the largest request body accepted (413 above it).
        max_batch: the most samples per ``/predict`` request (422 above it).
        log_level: uvicorn's and the request log's level.
        graceful_timeout_s: how long in-flight requests may take to finish on shutdown.

    Raises:
        InvalidSpecError: a missing or malformed model directory, invalid limits, or an address that
            cannot be bound (a port in use).

    Example:
        >>> serve("runs/digits/final", port=8000)  # doctest: +SKIP
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidSpecError(f"port: expected a TCP port from 1 to 65535 (0: any free port), got {port!r}")
    app = create_app(model_dir, max_request_bytes=max_request_bytes, max_batch=max_batch, threads=threads)
    configure_logging(log_level.upper())
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,  # our middleware logs one line per request, with latency
        log_level=log_level,
        timeout_graceful_shutdown=graceful_timeout_s,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal it caught once it has shut down, which would end the process with
    # -SIGTERM (or KeyboardInterrupt) after a clean shutdown. A no-op handler absorbs it: exit code 0.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    except SystemExit:  # uvicorn's answer to a failed startup, e.g. a port in use (it logged why)
        if server.started:
            raise
        raise InvalidSpecError(
            f"host/port: expected an address this process can bind, got {host}:{port} (see the error above)"
        ) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logging.getLogger(LOGGER_NAME).info("server stopped")
