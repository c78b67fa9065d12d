"""Small validators builders use on their parameters; errors name the parameter.

A builder raises :class:`ParamError` with the bare parameter name; :func:`autoopt.models.build_model`
prefixes it with the spec key (``model.params.width: ...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autoopt.exceptions import InvalidSpecError

__all__ = ["ParamError", "check_choice", "check_int", "check_float", "per_layer"]


class ParamError(InvalidSpecError):
    """A builder parameter has a wrong value.

    Args:
        param: the parameter's name.
        message: what was expected and what was got.
    """

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        self.detail = message
        super().__init__(f"{param}: {message}")


def check_choice(param: str, value: Any, options: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``options``, else raise :class:`ParamError`."""
    if value not in options:
        raise ParamError(param, f"expected one of: {', '.join(options)}; got {value!r}")
    return str(value)


def check_int(param: str, value: Any, *, low: int = 0) -> int:
    """Return ``value`` if it is an int ``>= low`` (bools refused), else raise :class:`ParamError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ParamError(param, f"expected an integer >= {low}; got {value!r}")
    return value


def check_float(param: str, value: Any, *, low: float = 0.0, high: float = float("inf")) -> float:
    """Return ``value`` as a float if ``low <= value < high``, else raise :class:`ParamError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < high:
        raise ParamError(param, f"expected a number in [{low}, {high}); got {value!r}")
    return float(value)


def per_layer(param: str, value: Any, n: int, *, double: bool = False, low: int = 1) -> list[int]:
    """Expand an int or a list into ``n`` per-layer integers.

    Args:
        param: the parameter's name, for messages.
        value: an int (repeated, or doubled each layer when ``double``) or a list of ``n`` ints.
        n: the number of layers.
        double: double an int value at each layer (``16 -> [16, 32, 64]``).
        low: the smallest allowed value.
    """
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ParamError(param, f"expected {n} values (one per layer); got {len(value)}: {list(value)}")
        return [check_int(param, v, low=low) for v in value]
    base = check_int(param, value, low=low)
    return [base * 2**i if double else base for i in range(n)]
