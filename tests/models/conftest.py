"""Shared fixtures for the model tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every model test starts from the same random state, so weights and inputs are reproducible."""
    torch.manual_seed(0)
