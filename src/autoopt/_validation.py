"""The one formatter of validation errors: ``<key.path>: <what was expected>; got <value>``.

Every config that validates a spec section (the spec itself, ``data``, ``training``, ``distill``,
``nas``, ``compress.*``, the serving model card) formats its pydantic errors here, so every message
has the same shape and every key the same notation: dots between keys, list indices in brackets
(``compress.steps[0].prune.ratio``, ``search.objectives[1].direction``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from autoopt.exceptions import InvalidSpecError

__all__ = ["key_path", "validation_errors", "ValidatedConfig"]

_C = TypeVar("_C", bound="ValidatedConfig")

#: the key path errors are named under while :meth:`ValidatedConfig.at` validates (else the class's key).
_PREFIX: ContextVar[str | None] = ContextVar("autoopt_config_prefix", default=None)

_OPS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def key_path(prefix: str, loc: Iterable[Any] = ()) -> str:
    """``prefix`` followed by the parts of a pydantic ``loc``: keys joined by dots, indices in brackets.

    Example:
        >>> key_path("compress", ("steps", 0, "prune", "ratio"))
        'compress.steps[0].prune.ratio'
        >>> key_path("", ("objectives", 1))
        'objectives[1]'
    """
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = str(part)
        if text.startswith("function-") or "[" in text or text in _UNION_TAGS:
            continue  # pydantic's name of a validator or of one member of a union, not a key
        out = f"{out}.{text}" if out else text
    return out


# Names pydantic gives the members of a union (``int | None`` -> ``int``) in an error's location.
_UNION_TAGS = frozenset({"int", "float", "str", "bool", "none", "dict", "list", "tuple"})


def _fields_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The keys the section of ``model`` at ``loc`` accepts (``()``: its own fields)."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for c in list(candidates):  # list[Model] and dict[str, Model]: their items' model
            candidates += list(getattr(c, "__args__", ()))
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _got(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)) and len(repr(value)) > 60:
        return f"a list of {len(value)}"
    return repr(value)


def validation_errors(
    exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None
) -> list[str]:
    """One ``<key.path>: <what was expected>; got <value>`` line per error of ``exc``.

    Args:
        exc: the pydantic error.
        prefix: the spec key of the validated section (``training``, ``compress.steps[0].prune``; ``""``
            for the whole spec).
        model: the validated class; an unknown key then lists the keys its section accepts, with a
            "did you mean" hint.

    Example:
        >>> from pydantic import BaseModel, ConfigDict, Field
        >>> class C(BaseModel):
        ...     model_config = ConfigDict(extra="forbid")
        ...     lr: float = Field(0.1, gt=0)
        >>> try:
        ...     C(lr=0)
        ... except ValidationError as e:
        ...     validation_errors(e, "training", C)
        ['training.lr: must be > 0.0; got 0']
    """
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = key_path(prefix, loc) or "spec"
        kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
        if kind == "extra_forbidden":
            names = _fields_at(model, loc[:-1]) if model is not None else []
            close = difflib.get_close_matches(str(loc[-1]), names, n=1)
            line = f"{key}: unknown key" + (f"; expected one of: {', '.join(names)}" if names else "")
            lines.append(line + (f". Did you mean {close[0]!r}?" if close else ""))
        elif kind == "missing":
            lines.append(f"{key}: a value is required; got nothing")
        elif kind in _OPS:
            lines.append(f"{key}: must be {_OPS[kind]} {next(iter(ctx.values()))}; got {_got(got)}")
        elif kind == "literal_error":
            lines.append(f"{key}: expected one of: {ctx.get('expected', '')}; got {_got(got)}")
        elif kind in ("value_error", "assertion_error"):
            msg = str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
            if prefix and msg.startswith(f"{prefix}."):  # the check named the full key itself
                lines.append(msg)
            elif not loc and ":" in msg.partition(" ")[0]:  # a model-level check naming its field
                field, _, rest = msg.partition(":")
                lines.append(f"{key_path(prefix, (field,))}:{rest}")
            else:
                lines.append(f"{key}: {msg}")
        else:
            msg = str(err["msg"])
            msg = "expected " + msg[len("Input should be ") :] if msg.startswith("Input should be ") else msg
            lines.append(f"{key}: {msg[:1].lower()}{msg[1:]}; got {_got(got)}")
    return lines


class ValidatedConfig(BaseModel):
    """A pydantic model whose errors become one ``InvalidSpecError`` naming every bad key.

    Subclasses set ``key``, the spec key of their section (``nas``, ``compress.prune``);
    :meth:`parse` validates the same section found under another key (``compress.steps[0].prune``).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    #: spec key prefix of the fields.
    key: ClassVar[str] = ""

    def __init__(self, **data: Any) -> None:
        where = _PREFIX.get()
        token = _PREFIX.set(None)  # a nested config names its errors under its own key
        try:
            super().__init__(**data)
        except ValidationError as exc:
            key = where if where is not None else type(self).key
            raise InvalidSpecError(errors=validation_errors(exc, key, type(self))) from None
        finally:
            _PREFIX.reset(token)

    @classmethod
    def at(cls: type[_C], prefix: str, data: Mapping[str, Any] | None = None) -> _C:
        """Validate ``data`` naming every error under ``prefix`` instead of the class's ``key``.

        A config that appears at several places of a spec (a compression step's options) is named
        where it stands: ``compress.steps[0].prune.ratio``, not ``compress.prune.ratio``.

        Raises:
            InvalidSpecError: one line per problem.
        """
        if data is not None and not isinstance(data, Mapping):
            raise InvalidSpecError(f"{prefix}: expected a mapping; got {_got(data)}")
        token = _PREFIX.set(prefix)
        try:
            return cls(**dict(data or {}))
        finally:
            _PREFIX.reset(token)
