"""Request body size limit: 413 with the limit in the message, before the body is read when possible."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware", "BodyTooLarge"]


def _mb(n: int) -> str:
    return f"{n / 2**20:.3g} MiB" if n >= 2**20 else f"{n} bytes"


class BodyTooLarge(HTTPException):
    """The request body is larger than the server accepts (answered with 413)."""

    def __init__(self, limit: int, got: int | None) -> None:
        got_text = f"{_mb(got)}" if got is not None else f"more than {_mb(limit)}"
        super().__init__(
            status_code=413,
            detail=f"request body: expected at most {_mb(limit)}, got {got_text}; "
            "send fewer samples per request (or start the server with a larger --max-request-mb)",
        )


class BodyLimitMiddleware:
    """Reject bodies over ``max_bytes``: by ``Content-Length`` up front, else while streaming them in.

    Args:
        app: the ASGI app to guard.
        max_bytes: the largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = None
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
        if length is not None and length > self.max_bytes:
            await _reply(send, BodyTooLarge(self.max_bytes, length))
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI passes it on to the app's handler (413, JSON body).
                    raise BodyTooLarge(self.max_bytes, None)
            return message

        await self.app(scope, limited_receive, send)


async def _reply(send: Send, error: BodyTooLarge) -> None:
    body = json.dumps({"detail": error.detail, "errors": [error.detail]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
