"""A throwaway local PostgreSQL server from the system's packages, for trying distributed search and for
the test suite.

One command starts one (installing Debian's ``postgresql`` package first when it is missing and this
runs as root)::

    python -m autoopt.testing.postgres start      # prints the storage URL; data in /tmp/autoopt-postgres-5433
    python -m autoopt.testing.postgres stop

The server listens on 127.0.0.1 only, keeps its data in one folder and runs as the ``postgres`` user
when started by root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["LocalPostgres", "find_bin_dir", "install_postgres"]

USER = "autoopt"
PASSWORD = "autoopt-local"  # a loopback-only throwaway server; never use this for a real one
DATABASE = "autoopt"


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb``/``pg_ctl`` (Debian: /usr/lib/postgresql/<version>/bin), or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2] or 0))
    return Path(dirs[-1]) if dirs else None


def install_postgres() -> str | None:
    """Install Debian's ``postgresql`` package when missing; return why it is impossible, or None."""
    if find_bin_dir() is not None:
        return None
    if shutil.which("apt-get") is None:
        return "PostgreSQL is not installed and apt-get is not available to install it"
    if os.geteuid() != 0:
        return "PostgreSQL is not installed and installing it needs root (apt-get install -y postgresql)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"apt-get install postgresql failed: {tail[0]}"
    return None if find_bin_dir() is not None else "postgresql installed but initdb/pg_ctl not found"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """A PostgreSQL server in ``folder`` on ``127.0.0.1:port`` (a free port when ``port`` is None).

    Args:
        folder: data folder (created); the server's log is ``folder/server.log``.
        port: TCP port on the loopback interface.
    """

    def __init__(self, folder: str | Path, port: int | None = None) -> None:
        self.folder = Path(folder).resolve()
        self.data = self.folder / "data"
        self.port = port or _free_port()
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed: apt-get install -y postgresql")
        self.bin = bin_dir
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if check and done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {(done.stderr or done.stdout).strip()[-500:]}")
        return done

    def start(self) -> LocalPostgres:
        """initdb (first time), start, and create the database; returns self."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            pwfile = self.folder / "pw"
            pwfile.write_text(PASSWORD + "\n")
            if self._as_postgres:
                shutil.chown(pwfile, "postgres", "postgres")
            self._run(
                "initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}", "-A", "scram-sha-256",
                "--auth-local=trust", "-E", "UTF8", "--no-sync",
            )  # fmt: skip
            pwfile.unlink()
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c max_connections=200"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", opts, "-w", "start")
        if fresh:
            self._run("createdb", "-h", str(self.folder), "-p", str(self.port), "-U", USER, DATABASE)
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: smart, fast or immediate, as pg_ctl)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def wait_ready(self, timeout: float = 30.0) -> None:
        end = time.time() + timeout
        while time.time() < end:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL on 127.0.0.1:{self.port} did not come up in {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autoopt.testing.postgres", description=__doc__.split("\n")[0])
    p.add_argument("action", choices=["start", "stop", "url"])
    p.add_argument("--dir", default=None, help="data folder (default: TMPDIR/autoopt-postgres-PORT)")
    p.add_argument("--port", type=int, default=5433, help="loopback port (default 5433)")
    a = p.parse_args(argv)
    # Under the temp folder by default: as root the server runs as `postgres`, which cannot enter /root.
    a.dir = a.dir or str(Path(tempfile.gettempdir()) / f"autoopt-postgres-{a.port}")
    if a.action == "start":
        why = install_postgres()
        if why:
            print(f"error: {why}", file=sys.stderr)
            return 2
    server = LocalPostgres(a.dir, a.port)
    if a.action == "start":
        server.start()
        print(server.url)
    elif a.action == "stop":
        server.stop()
    else:
        print(server.url)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
