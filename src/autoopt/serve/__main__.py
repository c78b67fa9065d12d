"""``python -m autoopt.serve MODEL_DIR [--host H] [--port P] ...``: the server without the ``autoopt`` CLI."""

from __future__ import annotations

import argparse
import sys

from autoopt.exceptions import AutoOptError
from autoopt.serve._app import DEFAULT_MAX_BATCH, DEFAULT_MAX_REQUEST_BYTES
from autoopt.serve._server import serve


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve; an invalid model directory prints one line and returns 2."""
    parser = argparse.ArgumentParser(prog="python -m autoopt.serve", description="Serve an exported model.")
    parser.add_argument("model_dir", help="directory with model.json and model.onnx")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    parser.add_argument(
        "--max-request-mb", type=float, default=DEFAULT_MAX_REQUEST_BYTES / 2**20, help="largest request body"
    )
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH, help="most samples per request")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    try:
        serve(
            args.model_dir,
            host=args.host,
            port=args.port,
            threads=args.threads,
            max_request_bytes=int(args.max_request_mb * 2**20),
            max_batch=args.max_batch,
            log_level=args.log_level,
        )
    except AutoOptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
