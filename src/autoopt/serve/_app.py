"""The FastAPI app: ``/predict`` (JSON), ``/predict/image`` (PNG), ``/predict/text`` (raw text, for a
model with a tokenizer), ``/health``, ``/metadata``.

Status codes: 400 the body cannot be parsed (invalid JSON, not a PNG); 413 the body is over the size
limit; 415 a wrong ``Content-Type``; 422 the body parses but its content is invalid (a missing field,
a wrong shape, a value that is not a finite number, too many samples). Every 4xx body is
``{"detail": "<one line>", "errors": ["<each problem>", ...]}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import Body, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from autoopt import __version__
from autoopt.exceptions import DataError, InvalidSpecError
from autoopt.serve._limits import BodyLimitMiddleware
from autoopt.serve._logging import LOGGER_NAME, RequestLogMiddleware
from autoopt.serve._preprocess import preprocess_image, warm_up_decoder
from autoopt.serve._schemas import ErrorResponse, HealthResponse, PredictRequest, PredictResponse
from autoopt.serve._session import LoadedModel, load_model
from autoopt.serve._text import check_texts, tokenize
from autoopt.serve._validate import MAX_REPORTED, InputError, check_batch

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_REQUEST_BYTES", "create_app"]

DEFAULT_MAX_REQUEST_BYTES = 10 * 2**20
DEFAULT_MAX_BATCH = 64

logger = logging.getLogger(LOGGER_NAME)

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "The body cannot be parsed (invalid JSON, not a PNG).",
        413: "The body is over the size limit.",
        415: "Wrong Content-Type.",
        422: "Invalid content: missing field, wrong shape, bad values, too many samples.",
    }.items()
}


class ApiError(HTTPException):
    """A 4xx answer with one line per problem."""

    def __init__(self, status_code: int, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(status_code=status_code, detail=_summary(errors))


def _summary(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else f"{len(errors)} problems; first: {errors[0]}"


def _error_response(status: int, errors: list[str], headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(detail=_summary(errors), errors=errors[:MAX_REPORTED])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _endpoints(app: FastAPI) -> list[str]:
    skip = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    found = []
    for route in app.routes:
        path, methods = getattr(route, "path", None), sorted(getattr(route, "methods", None) or ())
        if path and path not in skip:
            found += [f"{m} {path}" for m in methods if m != "HEAD"]
    return found


def _content_type(expected: str) -> Any:
    """A dependency answering 415 unless the request's media type is ``expected``."""

    async def check(request: Request) -> None:
        got = request.headers.get("content-type")
        media = got.split(";", 1)[0].strip().lower() if got else None
        if media != expected:
            raise ApiError(415, [f"Content-Type: expected {expected}, got {got or 'none'}"])

    return Depends(check)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            e = next(e for e in errors if e.get("type") == "json_invalid")
            reason = (e.get("ctx") or {}).get("error", "JSON decode error")
            return _error_response(
                400, [f"body: expected valid JSON, got an error at position {e['loc'][-1]}: {reason}"]
            )
        lines = []
        for e in errors:
            if e.get("type") == "missing":
                lines.append(f"{_loc(e['loc'])}: required field is missing")
            else:
                lines.append(f"{_loc(e['loc'])}: {e['msg']} (got {type(e.get('input')).__name__})")
        return _error_response(422, lines)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        where = f"{request.method} {request.url.path}"
        if isinstance(exc, ApiError):
            errors = exc.errors
        elif exc.status_code == 404:
            errors = [f"{where}: no such endpoint; expected one of: {', '.join(_endpoints(app))}"]
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            errors = [f"{where}: method not allowed; expected {allowed or 'another method'}"]
        else:
            errors = [str(exc.detail)]
        return _error_response(exc.status_code, errors, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("%s %s failed", request.method, request.url.path)
        return _error_response(
            500, [f"internal error: the model failed on this request ({type(exc).__name__})"]
        )


def _json(content: Any) -> Response:
    return Response(
        json.dumps(content, separators=(",", ":"), allow_nan=False), media_type="application/json"
    )


def _add_routes(app: FastAPI, model: LoadedModel, max_batch: int) -> None:
    # Endpoints are async and send their JSON themselves: one thread-pool hop per request (checks,
    # inference and encoding run there, off the event loop), no re-validation of the response. The
    # response_model still documents the answer in the OpenAPI schema.
    @app.get("/health", response_model=HealthResponse, summary="Liveness and readiness")
    async def health() -> HealthResponse:
        return HealthResponse(status="ok", model_loaded=True, model=model.name)

    @app.get("/metadata", response_model=dict[str, Any], summary="The model card (model.json) as written")
    async def metadata() -> Response:
        return _json(model.raw_card)

    def predict_batch(inputs: Any) -> Response:
        try:
            batch = check_batch(inputs, model.sample_shape, model.dtype, max_batch=max_batch)
        except InputError as exc:
            raise ApiError(422, exc.errors) from None
        return _json({"predictions": model.predictions(batch)})

    @app.post(
        "/predict",
        response_model=PredictResponse,
        responses=_ERRORS,
        summary="Predict a batch of preprocessed samples",
        dependencies=[_content_type("application/json")],
    )
    async def predict(body: PredictRequest) -> Response:
        """Predict ``inputs``: a list of samples of the model's per-sample shape, already preprocessed."""
        return await run_in_threadpool(predict_batch, body.inputs)

    if model.tokenizer is not None:
        _add_text_route(app, model, max_batch)
    pre = model.card.preprocessing
    if not model.is_image_model or pre is None:
        return

    def predict_png(data: bytes) -> Response:
        try:
            batch = preprocess_image(data, pre, model.sample_shape, model.dtype)
        except DataError as exc:
            raise ApiError(400, [f"body: expected a PNG image, but {exc}"]) from None
        except ValueError as exc:
            raise ApiError(422, [str(exc)]) from None
        expected = model.sample_shape
        if any(e is not None and e != g for e, g in zip(expected, batch.shape[1:], strict=True)):
            raise ApiError(
                422, [f"image: preprocessed to shape {list(batch.shape[1:])}, expected {list(expected)}"]
            )
        return _json({"predictions": model.predictions(batch)})

    @app.post(
        "/predict/image",
        response_model=PredictResponse,
        responses=_ERRORS,
        summary="Predict one PNG image (decoded and preprocessed as the model card says)",
        dependencies=[_content_type("image/png")],
    )
    async def predict_image(
        body: Annotated[bytes, Body(media_type="image/png", description="The PNG file's bytes.")],
    ) -> Response:
        """Decode the PNG, convert channels, resize, divide by pixel_scale, normalize; then predict it."""
        return await run_in_threadpool(predict_png, body)


def _add_text_route(app: FastAPI, model: LoadedModel, max_batch: int) -> None:
    def predict_texts(texts: list[str]) -> Response:
        return _json({"predictions": model.predictions(tokenize(model.tokenizer, texts))})

    @app.post(
        "/predict/text",
        response_model=PredictResponse,
        responses=_ERRORS,
        summary="Predict raw texts (tokenized on the server with the model's tokenizer)",
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/json": {"example": {"texts": ["Return the sum of the array elements."]}},
                    "text/plain": {"example": "Return the sum of the array elements."},
                },
                "required": True,
            }
        },
    )
    async def predict_text(request: Request) -> Response:
        """``{"texts": [...]}`` as JSON, or one text as ``text/plain`` (UTF-8)."""
        got = request.headers.get("content-type")
        media = got.split(";", 1)[0].strip().lower() if got else None
        raw = await request.body()
        if media == "text/plain":
            try:
                texts = [raw.decode("utf-8")]
            except UnicodeDecodeError as exc:
                raise ApiError(
                    400, [f"body: expected UTF-8 text, got an invalid byte at position {exc.start}"]
                ) from None
        elif media == "application/json":
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ApiError(400, [f"body: expected valid JSON, got an error: {exc}"]) from None
            try:
                texts = check_texts(body, max_batch=max_batch)
            except InputError as exc:
                raise ApiError(422, exc.errors) from None
        else:
            raise ApiError(
                415, [f"Content-Type: expected application/json or text/plain, got {got or 'none'}"]
            )
        return await run_in_threadpool(predict_texts, texts)


