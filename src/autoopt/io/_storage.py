"""Opening study storages: SQLite (the embedded default), any SQLAlchemy URL, or an Optuna journal file."""

from __future__ import annotations

import re
import sqlite3
import time
import warnings
from pathlib import Path

from optuna.exceptions import ExperimentalWarning
from optuna.storages import (
    BaseStorage,
    InMemoryStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)
from optuna.storages.journal import JournalFileBackend

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
    storage: str | Path | BaseStorage | None,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retries: int | None = 2,
) -> BaseStorage:
    """Open a study storage.

    Args:
        storage: ``None`` (in memory), a path (``*.db`` -> SQLite, ``*.log``/``*.journal`` -> journal
            file), a SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``), ``journal:PATH``, or an
            already-built Optuna storage.
        heartbeat_interval: seconds between heartbeats of running trials (RDB storages only), so a
            trial whose process died is detected and failed.
        grace_period: seconds without a heartbeat after which a running trial counts as dead
            (default ``3 * heartbeat_interval``, at least 10).
        max_retries: a trial failed because its worker died is queued again (same parameters, its
            lineage in the system attrs ``failed_trial``/``retry_history``) up to this many times.

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
                return JournalStorage(JournalFileBackend(str(path)))
        engine_kwargs: dict[str, object] = {"pool_pre_ping": True}  # a restarted server: reconnect
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///") :])
            if not path.parent.exists():
                raise StorageError(
                    f"storage {shown}: folder {path.parent} does not exist; create it or fix the path"
                )
            _enable_wal(path)
            # Several processes share the file: wait for locks instead of failing at once.
            engine_kwargs = {"connect_args": {"timeout": 60}}
        kwargs: dict[str, object] = {}
        if heartbeat_interval:
            kwargs = {
                "heartbeat_interval": heartbeat_interval,
                "grace_period": grace_period or max(3 * heartbeat_interval, 10),
                "heartbeat_stale_trial_callback": _retry_callback(max_retries),
            }
        return _rdb_storage(url, engine_kwargs, kwargs)
    except StorageError:
        raise
    except ImportError as e:  # RDBStorage wraps the driver's ModuleNotFoundError
        missing = getattr(e, "name", None) or getattr(e.__cause__, "name", None) or "unknown"
        raise StorageError(
            f"storage {shown}: the database driver is not installed ({missing}); {_driver_fix(url)}"
        ) from None
    except Exception as e:  # SQLAlchemy/driver errors: connection refused, bad password, bad URL...
        raise StorageError(f"storage {shown}: cannot be opened ({_reason(e)}); {_fix(e, url)}") from None


# What the slower of two processes creating one new database's schema sees (SQLite, PostgreSQL).
_SCHEMA_RACE = (
    "already exists",
    "UNIQUE constraint failed: alembic_version",
    "duplicate key value",
    "database is locked",
)


def _rdb_storage(url: str, engine_kwargs: dict[str, object], kwargs: dict[str, object]) -> RDBStorage:
    """``RDBStorage``, retried while another process is creating the same new database's tables.

    Two processes opening a brand-new database at once (a worker and ``autoopt show``, two workers)
    both run the schema creation; the slower one fails (``table ... already exists``, a duplicate
    ``alembic_version`` row). The tables
    are then there, so opening again succeeds.
    """
    for attempt in range(6):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                return RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)  # type: ignore[arg-type]
        except Exception as e:
            text = str(getattr(e, "orig", None) or e)
            if not any(m in text for m in _SCHEMA_RACE) or attempt == 5:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _retry_callback(max_retries: int | None) -> RetryHeartbeatStaleTrialCallback:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=max_retries, inherit_intermediate_values=True)


_DRIVERS = {
    "postgresql": "`pip install 'autoopt[postgres]'` (psycopg) and use a postgresql+psycopg:// URL",
    "mysql": "`pip install pymysql` and use a mysql+pymysql:// URL (or `pip install mysqlclient`)",
    "mariadb": "`pip install pymysql` and use a mariadb+pymysql:// URL",
    "mssql": "`pip install pyodbc` (and the ODBC driver) for SQL Server",
    "oracle": "`pip install oracledb` and use an oracle+oracledb:// URL",
}


def _driver_fix(url: str) -> str:
    """How to install the driver of ``url``'s database (the SQLAlchemy dialect before ``+``/``:``)."""
    dialect = url.split(":", 1)[0].split("+", 1)[0].lower()
    fix = _DRIVERS.get(dialect)
    if fix is None:
        return f"install the SQLAlchemy driver of {dialect!r} (see SQLAlchemy's dialect list)"
    return f"install it: {fix}"


def _reason(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e).strip()
    return redact_url(text.splitlines()[0].strip() if text else type(e).__name__)


def _fix(e: BaseException, url: str = "") -> str:
    """The likely fix for a storage that cannot be opened, from the driver's message."""
    text = str(e).lower()
    postgres = url.startswith("postgres")
    if "can't load plugin" in text:
        return (
            "unknown kind of database; expected a SQLAlchemy URL (postgresql+psycopg://, "
            "mysql+pymysql://, sqlite:///PATH) or a file path (study.db, study.log)"
        )
    if "password authentication failed" in text or "authentication failed" in text:
        return "fix the user name or password in the URL (or set PGPASSWORD / ~/.pgpass)"
    if "does not exist" in text and "database" in text:
        return "create the database first (createdb NAME) or fix its name in the URL"
    if "connection refused" in text or "could not connect" in text or "timeout" in text:
        local = " (a local PostgreSQL for trying it: python -m autoopt.testing.postgres start)"
        return "start the database server or fix host and port in the URL" + (local if postgres else "")
    return "check the URL, that the server is running and the credentials"


def _enable_wal(path: Path) -> None:
    """Write-ahead logging lets readers and one writer work at once (persistent in the file)."""
    for attempt in range(10):
        con = sqlite3.connect(str(path), timeout=60)
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return  # set once, kept in the file
            con.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            # Switching the mode needs the file alone; another process opening it at the same moment
            # makes SQLite answer "locked" at once, without waiting.
            if "locked" not in str(e) or attempt == 9:
                raise
            time.sleep(0.1 * (attempt + 1))
        finally:
            con.close()
