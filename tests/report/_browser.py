"""Debian's chromium for the report's browser check: installed on first use, run headless."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

__all__ = ["ensure_chromium", "run_chromium", "CHROMIUM_FLAGS"]

#: flags for a quiet, offline, sandbox-less headless run (we run as root in a container).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
)


def _apt(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def ensure_chromium() -> tuple[str | None, str]:
    """The path of ``chromium``, installing Debian's package when it is missing.

    Returns:
        ``(path, note)``: ``path`` is ``None`` when the install failed, and ``note`` then holds apt's
        error; otherwise ``note`` says whether and how long it took to install.
    """
    found = shutil.which("chromium")
    if found:
        return found, "already installed"
    if shutil.which("apt-get") is None:
        return None, "chromium is missing and there is no apt-get to install it"
    start = time.perf_counter()
    res = _apt("install", "-y", "--no-install-recommends", "chromium", timeout=900)
    if res.returncode != 0:  # stale or empty package lists: refresh them once and retry
        upd = _apt("update", timeout=300)
        if upd.returncode != 0:
            return None, f"apt-get update failed: {upd.stderr.strip()[-500:]}"
        res = _apt("install", "-y", "--no-install-recommends", "chromium", timeout=900)
    found = shutil.which("chromium")
    if res.returncode != 0 or found is None:
        return None, f"apt-get install chromium failed: {(res.stderr or res.stdout).strip()[-500:]}"
    return found, f"installed in {time.perf_counter() - start:.0f} s"


def run_chromium(
    chromium: str, page: Path, profile: Path, *extra: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Open ``page`` in headless chromium with ``extra`` flags (``--dump-dom``, ``--screenshot=...``)."""
    cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
