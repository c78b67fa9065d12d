"""``autoopt dashboard RUN_DIR``: optuna-dashboard on a run's study storage, bound to loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from autoopt.cli._output import error
from autoopt.exceptions import AutoOptError, InvalidSpecError

__all__ = ["dashboard_cmd", "register", "run_storage"]

RUN_FILE = "run.json"
STUDY_DB = "study.db"


def run_storage(run_dir: Path, storage: str | None = None) -> str:
    """The storage URL of a run: ``storage`` if given, else the one ``RUN_DIR/run.json`` records, else
    ``RUN_DIR/study.db``.

    Args:
        run_dir: a run directory written by ``autoopt tune`` or ``autoopt run``.
        storage: an explicit storage URL or file (``--storage``).

    Returns:
        A storage URL (``sqlite:///...``, ``postgresql://...``, ``journal:PATH``).

    Raises:
        InvalidSpecError: the run directory or its study file is missing, ``run.json`` is not JSON, or
            it records a URL whose password was redacted (pass ``--storage``).

    Example:
        >>> run_storage(Path("runs/x"), "postgresql://me@db/optuna")  # --storage wins
        'postgresql://me@db/optuna'
    """
    from autoopt.io import path_problem, storage_url_for

    if storage is not None:
        return _existing(storage_url_for(storage), "--storage")
    if not run_dir.is_dir():
        raise InvalidSpecError(f"run directory: {path_problem(run_dir, 'folder')}")
    meta_path = run_dir / RUN_FILE
    if meta_path.is_file():
        try:
            meta: Any = json.loads(meta_path.read_text())
        except ValueError:
            raise InvalidSpecError(f"{meta_path}: not valid JSON; pass --storage URL") from None
        recorded = meta.get("storage") if isinstance(meta, dict) else None
        if recorded:
            if ":***@" in recorded:
                raise InvalidSpecError(
                    f"{meta_path}: the storage URL {recorded} is recorded without its password; "
                    "pass --storage URL"
                )
            return _existing(storage_url_for(recorded), str(meta_path))
    db = run_dir / STUDY_DB
    if not db.is_file():
        raise InvalidSpecError(
            f"{db}: no study here (not an autoopt run directory?); pass --storage URL if it lives elsewhere"
        )
    return storage_url_for(db)


def _existing(url: str, where: str) -> str:
    """``url``, after checking that a file-based storage's file exists (opening would create it)."""
    for prefix in ("sqlite:///", "journal:"):
        if url.startswith(prefix):
            path = Path(url[len(prefix) :])
            if not path.is_file():
                raise InvalidSpecError(f"{where}: the study file {path} does not exist")
    return url


def dashboard_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (holds study.db or run.json).")],
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless told otherwise.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    storage: Annotated[str | None, typer.Option(help="Storage URL or file, if not the run's own.")] = None,
) -> None:
    """Open optuna-dashboard on a run's study (trials, history, importances, Pareto front)."""
    try:
        url = run_storage(run_dir, storage)
        from autoopt.io import open_storage, redact_url

        store = open_storage(url)
    except AutoOptError as exc:
        error(str(exc))
        raise typer.Exit(2) from None
    try:
        from optuna_dashboard import run_server
    except ImportError:
        error("optuna-dashboard is not installed; install it with `pip install optuna-dashboard`")
        raise typer.Exit(2) from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {host}: anyone who can reach it can read and edit the study")
    print(f"optuna-dashboard on {redact_url(url)}: http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
    try:
        run_server(store, host=host, port=port)
    except OSError as exc:  # e.g. the port is taken
        error(f"--port {port}: cannot serve on {host}:{port} ({exc.strerror or exc})")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    """Add the ``dashboard`` command to the ``autoopt`` CLI."""
    app.command("dashboard")(dashboard_cmd)
