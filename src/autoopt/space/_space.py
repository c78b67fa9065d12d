"""A search space: named parameters, parsed from YAML/dicts or built in Python, sampled into plain dicts."""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from optuna.distributions import BaseDistribution
from optuna.trial import BaseTrial

from autoopt.exceptions import InvalidSpaceError
from autoopt.io._files import yaml_problem
from autoopt.space._params import Categorical, Fixed, Float, Int, Param

__all__ = ["Space"]

_TYPES = {"float": Float, "int": Int, "categorical": Categorical, "fixed": Fixed}
_ALLOWED_KEYS = {
    "float": {"type", "low", "high", "log", "step", "when"},
    "int": {"type", "low", "high", "log", "step", "when"},
    "categorical": {"type", "choices", "when"},
    "fixed": {"type", "value", "when"},
}


class Space:
    """An ordered set of parameters. Conditional parameters come after the parameters they depend on.

    Args:
        params: a mapping name -> parameter (``Float``, ``Int``, ``Categorical``, ``Fixed``), or a
            dict in the YAML form (see :meth:`from_dict`).
        key: the spec key path used in error messages.

    Example:
        >>> from autoopt.space import Space, Float, Categorical
        >>> space = Space({"lr": Float(1e-4, 1e-1, log=True),
        ...                "optimizer": Categorical(["sgd", "adam"]),
        ...                "momentum": Float(0.0, 0.99, when={"optimizer": ["sgd"]})})
        >>> sorted(space.names)
        ['lr', 'momentum', 'optimizer']
    """

    def __init__(self, params: Mapping[str, Any] | Iterable[Param], *, key: str = "search.space") -> None:
        if isinstance(params, Mapping) and not all(
            isinstance(v, (Float, Int, Categorical, Fixed)) for v in params.values()
        ):
            parsed = Space.from_dict(params, key=key)
            self._params: dict[str, Param] = dict(parsed._params)
            self.key = key
            return
        items = params.items() if isinstance(params, Mapping) else ((p.name, p) for p in params)
        named = {name: p.with_name(name) for name, p in items}  # type: ignore[misc]
        errors: list[str] = []
        for name, p in named.items():
            errors += [f"{key}.{name}: {msg}" for msg in p.problems()]
        ordered = _order_by_conditions(named, key, errors)
        if errors:
            raise InvalidSpaceError(errors=errors)
        self._params = ordered
        self.key = key

    def prefixed(self, prefix: str) -> Space:
        """The same space with every name (and every ``when:`` parent) starting with ``prefix``.

        Example:
            >>> Space({"depth": {"type": "int", "low": 1, "high": 3}}).prefixed("model.").names
            ['model.depth']
        """
        out = []
        for name, p in self._params.items():
            when = {prefix + k: list(v) for k, v in (p.when or {}).items()} or None
            out.append(dataclasses.replace(p.with_name(prefix + name), when=when))
        return Space(out, key=self.key)

    def merged(self, other: Space) -> Space:
        """One space holding the parameters of both.

        Raises:
            InvalidSpaceError: a name is in both (naming it).
        """
        both = sorted(set(self.names) & set(other.names))
        if both:
            raise InvalidSpaceError(
                errors=[f"{other.key}.{n}: also defined by {self.key}; define it once" for n in both]
            )
        return Space([*self, *other], key=self.key)

    # ---- construction ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, key: str = "search.space") -> Space:
        """Parse the YAML form. Each entry is one of:

        - ``{type: float, low: 1e-4, high: 0.1, log: true}`` (``type`` may be left out when ``low``
          and ``high`` are given: two integers make an ``int``, otherwise ``float``);
        - ``{type: int, low: 1, high: 8, step: 1}``; ``{type: categorical, choices: [a, b]}``;
        - a plain list (categorical choices) or a scalar (a fixed value), or ``{type: fixed, value: v}``;
        - any of the mappings with ``when: {parent: [values...]}`` for a conditional parameter.

        All problems are reported at once, each with its key path.
        """
        if not isinstance(data, Mapping):
            raise InvalidSpaceError(
                f"{key}: expected a mapping of parameter names, got {type(data).__name__}"
            )
        errors: list[str] = []
        params: dict[str, Param] = {}
        for name, spec in data.items():
            path = f"{key}.{name}"
            if not isinstance(name, str) or not name:
                errors.append(f"{key}: parameter names must be non-empty strings, got {name!r}")
                continue
            try:
                p = _parse_param(spec, path, errors)
            except (TypeError, ValueError) as e:  # a value of the wrong type in a field
                errors.append(f"{path}: {e}")
                continue
            if p is None:
                continue
            probs = p.problems()
            errors += [f"{path}: {m}" for m in probs]
            if not probs:
                params[name] = p.with_name(name)  # type: ignore[assignment]
        if errors:
            raise InvalidSpaceError(errors=errors)
        return cls(params, key=key)

    @classmethod
    def from_yaml(cls, source: str | Path, *, key: str = "search.space") -> Space:
        """Read a space from a YAML file (or YAML text). A top-level ``space:`` key is accepted."""
        looks_like_file = isinstance(source, Path) or (
            "\n" not in str(source) and str(source).endswith((".yaml", ".yml"))
        )
        if looks_like_file and not Path(source).is_file():
            what = "is a folder" if Path(source).is_dir() else "does not exist"
            raise InvalidSpaceError(f"space file {str(source)!r} {what}; expected a YAML file")
        text = Path(source).read_text() if _is_path(source) else str(source)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InvalidSpaceError(f"{source}: not valid YAML at {yaml_problem(e)}") from None
        if isinstance(data, Mapping) and set(data) == {"space"}:
            data = data["space"]
        if data is None:
            data = {}
        return cls.from_dict(data, key=key)

    # ---- views ----------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self._params)

    def __iter__(self) -> Iterator[Param]:
        return iter(self._params.values())

    def __len__(self) -> int:
        return len(self._params)

    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __contains__(self, name: object) -> bool:
        return name in self._params

    @property
    def has_conditions(self) -> bool:
        return any(p.condition for p in self)

    def searched(self) -> list[Param]:
        """The parameters a strategy samples (all but fixed ones)."""
        return [p for p in self if not isinstance(p, Fixed)]

    def distributions(self) -> dict[str, BaseDistribution]:
        """Optuna distributions of every searched parameter (conditional ones included)."""
        return {p.name: p.distribution() for p in self.searched()}  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for p in self:
            d = p.to_dict()
            if p.condition:
                d["when"] = {k: list(v) for k, v in p.condition.items()}
            out[p.name] = d
        return out

    # ---- sampling -------------------------------------------------------------------------------
    def sample(self, trial: BaseTrial) -> dict[str, Any]:
        """Suggest every active parameter on an Optuna trial and return a plain dict."""
        return self._resolve(lambda p: _suggest(trial, p))

    def complete(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Add fixed values to ``params`` (e.g. a trial's sampled params), in declaration order."""
        return self._resolve(lambda p: params.get(p.name, _MISSING))

    def _resolve(self, value: Callable[[Param], Any]) -> dict[str, Any]:
        """Walk the parameters in order: each active one takes its fixed value or ``value(p)``
        (left out when that is ``_MISSING``); activity depends on the values taken before it."""
        out: dict[str, Any] = {}
        for p in self:
            if not p.active(out):
                continue
            v = p.value if isinstance(p, Fixed) else value(p)
            if v is not _MISSING:
                out[p.name] = v
        return out

    def grid(self) -> dict[str, list[Any]]:
        """Finite values of each searched parameter, for grid search.

        Raises:
            InvalidSpaceError: a float parameter has no ``step`` (a grid needs finitely many values).
        """
        grid: dict[str, list[Any]] = {}
        errors = []
        for p in self.searched():
            if isinstance(p, Categorical):
                grid[p.name] = list(p.choices)
            elif isinstance(p, Int):
                if p.log:
                    vals, v = [], p.low
                    while v <= p.high:
                        vals.append(v)
                        v *= 2
                    grid[p.name] = vals
                else:
                    grid[p.name] = list(range(p.low, p.high + 1, p.step))
            elif isinstance(p, Float):
                if p.step is None:
                    errors.append(
                        f"{self.key}.{p.name}: grid search needs a finite set of values; give this float "
                        "parameter a 'step' or make it categorical"
                    )
                    continue
                n = int(round((p.high - p.low) / p.step))
                grid[p.name] = [round(p.low + i * p.step, 12) for i in range(n + 1)]
        if errors:
            raise InvalidSpaceError(errors=errors)
        return grid

    def grid_size(self) -> int:
        return int(_prod(len(v) for v in self.grid().values()))

    def __repr__(self) -> str:
        return f"Space({self.to_dict()!r})"


_MISSING = object()


def _suggest(trial: BaseTrial, p: Param) -> Any:
    if isinstance(p, Float):
        return trial.suggest_float(p.name, p.low, p.high, log=p.log, step=p.step)
    if isinstance(p, Int):
        return trial.suggest_int(p.name, p.low, p.high, log=p.log, step=p.step)
    return trial.suggest_categorical(p.name, p.choices)  # type: ignore[union-attr]


def _prod(xs: Iterable[int]) -> int:
    out = 1
    for x in xs:
        out *= x
    return out


def _is_path(source: str | Path) -> bool:
    if isinstance(source, Path):
        return True
    return "\n" not in source and source.endswith((".yaml", ".yml")) and Path(source).exists()


def _parse_param(spec: Any, path: str, errors: list[str]) -> Param | None:
    if isinstance(spec, list):
        return Categorical(spec)
    if not isinstance(spec, Mapping):
        if spec is None or isinstance(spec, (str, int, float, bool)):
            return Fixed(spec)
        errors.append(
            f"{path}: expected a mapping, a list of choices or a fixed value, got {type(spec).__name__}"
        )
        return None
    kind = spec.get("type")
    if kind is None:
        if "choices" in spec:
            kind = "categorical"
        elif "value" in spec:
            kind = "fixed"
        elif "low" in spec and "high" in spec:
            both_int = all(
                isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in ("low", "high")
            )
            kind = "int" if both_int and not isinstance(spec.get("step"), float) else "float"
        else:
            known = set().union(*_ALLOWED_KEYS.values())
            unknown = sorted(str(k) for k in spec if str(k) not in known)
            if unknown:  # a typo ('hihg') hides the type: name the typo, not the missing 'type'
                errors.append(_unknown_keys(path, unknown, known, "parameter"))
            else:
                errors.append(
                    f"{path}: cannot tell the parameter type; give 'type' (one of: {', '.join(_TYPES)})"
                )
            return None
    if kind not in _TYPES:
        errors.append(f"{path}.type: unknown parameter type {kind!r}; expected one of: {', '.join(_TYPES)}")
        return None
    unknown = sorted(set(map(str, spec)) - _ALLOWED_KEYS[kind])
    if unknown:
        errors.append(_unknown_keys(path, unknown, _ALLOWED_KEYS[kind], f"{_article(kind)} {kind} parameter"))
        return None
    when = spec.get("when")
    if when is not None:
        if not isinstance(when, Mapping) or not when:
            errors.append(f"{path}.when: expected a mapping parent -> value(s), got {when!r}")
            return None
        when = {k: (list(v) if isinstance(v, (list, tuple)) else [v]) for k, v in when.items()}
    kw = {k: v for k, v in spec.items() if k not in ("type", "when")}
    missing = {
        "float": ("low", "high"),
        "int": ("low", "high"),
        "categorical": ("choices",),
        "fixed": ("value",),
    }
    absent = [m for m in missing[kind] if m not in kw]
    if absent:
        errors.append(f"{path}: {_article(kind)} {kind} parameter needs {', '.join(map(repr, absent))}")
        return None
    if kind in ("float",) and "step" in kw and kw["step"] is None:
        kw.pop("step")
    return _TYPES[kind](**kw, when=when)  # type: ignore[no-any-return]


def _order_by_conditions(params: dict[str, Param], key: str, errors: list[str]) -> dict[str, Param]:
    """Order parameters so that each comes after the parameters its condition reads (stable)."""
    for name, p in params.items():
        for parent, allowed in p.condition.items():
            if parent not in params:
                errors.append(f"{key}.{name}.when: depends on unknown parameter {parent!r}")
            elif parent == name:
                errors.append(f"{key}.{name}.when: a parameter cannot depend on itself")
            else:
                par = params[parent]
                if isinstance(par, Categorical):
                    bad = [v for v in allowed if v not in par.choices]
                    if bad:
                        errors.append(
                            f"{key}.{name}.when.{parent}: value(s) {bad} are not among {parent!r}'s "
                            f"choices {list(par.choices)}"
                        )
                elif not isinstance(par, (Fixed, Int)):
                    errors.append(
                        f"{key}.{name}.when.{parent}: conditions must read a categorical, int or fixed "
                        f"parameter; {parent!r} is a float"
                    )
    if errors:
        return params
    ordered: dict[str, Param] = {}
    pending = dict(params)
    for _ in itertools.count():
        ready = [n for n, p in pending.items() if all(q in ordered for q in p.condition)]
        if not ready:
            break
        for n in ready:
            ordered[n] = pending.pop(n)
        if not pending:
            break
    if pending:
        errors.append(f"{key}: conditions form a cycle among {sorted(pending)}")
    return ordered


def _unknown_keys(path: str, unknown: list[str], allowed: set[str], what: str) -> str:
    close = [m for u in unknown for m in difflib.get_close_matches(u, sorted(allowed), n=1)]
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return (
        f"{path}: unknown key(s) {', '.join(map(repr, unknown))} for {what}; "
        f"expected: {', '.join(sorted(allowed))}.{hint}"
    )


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
