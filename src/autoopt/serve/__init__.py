"""HTTP serving of an exported model with ONNX Runtime: ``create_app`` (FastAPI) and ``serve`` (uvicorn).

Endpoints: ``POST /predict`` (JSON batch of preprocessed samples), ``POST /predict/image`` (one PNG,
preprocessed as the model card says; image models only), ``GET /health``, ``GET /metadata`` (the card).

Example:
    >>> from autoopt.serve import serve
    >>> serve("runs/digits/final", host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

from autoopt.serve._app import DEFAULT_MAX_BATCH, DEFAULT_MAX_REQUEST_BYTES, create_app
from autoopt.serve._card import ModelCard, load_card
from autoopt.serve._server import serve
from autoopt.serve._session import LoadedModel, load_model

__all__ = [
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_REQUEST_BYTES",
    "LoadedModel",
    "ModelCard",
    "create_app",
    "load_card",
    "load_model",
    "serve",
]
