"""Opening study storages: SQLite (the embedded default), any SQLAlchemy URL, or an Optuna journal file."""

from __future__ import annotations

import re
import sqlite3
import warnings
from pathlib import Path

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, InMemoryStorage, JournalStorage, RDBStorage

from autoopt.exceptions import StorageError

__all__ = ["open_storage", "redact_url", "storage_url_for"]

_JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")


def redact_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", str(url))


def storage_url_for(storage: str | Path) -> str:
    """Normalize a user's storage argument to a URL (paths ending in ``.db`` become SQLite URLs)."""
    s = str(storage)
    if "://" in s or s.startswith("journal:"):
        return s
    if s.endswith(_JOURNAL_SUFFIXES):
        return f"journal:{s}"
    return f"sqlite:///{Path(s).resolve()}"


def open_storage(
    storage: str | Path | BaseStorage | None, *, heartbeat_interval: int | None = None
) -> BaseStorage:
    """Open a study storage.

    Args:
        storage: ``None`` (in memory), a path (``*.db`` -> SQLite, ``*.log``/``*.journal`` -> journal
            file), a SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``), ``journal:PATH``, or an
            already-built Optuna storage.
        heartbeat_interval: seconds between heartbeats of running trials (RDB storages only), so a
            trial whose process died is detected and failed.

    Raises:
        StorageError: the storage cannot be opened; the message names the URL without its password.
    """
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, BaseStorage):
        return storage
    url = storage_url_for(storage)
    shown = redact_url(url)
    try:
        if url.startswith("journal:"):
            path = Path(url[len("journal:") :])
            path.parent.mkdir(parents=True, exist_ok=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                return JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
        engine_kwargs = {}
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///") :])
            if not path.parent.exists():
                raise StorageError(
                    f"storage {shown}: folder {path.parent} does not exist; create it or fix the path"
                )
            _enable_wal(path)
            # Several processes share the file: wait for locks instead of failing at once.
            engine_kwargs = {"connect_args": {"timeout": 60}}
        kwargs = {}
        if heartbeat_interval:
            kwargs = {
                "heartbeat_interval": heartbeat_interval,
                "grace_period": max(3 * heartbeat_interval, 10),
            }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            return RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
    except StorageError:
        raise
    except ModuleNotFoundError as e:
        raise StorageError(
            f"storage {shown}: the database driver is not installed ({e.name}); install it, e.g. "
            "`pip install psycopg2-binary` for PostgreSQL"
        ) from None
    except Exception as e:  # SQLAlchemy/driver errors: connection refused, bad password, bad URL...
        reason = redact_url(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
        raise StorageError(
            f"storage {shown}: cannot be opened ({reason}); check the URL, that the server is running "
            "and the credentials"
        ) from None


def _enable_wal(path: Path) -> None:
    """Write-ahead logging lets readers and one writer work at once (persistent in the file)."""
    con = sqlite3.connect(str(path), timeout=60)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()
