"""Finding and reading dataset files on disk, with one message for a missing dataset.

autoopt never downloads anything: a dataset that is not on disk is an error that says which
files to put where.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from pathlib import Path

from autoopt.exceptions import DataError

__all__ = ["find_file", "missing_dataset_error", "read_bytes", "require_dir"]


def find_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` or ``folder/stem.gz``, whichever exists (plain first), else ``None``."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


_OTHER_COMPRESSIONS = {
    ".xz": "xz -d",
    ".lzma": "xz -d",
    ".bz2": "bunzip2",
    ".zst": "zstd -d",
    ".zip": "unzip",
    ".7z": "7z x",
    ".Z": "uncompress",
}


def unreadable_compression(folder: Path, stem: str) -> DataError | None:
    """A DataError when ``stem`` is there only in a compression autoopt does not read (gzip it is)."""
    for suffix, command in _OTHER_COMPRESSIONS.items():
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return DataError(
                f"data.path: found {str(path)!r} but it is compressed with {suffix[1:]}, which autoopt does "
                f"not read; decompress it ({command} {path.name}) or gzip it instead"
            )
    return None


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when the name ends in ``.gz``.

    Raises:
        DataError: the file cannot be read or its gzip stream is corrupt or truncated.
    """
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"data.path: cannot read {str(path)!r}: {exc}") from exc


def require_dir(path: Path, dataset: str) -> Path:
    """``path`` when it is a folder; a DataError naming ``data.path`` otherwise."""
    if path.is_file():
        raise DataError(f"data.path: dataset {dataset!r} expects a folder, got the file {str(path)!r}")
    return path


def missing_dataset_error(
    dataset: str,
    folder: Path,
    files: Sequence[str],
    *,
    source_url: str,
    note: str = "",
) -> DataError:
    """A DataError saying which files to put where, and that fetching them needs the network.

    Args:
        dataset: the registry name.
        folder: where the files were looked for.
        files: the file names expected there.
        source_url: where the files can be downloaded from.
        note: an optional extra sentence (e.g. which files are optional).
    """
    listed = ", ".join(files)
    extra = f" {note}" if note else ""
    return DataError(
        f"data.path: dataset {dataset!r} not found: expected the files {listed} in "
        f"{str(folder.resolve())!r}.{extra} Put them there, or set data.path to the folder that holds "
        f"them. autoopt never downloads data; fetching it needs network access (e.g. from {source_url})."
    )
