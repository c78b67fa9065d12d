"""Files and storages: atomic writes, YAML reads, study storage URLs."""

from autoopt.io._files import (
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
    path_problem,
    read_yaml,
    writable_dir_problem,
    write_json,
    write_yaml,
    yaml_problem,
)
from autoopt.io._storage import open_storage, redact_url, storage_url_for

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "open_storage",
    "path_problem",
    "read_yaml",
    "redact_url",
    "storage_url_for",
    "writable_dir_problem",
    "write_json",
    "write_yaml",
    "yaml_problem",
]
