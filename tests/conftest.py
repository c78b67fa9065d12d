from __future__ import annotations

import optuna
import pytest
import torch

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Tests share 2 cores with each other; one intra-op thread keeps GP/torch timings sane.
torch.set_num_threads(1)


@pytest.fixture
def sphere_space() -> dict:
    return {"x": {"low": -5.0, "high": 5.0}, "y": {"low": -5.0, "high": 5.0}}


def sphere(params: dict) -> float:
    return (params["x"] - 1.3) ** 2 + (params["y"] + 0.7) ** 2
