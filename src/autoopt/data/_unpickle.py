"""A restricted unpickler for the CIFAR python-version files: numpy arrays, dicts, lists, bytes only.

``pickle.load`` on an untrusted file can run any code (a ``__reduce__`` that calls
``os.system``). CIFAR's pickles only need numpy's array reconstruction, so ``find_class``
admits exactly those globals and refuses every other one before anything is called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from autoopt.exceptions import DataError

__all__ = ["ALLOWED_GLOBALS", "RestrictedUnpickler", "safe_load_pickle"]


def _numpy_globals() -> dict[tuple[str, str], Any]:
    # The reconstruct functions as numpy itself pickles them, whatever its version calls their module.
    reconstruct = np.array(0).__reduce__()[0]
    frombuffer = np.arange(2).__reduce_ex__(5)[0]
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # numpy 1.x writes the first
        allowed[(module, "_reconstruct")] = reconstruct
    for module in ("numpy.core.numeric", "numpy._core.numeric"):  # protocol 5 arrays
        allowed[(module, "_frombuffer")] = frombuffer
    # Python 3 pickles ``bytes`` with protocol 2 as _codecs.encode(str, "latin1"): text -> bytes only.
    allowed[("_codecs", "encode")] = _latin1_encode
    return allowed


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refused _codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


ALLOWED_GLOBALS = _numpy_globals()


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose ``find_class`` admits only :data:`ALLOWED_GLOBALS`.

    Args:
        file: a binary file object.
        **kwargs: passed to :class:`pickle.Unpickler` (e.g. ``encoding="bytes"`` for Python 2 files).
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"global {module}.{name} is not allowed (only numpy arrays, dicts, lists and bytes)"
            ) from None


def safe_load_pickle(path: Path) -> Any:
    """Load a CIFAR-style pickle with :class:`RestrictedUnpickler` (Python 2 strings as ``bytes``).

    Args:
        path: the pickle file.

    Raises:
        DataError: the file refers to a global outside the allowed set (it is refused before any of
            it runs), or it is not a valid pickle.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"data.path: cannot read {str(path)!r}: {exc}") from exc
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"{path}: refused to unpickle: {exc}") from exc
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise DataError(f"{path}: not a valid CIFAR pickle ({type(exc).__name__}: {exc})") from exc
