"""Objectives for `autoopt tune` on Python functions (no data needed).

autoopt tune examples/hpo_functions.py:branin --space examples/branin_space.yaml --trials 30
"""

from __future__ import annotations

import math


def branin(params: dict) -> float:
    """Branin-Hoo; global minimum 0.397887 at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475)."""
    x, y = params["x"], params["y"]
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return a * (y - b * x**2 + c * x - r) ** 2 + s * (1 - t) * math.cos(x) + s


def rosenbrock_trial(trial) -> float:  # define-by-run, Optuna style
    xs = [trial.suggest_float(f"x{i}", -2.0, 2.0) for i in range(4)]
    return sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(3))
