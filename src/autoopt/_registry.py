"""The one registry pattern of autoopt (models, datasets, strategies, schedulers, steps).

Example:
    >>> from autoopt._registry import Registry
    >>> colors = Registry("color")
    >>> @colors.register("red")
    ... def make_red():
    ...     return "#f00"
    >>> colors.get("red")()
    '#f00'
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from autoopt.exceptions import UnknownNameError

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """A name -> object table with a helpful error for unknown names.

    Args:
        kind: what the registry holds, used in messages ("strategy", "model", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._primary: list[str] = []

    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name`` (and optional aliases)."""

        def deco(obj: T) -> T:
            for key in (name, *aliases):
                if key in self._items and self._items[key] is not obj:
                    raise ValueError(f"{self.kind} {key!r} is already registered")
                self._items[key] = obj
            if name not in self._primary:
                self._primary.append(name)
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` without a decorator."""
        return self.register(name)(obj)

    def unregister(self, name: str) -> T:
        """Remove ``name`` and its aliases; return the object it held.

        Raises:
            UnknownNameError: ``name`` is not registered (the message lists the valid names).
        """
        obj = self.get(name)
        for key in [k for k, v in self._items.items() if v is obj]:
            del self._items[key]
        if name in self._primary:
            self._primary.remove(name)
        return obj

    @contextmanager
    def registered(self, name: str, obj: T, *aliases: str) -> Iterator[T]:
        """Register ``obj`` for the duration of a ``with`` block (tests, plug-in trials).

        Example:
            >>> colors = Registry("color")
            >>> with colors.registered("blue", "#00f"):
            ...     colors.get("blue")
            '#00f'
            >>> "blue" in colors
            False
        """
        self.register(name, *aliases)(obj)
        try:
            yield obj
        finally:
            self.unregister(name)

    def get(self, name: str, *, key: str | None = None) -> T:
        """Return the object registered as ``name``.

        Args:
            name: the registered name.
            key: the spec key the name came from, used to prefix the error message.

        Raises:
            UnknownNameError: the name is not registered; the message lists the valid names.
        """
        try:
            return self._items[name]
        except (KeyError, TypeError):
            valid = ", ".join(self.names())
            close = difflib.get_close_matches(str(name), list(self._items), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            where = f"{key}: " if key else ""
            raise UnknownNameError(
                f"{where}unknown {self.kind} {name!r}; expected one of: {valid}.{hint}"
            ) from None

    def names(self) -> list[str]:
        """The registered names (aliases left out), sorted."""
        return sorted(self._primary)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
