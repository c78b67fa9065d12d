"""Files and storages: atomic writes, study storage URLs."""

from autoopt.io._files import atomic_write_bytes, atomic_write_text, write_json, write_yaml
from autoopt.io._storage import open_storage, redact_url, storage_url_for

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "open_storage",
    "redact_url",
    "storage_url_for",
    "write_json",
    "write_yaml",
]
