"""The model registry and the one entry point that builds a model from a name and a params dict.

A builder is a function ``builder(meta, *, param=default, ...) -> nn.Module`` registered with one
decorator line; its keyword-only parameters *are* its accepted params (what the spec validator and
search spaces may set), read with :func:`model_params`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from autoopt._registry import Registry
from autoopt.data import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.models._base import AutoOptModel, as_autoopt_model
from autoopt.models._checks import ParamError

__all__ = [
    "models",
    "build_model",
    "list_models",
    "model_params",
    "check_model_params",
    "register_prefix",
    "REQUIRED",
]

Builder = Callable[..., nn.Module]

#: name -> builder. Besides registered names, :func:`build_model` understands ``tv:<arch>``
#: (the ``torchvision`` builder) and ``package.module:function`` (a user builder).
models: Registry[Builder] = Registry("model")


class _Required:
    def __repr__(self) -> str:
        return "<required>"


#: the value :func:`model_params` gives a parameter that has no default.
REQUIRED: Any = _Required()

TV_PREFIX = "tv:"
#: name prefix -> (builder, the parameter the rest of the name sets): ``tv:<arch>``, ``hf:<dir>``.
_PREFIXES: dict[str, tuple[str, str]] = {TV_PREFIX: ("torchvision", "arch")}


def register_prefix(prefix: str, builder: str, param: str) -> None:
    """Let ``<prefix><value>`` name the registered ``builder`` with ``param=value`` (``hf:<dir>``)."""
    _PREFIXES[prefix] = (builder, param)


def list_models() -> list[str]:
    """Names of the registered builders, sorted (``tv:<arch>`` and import paths are also accepted)."""
    return models.names()


def _name_key(key: str) -> str:
    return key[: -len(".params")] + ".name" if key.endswith(".params") else key


def _import_builder(path: str, key: str) -> Builder:
    module_name, _, attr = path.partition(":")
    where = f"{_name_key(key)}: "
    if not module_name or not attr:
        raise InvalidSpecError(f"{where}expected an import path 'package.module:function'; got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidSpecError(
            f"{where}cannot import module {module_name!r} for model {path!r}: {exc}"
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InvalidSpecError(f"{where}module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InvalidSpecError(f"{where}{path!r} is not callable; expected a function (meta, **params)")
    return obj


def _resolve(name: str, key: str) -> tuple[Builder, dict[str, Any]]:
    """The builder for ``name`` and the params fixed by the name itself (``tv:<arch>`` -> arch)."""
    if isinstance(name, str) and name not in models:
        for prefix, (builder, param) in _PREFIXES.items():
            if name.startswith(prefix):
                return models.get(builder), {param: name[len(prefix) :]}
        if ":" in name:
            return _import_builder(name, key), {}
    return models.get(name, key=_name_key(key)), {}


def _signature_params(fn: Builder) -> tuple[dict[str, Any], bool]:
    """Accepted params (name -> default) of a builder and whether it takes ``**kwargs``."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    out: dict[str, Any] = {}
    var_kw = False
    for i, p in enumerate(params):
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
        elif p.kind is p.VAR_POSITIONAL or (i == 0 and p.kind is not p.KEYWORD_ONLY):
            continue  # the first positional parameter receives ``meta``
        else:
            out[p.name] = REQUIRED if p.default is p.empty else p.default
    return out, var_kw


def model_params(name: str) -> dict[str, Any]:
    """The parameters a model accepts, with their defaults (:data:`REQUIRED` when there is none).

    Example:
        >>> from autoopt.models import model_params
        >>> model_params("mlp")["depth"]
        2

    Args:
        name: a registered name, ``tv:<arch>`` or ``package.module:function`` (which imports it).
    """
    builder, fixed = _resolve(name, "model.params")
    params, _ = _signature_params(builder)
    return {k: v for k, v in params.items() if k not in fixed}


def check_model_params(name: str, params: Mapping[str, Any] | None, *, key: str = "model.params") -> None:
    """Raise :class:`InvalidSpecError` listing every parameter ``name`` does not accept or misses.

    Args:
        name: the model name (as for :func:`build_model`).
        params: the params the spec sets.
        key: the spec key of ``params``, used as the message prefix.
    """
    builder, fixed = _resolve(name, key)
    accepted, var_kw = _signature_params(builder)
    accepted = {k: v for k, v in accepted.items() if k not in fixed}
    given = dict(params or {})
    errors: list[str] = []
    if not var_kw:
        for k in given:
            if k not in accepted:
                errors.append(
                    f"{key}.{k}: unknown parameter for model {name!r}; "
                    f"expected one of: {', '.join(sorted(accepted)) or '(none)'}"
                )
    for k, default in accepted.items():
        if default is REQUIRED and k not in given:
            errors.append(f"{key}.{k}: required parameter of model {name!r} is missing")
    if errors:
        raise InvalidSpecError(errors=errors)


def build_model(
    name: str, params: Mapping[str, Any] | None, meta: DatasetMeta, *, key: str = "model.params"
) -> AutoOptModel:
    """Build a model by name, adapted to ``meta.input_shape`` and ``meta.num_classes``.

    Example:
        >>> from autoopt.data import DatasetMeta
        >>> from autoopt.models import build_model
        >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
        >>> build_model("cnn", {"blocks": 2, "channels": 8}, meta).get_classifier().out_features
        10

    Args:
        name: a registered builder (:func:`list_models`), ``tv:<arch>`` for a torchvision
            architecture, or ``package.module:function``. The import path **imports and runs user
            code on purpose**: only use specs you trust. The function is called as
            ``function(meta, **params)`` and returns an ``nn.Module``; one that is not an
            :class:`AutoOptModel` is wrapped in a :class:`WrappedModel`.
        params: the builder's keyword parameters (see :func:`model_params`).
        meta: the dataset description.
        key: the spec key of ``params``, prefixing error messages.

    Raises:
        UnknownNameError: ``name`` is not a known model; the message lists the valid names.
        InvalidSpecError: a parameter is unknown or has a wrong value; the message names it.
    """
    check_model_params(name, params, key=key)
    builder, fixed = _resolve(name, key)
    try:
        model = builder(meta, **fixed, **dict(params or {}))
    except ParamError as exc:
        raise InvalidSpecError(f"{key}.{exc.param}: {exc.detail} (model {name!r})") from None
    if not isinstance(model, nn.Module):
        raise InvalidSpecError(
            f"{_name_key(key)}: model {name!r} returned {type(model).__name__}; expected an nn.Module"
        )
    return as_autoopt_model(model)
