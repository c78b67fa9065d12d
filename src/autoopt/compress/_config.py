"""The shared base of compression configs: pydantic models whose errors name every bad spec key."""

from __future__ import annotations

import difflib
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

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
    prefix = model.key
    fields = sorted(model.model_fields)
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        key = f"{prefix}.{loc}" if loc else prefix
        kind, ctx, got = err["type"], err.get("ctx", {}), err.get("input")
        if kind == "extra_forbidden":
            close = difflib.get_close_matches(loc, fields, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            lines.append(f"{key}: unknown field; expected one of: {', '.join(fields)}.{hint}")
        elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}.get(kind, "<=")
            lines.append(f"{key}: must be {op} {next(iter(ctx.values()))}; got {got!r}")
        elif kind == "literal_error":
            lines.append(f"{key}: expected one of: {ctx.get('expected', '')}; got {got!r}")
        elif kind == "value_error":
            msg = str(ctx.get("error", err["msg"]))
            lines.append(msg if msg.startswith(f"{prefix}.") else f"{key}: {msg}")
        else:
            lines.append(f"{key}: {str(err['msg']).lower()}; got {got!r}")
    return lines
