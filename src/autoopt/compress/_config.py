"""The shared base of compression configs: pydantic models whose errors name every bad spec key."""

from __future__ import annotations

from typing import ClassVar

from autoopt._validation import ValidatedConfig

__all__ = ["_Validated"]


class _Validated(ValidatedConfig):
    """A compression config; its errors are named ``compress.<key>`` (subclasses narrow ``key``)."""

    #: spec key prefix of the fields, e.g. ``compress.prune``.
    key: ClassVar[str] = "compress"
