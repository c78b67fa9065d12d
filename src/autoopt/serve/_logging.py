"""One log line per request: method, path, status, latency in ms (no query strings, headers or bodies)."""

from __future__ import annotations

import logging
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LOGGER_NAME", "RequestLogMiddleware", "configure_logging"]

LOGGER_NAME = "autoopt.serve"
logger = logging.getLogger(LOGGER_NAME)


class RequestLogMiddleware:
    """Log ``METHOD /path STATUS 1.23 ms`` at INFO once each HTTP request is answered.

    The query string is left out on purpose: it may carry tokens.

    Args:
        app: the ASGI app whose requests are logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client sees when the app fails before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            ms = (time.perf_counter() - start) * 1000.0
            logger.info("%s %s %d %.2f ms", scope["method"], scope["path"], status, ms)


def configure_logging(level: int | str = logging.INFO) -> None:
    """Send ``autoopt.serve`` logs to stderr with a timestamp, unless the application set up handlers."""
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