def create_app(
    model_dir: str | Path,
    *,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    threads: int | None = None,
) -> FastAPI:
    """Build the HTTP app serving one exported model with ONNX Runtime (CPU).

    Args:
        model_dir: a directory with ``model.json`` (the model card) and the ONNX model it names.
        max_request_bytes: the largest request body accepted; larger ones get 413.
        max_batch: the most samples one ``/predict`` request may hold; more get 422.
        threads: ONNX Runtime intra-op threads; ``None`` lets it choose.

    Returns:
        The FastAPI app (run it with uvicorn, or use :func:`autoopt.serve.serve`).

    Raises:
        InvalidSpecError: a missing or malformed model directory, or invalid limits.

    Example:
        >>> app = create_app("runs/digits/final")  # doctest: +SKIP
        >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    if max_request_bytes < 1:
        raise InvalidSpecError(
            f"max_request_bytes: expected a positive number of bytes, got {max_request_bytes}"
        )
    if max_batch < 1:
        raise InvalidSpecError(f"max_batch: expected a positive integer, got {max_batch}")
    model = load_model(model_dir, threads=threads)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # After the server has imported what it needs: a concurrent import could contend for module locks.
        if model.is_image_model:
            warm_up_decoder()
        yield

    app = FastAPI(
        lifespan=lifespan,
        title=f"autoopt serve: {model.name}",
        version=__version__,
        description="Predictions of an exported autoopt model (ONNX Runtime). 4xx bodies: {detail, errors}.",
    )
    app.state.model = model
    _install_error_handlers(app)
    _add_routes(app, model, max_batch)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_request_bytes)
    app.add_middleware(RequestLogMiddleware)  # added last: outermost, so it sees every answer
    # Warm the session so the first request is not slower than the rest.
    shape = [d if d is not None else 8 for d in model.sample_shape]
    try:
        model.run(np.zeros([1, *shape], dtype=model.dtype))
    except Exception:  # a dynamic dimension that 8 does not fit is fine; the first request will warm it
        logger.debug("warm-up run skipped", exc_info=True)
    return app
