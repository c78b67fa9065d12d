"""The warm-up schedules used by the text default spaces: linear warm-up, then linear/cosine decay."""

from __future__ import annotations

import pytest
import torch

from autoopt.training import TrainConfig
from autoopt.training._schedule import WARMUP_FRACTION, build_schedule


@pytest.mark.parametrize("name", ["warmup-linear", "warmup-cosine"])
def test_rate_rises_to_the_peak_then_decays_to_zero(name: str) -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    cfg = TrainConfig(epochs=2, lr=0.5, schedule=name)
    schedule = build_schedule(opt, cfg, steps_per_epoch=50)
    rates = []
    for _ in range(100):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step_batch()
    warm = round(WARMUP_FRACTION * 100)
    assert rates[0] == pytest.approx(0.5 / warm)
    assert all(a < b for a, b in zip(rates[: warm - 1], rates[1:warm], strict=True))
    assert max(rates) == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(rates[warm:], rates[warm + 1 :], strict=False))
    assert rates[-1] < 0.5 * 0.05
