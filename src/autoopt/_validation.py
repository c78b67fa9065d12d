"""One formatter for pydantic errors: ``<prefix>.<key>: <problem>; got <value>``, with a hint for typos.

Used by every config model that validates a spec section (``training``, ``compress.*``, ...).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from autoopt.exceptions import InvalidSpecError

__all__ = ["pydantic_messages", "ValidatedConfig"]

_C = TypeVar("_C", bound="ValidatedConfig")

#: the key path errors are named under while :meth:`ValidatedConfig.at` validates (else the class's key).
_PREFIX: ContextVar[str | None] = ContextVar("autoopt_config_prefix", default=None)

_OPS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def pydantic_messages(exc: ValidationError, prefix: str, fields: Iterable[str]) -> list[str]:
    """One line per error of ``exc``, each naming its key under ``prefix``.

    Args:
        exc: the validation error.
        prefix: the spec key of the section (``training``, ``compress.prune``).
        fields: the section's field names, for "did you mean" hints on unknown keys.

    Example:
        >>> from pydantic import BaseModel, ConfigDict, Field
        >>> class C(BaseModel):
        ...     model_config = ConfigDict(extra="forbid")
        ...     lr: float = Field(0.1, gt=0)
        >>> try:
        ...     C(lr=0)
        ... except ValidationError as e:
        ...     pydantic_messages(e, "training", C.model_fields)
        ['training.lr: must be > 0.0; got 0']
    """
    names = sorted(fields)
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        key = f"{prefix}.{loc}" if loc else prefix
        kind, ctx, got = err["type"], err.get("ctx", {}), err.get("input")
        if kind == "extra_forbidden":
            close = difflib.get_close_matches(loc, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            lines.append(f"{key}: unknown field; expected one of: {', '.join(names)}.{hint}")
        elif kind in _OPS:
            lines.append(f"{key}: must be {_OPS[kind]} {next(iter(ctx.values()))}; got {got!r}")
        elif kind == "literal_error":
            lines.append(f"{key}: expected one of: {ctx.get('expected', '')}; got {got!r}")
        elif kind == "value_error":
            msg = str(ctx.get("error", err["msg"]))
            if msg.startswith(f"{prefix}."):
                lines.append(msg)
            elif not loc and ":" in msg:  # a model-level check whose message starts with the field
                field, _, rest = msg.partition(":")
                lines.append(f"{prefix}.{field}:{rest}")
            else:
                lines.append(f"{key}: {msg}")
        else:
            lines.append(f"{key}: {str(err['msg']).lower()}; got {got!r}")
    return lines


class ValidatedConfig(BaseModel):
    """A pydantic model whose errors become one ``InvalidSpecError`` naming every bad key.

    Subclasses set ``key``, the spec key of their section (``nas``, ``compress.prune``).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    #: spec key prefix of the fields.
    key: ClassVar[str] = ""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            prefix = _PREFIX.get() or type(self).key
            raise InvalidSpecError(errors=pydantic_messages(exc, prefix, type(self).model_fields)) from None

    @classmethod
    def at(cls: type[_C], prefix: str, data: Mapping[str, Any] | None = None) -> _C:
        """Validate ``data`` naming every error under ``prefix`` instead of the class's ``key``.

        A config that appears at several places of a spec (a compression step's options) is named
        where it stands: ``compress.steps[0].prune.ratio``, not ``compress.prune.ratio``.
        """
        token = _PREFIX.set(prefix)
        try:
            return cls(**dict(data or {}))
        finally:
            _PREFIX.reset(token)
