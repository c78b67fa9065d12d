"""``autoopt serve MODEL_DIR``: serve an exported model over HTTP (ONNX Runtime, FastAPI, uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from autoopt.cli._output import error
from autoopt.exceptions import AutoOptError

__all__ = ["register", "serve_cmd"]

_DEFAULT_MAX_REQUEST_MB = 10.0
_DEFAULT_MAX_BATCH = 64


def serve_cmd(
    model_dir: Annotated[
        Path, typer.Argument(help="Model directory: model.json + model.onnx (from export).")
    ],
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless told otherwise.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    threads: Annotated[Optional[int], typer.Option(help="ONNX Runtime intra-op threads.")] = None,  # noqa: UP045
    max_request_mb: Annotated[float, typer.Option(help="Largest request body in MiB (413 above).")] = (
        _DEFAULT_MAX_REQUEST_MB
    ),
    max_batch: Annotated[int, typer.Option(help="Most samples per /predict request (422 above).")] = (
        _DEFAULT_MAX_BATCH
    ),
) -> None:
    """Serve a model over HTTP: POST /predict, POST /predict/image, GET /health, GET /metadata."""
    from autoopt.serve import serve  # lazily: the other commands need no web stack

    try:
        serve(
            model_dir,
            host=host,
            port=port,
            threads=threads,
            max_request_bytes=int(max_request_mb * 2**20),
            max_batch=max_batch,
        )
    except AutoOptError as exc:
        error(str(exc))
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the ``autoopt`` CLI."""
    app.command("serve")(serve_cmd)
