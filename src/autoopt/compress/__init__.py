"""Compression stages: pruning (:mod:`autoopt.compress.prune`); quantization and the plan come later.

Example:
    >>> from autoopt.compress import CompressionError
    >>> issubclass(CompressionError, RuntimeError)
    True
"""

from __future__ import annotations

from autoopt.compress.prune import CompressionError

__all__ = ["CompressionError"]
