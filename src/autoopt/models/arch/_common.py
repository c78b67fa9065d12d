"""Shared helpers of the architecture spaces: the space table, reading decisions, limits, spatial checks."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from autoopt._registry import Registry
from autoopt.data._bundle import DatasetMeta
from autoopt.exceptions import InvalidArchitectureError, InvalidSpecError
from autoopt.space import Fixed, Int, Space

__all__ = [
    "ArchSpace",
    "arch_spaces",
    "Decisions",
    "image_shape",
    "max_halvings",
    "int_param",
    "check_limits",
    "image_builder",
]


@dataclass(frozen=True)
class ArchSpace:
    """One architecture space: how to make its :class:`Space` and how to build a sampled architecture.

    Attributes:
        name: the space's name, also the registered model name (``nas-macro``).
        make_space: ``make_space(meta, **limits) -> Space``.
        build: the registered model builder, ``build(meta, **params) -> AutoOptModel``.
        summary: one line saying what the space holds.
    """

    name: str
    make_space: Callable[..., Space]
    build: Callable[..., nn.Module]
    summary: str


#: name -> :class:`ArchSpace` (aliases without the ``nas-`` prefix).
arch_spaces: Registry[ArchSpace] = Registry("architecture space")


class Decisions:
    """Reads the decisions of one architecture from a params dict, collecting every problem.

    Args:
        params: the sampled (or hand-written) decisions.
        space: the space's name, used in messages.
        patterns: regular expressions of the keys the space may contain; any other key is reported.
    """

    def __init__(self, params: Mapping[str, Any], space: str, patterns: Sequence[str]) -> None:
        self.params = dict(params)
        self.space = space
        self.errors: list[str] = []
        known = [re.compile(p) for p in patterns]
        for key in self.params:
            if not any(p.fullmatch(str(key)) for p in known):
                self.errors.append(f"{key}: not a decision of architecture space {space!r}")

    def _get(self, key: str) -> Any:
        if key not in self.params:
            self.errors.append(f"{key}: missing (architecture space {self.space!r} needs it)")
            return None
        return self.params[key]

    def int(self, key: str, *, low: int = 1, default: int | None = None) -> int | None:
        """An integer ``>= low``; ``default`` when the key is absent and a default is given."""
        value = self.params.get(key, default) if default is not None else self._get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.errors.append(f"{key}: expected an integer >= {low}; got {value!r}")
            return None
        return value

    def choice(self, key: str, options: Sequence[Any], *, default: Any = None) -> Any:
        """One of ``options``; ``default`` when the key is absent and a default is given."""
        value = self.params.get(key, default) if default is not None else self._get(key)
        if value is None:
            return None
        if value not in options or isinstance(value, bool) != isinstance(options[0], bool):
            self.errors.append(f"{key}: expected one of: {', '.join(map(str, options))}; got {value!r}")
            return None
        return value

    def fail(self, message: str) -> None:
        """Record a problem that is not about one key's value."""
        self.errors.append(message)

    def raise_if_any(self) -> None:
        """Raise :class:`InvalidArchitectureError` listing every problem recorded so far."""
        if self.errors:
            raise InvalidArchitectureError(errors=[f"{self.space}: {e}" for e in self.errors])


def image_shape(meta: DatasetMeta, space: str) -> tuple[int, int, int]:
    """``(C, H, W)`` of ``meta``, or :class:`InvalidArchitectureError` saying the space needs images."""
    if len(meta.input_shape) != 3:
        raise InvalidArchitectureError(
            f"{space}: needs image inputs (C, H, W); got input_shape {tuple(meta.input_shape)}. "
            "Use 'nas-mlp' for tables."
        )
    c, h, w = (int(v) for v in meta.input_shape)
    return c, h, w


def image_builder(
    name: str, parse: Callable[[Mapping[str, Any], DatasetMeta], Any], net: Callable[..., nn.Module]
) -> Callable[..., nn.Module]:
    """The model builder of an image architecture space: ``net(parse(params, meta), (C, H, W), outputs)``.

    Args:
        name: the space's (and model's) name, used in messages.
        parse: ``parse(params, meta)`` reads the decisions (raising ``InvalidArchitectureError``).
        net: the network class, ``net(arch, (C, H, W), num_outputs)``.
    """
    from autoopt.models._base import output_dim  # models/_base imports nothing of arch

    def build(meta: DatasetMeta, **params: Any) -> nn.Module:
        c, h, w = image_shape(meta, name)
        return net(parse(params, meta), (c, h, w), output_dim(meta))

    build.__name__ = build.__qualname__ = name.replace("-", "_")
    build.__module__ = net.__module__  # the space's module (``describe`` finds a model's space by it)
    build.__doc__ = (
        f"Build a ``{name}`` architecture from its decisions (a sample of its space); "
        "``meta.input_shape`` must be ``(C, H, W)``. Raises ``InvalidArchitectureError`` when the "
        "decisions do not describe a buildable architecture."
    )
    return build


def max_halvings(side: int) -> int:
    """How many stride-2 steps a side of ``side`` pixels takes before it is 1 (``8 -> 3``, ``32 -> 5``)."""
    n = 0
    while side > 1:
        side = -(-side // 2)
        n += 1
    return n


def int_param(low: int, high: int, when: Mapping[str, Sequence[Any]] | None = None) -> Int | Fixed:
    """``Int(low, high)``, or ``Fixed(low)`` when the range holds one value."""
    return Fixed(low, when=when) if low == high else Int(low, high, when=when)


def check_limits(make_space: Callable[..., Space], space: str, limits: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidSpecError` naming every limit ``make_space`` does not accept."""
    accepted = [p.name for p in inspect.signature(make_space).parameters.values() if p.kind is p.KEYWORD_ONLY]
    unknown = [k for k in limits if k not in accepted]
    if unknown:
        raise InvalidSpecError(
            errors=[
                f"{space}.{k}: unknown limit of architecture space {space!r}; expected one of: "
                f"{', '.join(accepted)}"
                for k in unknown
            ]
        )


def check_range(space: str, name: str, value: Any, low: int, high: int | None = None) -> int:
    """Validate an integer limit in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high and value > high):
        bound = f"in [{low}, {high}]" if high else f">= {low}"
        raise InvalidSpecError(f"{space}.{name}: expected an integer {bound}; got {value!r}")
    return value


def check_options(
    space: str, name: str, values: Any, allowed: Sequence[Any] | None = None
) -> tuple[Any, ...]:
    """Validate a non-empty list limit (of positive ints, or of members of ``allowed``)."""
    values = tuple(values) if isinstance(values, (list, tuple)) else (values,)
    bad = [
        v
        for v in values
        if (allowed is not None and v not in allowed)
        or (allowed is None and (isinstance(v, bool) or not isinstance(v, int) or v < 1))
    ]
    if not values or bad:
        expected = f"members of: {', '.join(map(str, allowed))}" if allowed else "positive integers"
        raise InvalidSpecError(f"{space}.{name}: expected a non-empty list of {expected}; got {list(values)}")
    return values
