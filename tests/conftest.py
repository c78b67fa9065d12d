from __future__ import annotations

import optuna
import pytest
import torch

from autoopt.data import load_data
from autoopt.evaluate import stack_inputs
from autoopt.export import export_model
from autoopt.models import build_model

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Tests share 2 cores with each other; one intra-op thread keeps GP/torch timings sane.
torch.set_num_threads(1)


@pytest.fixture
def sphere_space() -> dict:
    return {"x": {"low": -5.0, "high": 5.0}, "y": {"low": -5.0, "high": 5.0}}


def sphere(params: dict) -> float:
    return (params["x"] - 1.3) ** 2 + (params["y"] + 0.7) ** 2


# Shared by tests/evaluate and tests/export: digits (300 samples), a briefly trained tiny CNN and its
# export, made once per session (folders may override `digits` with their own).
CNN_CONFIG = {"blocks": 1, "channels": 8}


def train_briefly(model: torch.nn.Module, data, steps: int = 150) -> torch.nn.Module:
    x = torch.from_numpy(stack_inputs(data.train))
    y = torch.stack([data.train[i][1] for i in range(len(data.train))])
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="session")
def digits():
    return load_data({"name": "digits", "limit": 300})


@pytest.fixture(scope="session")
def cnn(digits):
    torch.manual_seed(0)
    return train_briefly(build_model("cnn", CNN_CONFIG, digits.meta), digits)


@pytest.fixture(scope="session")
def exported(cnn, digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("final")
    card = export_model(cnn, digits, out, name="cnn", config=CNN_CONFIG, latency_repeats=5)
    return out, card


# A real PostgreSQL server for the distributed-search tests: Debian's package (installed when missing
# and this runs as root), a temp data folder, a loopback port; stopped at the end of the session.
# Its folder is outside pytest's root-only tmp folder, since the server runs as the postgres user.
@pytest.fixture(scope="session")
def postgres():
    yield from start_postgres()


@pytest.fixture
def fresh_postgres():
    """A server of its own, for a test that stops and restarts it."""
    yield from start_postgres()


def start_postgres():
    import shutil
    import tempfile

    from autoopt.testing.postgres import LocalPostgres, install_postgres

    why = install_postgres()
    if why:
        pytest.skip(f"no PostgreSQL server for this test: {why}")
    folder = tempfile.mkdtemp(prefix="autoopt-pg-")
    server = LocalPostgres(folder).start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
