"""Errors of the NAS stage."""

from __future__ import annotations

from autoopt.exceptions import InvalidSpecError

__all__ = ["InvalidArchitectureError"]


class InvalidArchitectureError(InvalidSpecError):
    """An architecture cannot be built: a missing or wrong decision, or too much downsampling for the input.

    Raised before any tensor is allocated; ``errors`` holds one line per problem, each naming the
    decision (``s4_downsample: ...``).
    """
