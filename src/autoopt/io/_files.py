"""Files: atomic writes (a reader never sees a half-written file), YAML reads, path checks."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "read_yaml",
    "atomic_write_text",
    "path_problem",
    "writable_dir_problem",
    "write_json",
    "yaml_problem",
    "write_yaml",
]


def path_problem(path: str | Path, want: str = "file") -> str | None:
    """What is wrong with ``path`` as a ``want`` (``"file"`` or ``"folder"``) to read, or ``None``.

    The words say what is there: a folder given for a file is not reported as missing.

    Example:
        >>> path_problem("/")
        "'/' is a folder, expected a file"
    """
    p = Path(path)
    if want == "file" and p.is_file() or want == "folder" and p.is_dir():
        return None
    if p.exists():
        there = "a folder" if p.is_dir() else "a file" if p.is_file() else "not a regular file"
        return f"{str(p)!r} is {there}, expected a {want}"
    parent = next((q for q in p.parents if q.exists()), None)
    if parent is not None and parent.is_file():
        return f"{str(p)!r} does not exist ({str(parent)!r} is a file, not a folder)"
    return f"{str(p)!r} does not exist"


def yaml_problem(exc: Exception) -> str:
    """A YAML parse error in one line: where (line, column) and what (PyYAML's own words)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    what = " ".join(str(x) for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x)
    return f"{where}{what or str(exc).splitlines()[0]}"


def writable_dir_problem(path: str | Path) -> str | None:
    """What stops ``path`` from being used as an output folder (created if needed), or ``None``."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        return f"{str(p)!r} is a file, expected a folder (an output directory)"
    existing = p if p.exists() else next((q for q in p.parents if q.exists()), Path("."))
    if not existing.is_dir():
        return f"cannot create {str(p)!r}: {str(existing)!r} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write to {str(existing)!r} (permission denied); choose another output folder"
    return None


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Write ``path`` through a temp file in the same folder, then ``os.replace`` it into place.

    A reader never sees a half-written file; a crash leaves the old file (or none). The one atomic
    writer: text, JSON, YAML, safetensors and ``torch.save`` files all go through it.

    Args:
        path: the destination file; parent folders are created.
        write: writes the content to the temp path it is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644 & ~_umask())  # mkstemp creates 0600; give run files the usual mode
        os.close(fd)
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # the rename never publishes data still only in the page cache
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""

    def write(tmp: str) -> None:
        Path(tmp).write_bytes(data)

    return atomic_write(path, write)


def read_yaml(path: str | Path, what: str | None = None) -> dict[str, Any]:
    """The mapping in a YAML file an earlier stage wrote (``params.yaml``, ``spec.yaml``).

    Args:
        path: the file.
        what: the key or role to name in errors (default: the path).

    Raises:
        InvalidSpecError: the file cannot be read, is not YAML, or does not hold a mapping.
    """
    from autoopt.exceptions import InvalidSpecError

    where = f"{what}: {path}" if what else str(path)
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise InvalidSpecError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise InvalidSpecError(f"{where}: not valid YAML at {yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise InvalidSpecError(f"{where}: expected a mapping; got {type(data).__name__}")
    return data


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def write_yaml(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, yaml.safe_dump(obj, sort_keys=False))
