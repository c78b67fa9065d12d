"""Loading the user's objective from ``path/to/file.py:function`` or ``package.module:function``.

This runs the user's code on purpose: only ever point autoopt at code you trust.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autoopt.exceptions import InvalidSpecError
from autoopt.io import path_problem


def load_callable(target: str, *, key: str = "target") -> Callable[..., Any]:
    if ":" not in target:
        raise InvalidSpecError(
            f"{key}: expected 'path/to/file.py:function' or 'package.module:function', got {target!r}"
        )
    where, _, attr = target.rpartition(":")
    if where.endswith(".py") or "/" in where:
        path = Path(where)
        problem = path_problem(path)
        if problem is not None:
            raise InvalidSpecError(f"{key}: {problem}")
        mod_name = f"autoopt_user_{path.stem}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise InvalidSpecError(f"{key}: cannot import {where!r} as a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        sys.path.insert(0, str(path.resolve().parent))
        try:
            spec.loader.exec_module(module)
        except SyntaxError as e:
            raise InvalidSpecError(f"{key}: {where}, line {e.lineno}: syntax error: {e.msg}") from None
        except Exception as e:  # the user's module failed while importing
            raise InvalidSpecError(f"{key}: importing {where!r} failed: {type(e).__name__}: {e}") from None
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as e:
            raise InvalidSpecError(f"{key}: cannot import module {where!r}: {e}") from None
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        names = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
        raise InvalidSpecError(
            f"{key}: {where!r} has no function {attr!r}; it defines: {', '.join(names) or 'nothing callable'}"
        )
    return fn  # type: ignore[no-any-return]
