"""``autoopt dashboard RUN_DIR``: optuna-dashboard on a run's storage, bound to loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import autoopt
from autoopt.cli._dashboard import register, run_storage
from autoopt.exceptions import InvalidSpecError

pytest.importorskip("optuna_dashboard")

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keeps `dashboard` a subcommand, as in the real CLI
        pass

    return app


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    autoopt.tune(
        lambda p: (p["x"] - 1) ** 2,
        space={"x": {"low": -2.0, "high": 2.0}},
        strategy="random",
        trials=3,
        seed=0,
        storage=str(d / "study.db"),
        study_name="tiny_study",
    )
    return d


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_json(url: str, deadline: float, proc: subprocess.Popen[str]) -> dict:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the dashboard exited with {proc.returncode}:\n{out}\n{err}")
            if time.monotonic() > deadline:
                pytest.fail(f"no answer from {url} within the deadline")
            time.sleep(0.2)


def test_dashboard_serves_the_runs_study(run_dir: Path) -> None:
    port = _free_port()
    code = (
        "from pathlib import Path; from autoopt.cli._dashboard import dashboard_cmd; "
        f"dashboard_cmd(Path({str(run_dir)!r}), port={port})"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        body = _get_json(f"http://127.0.0.1:{port}/api/studies", time.monotonic() + 60, proc)
        names = [s["study_name"] for s in body["study_summaries"]]
        assert names == ["tiny_study"]
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_storage_of_a_run(run_dir: Path, tmp_path: Path) -> None:
    db = (run_dir / "study.db").resolve()
    assert run_storage(run_dir) == f"sqlite:///{db}"
    other = tmp_path / "elsewhere.db"
    other.write_bytes(b"")
    (run_dir / "run.json").write_text(json.dumps({"storage": f"sqlite:///{other}"}))
    assert run_storage(run_dir) == f"sqlite:///{other}"  # run.json wins over study.db
    assert run_storage(run_dir, str(db)) == f"sqlite:///{db}"  # --storage wins over both


def test_redacted_url_asks_for_storage(run_dir: Path) -> None:
    (run_dir / "run.json").write_text(json.dumps({"storage": "postgresql://me:***@db/x"}))
    with pytest.raises(InvalidSpecError, match="without its password; pass --storage"):
        run_storage(run_dir)


def test_missing_run_dir_is_one_line_naming_it(tmp_path: Path) -> None:
    res = runner.invoke(_app(), ["dashboard", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "does not exist" in res.output and "nope" in res.output
    assert "Traceback" not in res.output


def test_missing_study_db_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = runner.invoke(_app(), ["dashboard", str(tmp_path / "empty")])
    assert res.exit_code == 2
    assert str(tmp_path / "empty" / "study.db") in res.output.replace("\n", "")


def test_missing_file_named_by_run_json(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    (d / "run.json").write_text(json.dumps({"storage": f"sqlite:///{tmp_path / 'gone.db'}"}))
    with pytest.raises(InvalidSpecError, match="gone.db does not exist"):
        run_storage(d)
