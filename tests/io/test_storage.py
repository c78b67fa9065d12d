"""Opening storages: several processes creating the same new SQLite database at once."""

from __future__ import annotations

import multiprocessing as mp

from autoopt.io import open_storage


def _open(path: str, barrier, results) -> None:
    barrier.wait()
    try:
        open_storage(path)
        results.put("ok")
    except Exception as e:  # reported to the parent, which asserts on it
        results.put(f"{type(e).__name__}: {e}")


def test_processes_opening_one_new_database_at_once_all_succeed(tmp_path) -> None:
    ctx = mp.get_context("fork")
    for round_ in range(3):
        path = str(tmp_path / f"study{round_}.db")
        barrier, results = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(path, barrier, results)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes = [results.get(timeout=5) for _ in procs]
        assert outcomes == ["ok"] * 6, outcomes
