"""The shared base of compression configs: pydantic models whose errors name every bad spec key."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from autoopt._validation import pydantic_messages
from autoopt.exceptions import InvalidSpecError

__all__ = ["_Validated"]


class _Validated(BaseModel):
    """A pydantic model whose errors become one ``InvalidSpecError`` naming every bad key."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    #: spec key prefix of the fields, e.g. ``compress.prune``.
    key: ClassVar[str] = "compress"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidSpecError(errors=_messages(exc, type(self))) from None


def _messages(exc: ValidationError, model: type[_Validated]) -> list[str]:
    """One ``<prefix>.<key>: <problem>; got <value>`` line per pydantic error."""
    return pydantic_messages(exc, model.key, model.model_fields)
