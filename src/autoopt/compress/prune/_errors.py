"""``CompressionError`` lives in :mod:`autoopt.exceptions`; re-exported here for the prune package."""

from __future__ import annotations

from autoopt.exceptions import CompressionError

__all__ = ["CompressionError"]
