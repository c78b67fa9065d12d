"""Parameter definitions of a search space: float, int, categorical, fixed; each may be conditional."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

__all__ = ["Float", "Int", "Categorical", "Fixed", "Param", "Condition"]

Scalar = Union[str, int, float, bool, None]

# `when` maps a parent parameter's name to the values for which this parameter exists.
Condition = dict[str, tuple[Any, ...]]


@dataclass(frozen=True)
class _ParamBase:
    name: str = ""
    when: Mapping[str, Sequence[Any]] | None = field(default=None, kw_only=True)

    @property
    def condition(self) -> Condition:
        return {k: tuple(v) for k, v in (self.when or {}).items()}

    def active(self, params: Mapping[str, Any]) -> bool:
        """Whether this parameter exists given the values of the parameters sampled before it."""
        for parent, allowed in self.condition.items():
            if parent not in params or params[parent] not in allowed:
                return False
        return True

    def _set(self, **values: Any) -> None:
        """Assign fields of this frozen dataclass from a custom ``__init__``."""
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def distribution(self) -> BaseDistribution | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def with_name(self, name: str) -> Any:  # the same Param type as self
        import dataclasses

        return dataclasses.replace(self, name=name)


@dataclass(frozen=True)
class Float(_ParamBase):
    """A real-valued parameter in ``[low, high]``, optionally log-scaled or quantized by ``step``.

    Example:
        >>> Float(1e-4, 1e-1, log=True).distribution()
        FloatDistribution(high=0.1, log=True, low=0.0001, step=None)
    """

    low: float = 0.0
    high: float = 1.0
    log: bool = False
    step: float | None = None

    def __init__(
        self,
        low: float,
        high: float,
        *,
        log: bool = False,
        step: float | None = None,
        name: str = "",
        when: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        self._set(name=name, when=when, low=low, high=high, log=log, step=step)

    def problems(self) -> list[str]:
        out: list[str] = []
        for attr in ("low", "high"):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                out.append(f"'{attr}' must be a finite number, got {v!r}")
        if out:
            return out
        if self.low >= self.high:
            out.append(f"'low' ({self.low}) must be below 'high' ({self.high})")
        if self.log and self.low <= 0:
            out.append(f"log scale needs 'low' > 0, got low={self.low}")
        if self.step is not None:
            if isinstance(self.step, bool) or not isinstance(self.step, (int, float)) or self.step <= 0:
                out.append(f"'step' must be a positive number, got {self.step!r}")
            elif self.log:
                out.append("'step' cannot be combined with log scale")
        return out

    def distribution(self) -> FloatDistribution:
        return FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step is not None:
            d["step"] = self.step
        return d


@dataclass(frozen=True)
class Int(_ParamBase):
    """An integer parameter in ``[low, high]`` (both included), with ``step`` or log scale."""

    low: int = 0
    high: int = 1
    log: bool = False
    step: int = 1

    def __init__(
        self,
        low: int,
        high: int,
        *,
        log: bool = False,
        step: int = 1,
        name: str = "",
        when: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        self._set(name=name, when=when, low=low, high=high, log=log, step=step)

    def problems(self) -> list[str]:
        out: list[str] = []
        for attr in ("low", "high", "step"):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, int):
                out.append(f"'{attr}' must be an integer, got {v!r}")
        if out:
            return out
        if self.low >= self.high:
            out.append(f"'low' ({self.low}) must be below 'high' ({self.high})")
        if self.log and self.low <= 0:
            out.append(f"log scale needs 'low' >= 1, got low={self.low}")
        if self.step <= 0:
            out.append(f"'step' must be positive, got {self.step}")
        elif self.log and self.step != 1:
            out.append("'step' cannot be combined with log scale")
        return out

    def distribution(self) -> IntDistribution:
        return IntDistribution(self.low, self.high, log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step != 1:
            d["step"] = self.step
        return d


@dataclass(frozen=True)
class Categorical(_ParamBase):
    """One of a list of choices (strings, numbers, booleans or None)."""

    choices: tuple[Scalar, ...] = ()

    def __init__(
        self, choices: Sequence[Scalar], *, name: str = "", when: Mapping[str, Sequence[Any]] | None = None
    ) -> None:
        self._set(
            name=name, when=when, choices=tuple(choices) if isinstance(choices, (list, tuple)) else choices
        )

    def problems(self) -> list[str]:
        if not isinstance(self.choices, tuple):
            return [f"'choices' must be a list, got {self.choices!r}"]
        if not self.choices:
            return ["'choices' must not be empty"]
        out = []
        for c in self.choices:
            if c is not None and not isinstance(c, (str, int, float, bool)):
                out.append(f"choice {c!r} must be a string, number, boolean or null")
        if len(set(map(repr, self.choices))) != len(self.choices):
            out.append(f"'choices' has duplicates: {list(self.choices)}")
        return out

    def distribution(self) -> CategoricalDistribution:
        return CategoricalDistribution(self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}


@dataclass(frozen=True)
class Fixed(_ParamBase):
    """A constant: part of the resulting params dict, never searched."""

    value: Any = None

    def __init__(
        self, value: Any, *, name: str = "", when: Mapping[str, Sequence[Any]] | None = None
    ) -> None:
        self._set(name=name, when=when, value=value)

    def problems(self) -> list[str]:
        return []

    def distribution(self) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"type": "fixed", "value": self.value}


Param = Union[Float, Int, Categorical, Fixed]
