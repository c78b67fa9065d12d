"""autoopt: automated deep-learning model optimization on PyTorch and Optuna.

Example:
    >>> import autoopt
    >>> result = autoopt.tune(lambda p: (p["x"] - 1) ** 2, space={"x": {"low": -3.0, "high": 3.0}},
    ...                       trials=10, seed=0)
    >>> result.best_value < 1.0
    True
"""

from __future__ import annotations

__version__ = "0.1.0"

from autoopt.search import TuneResult, tune
from autoopt.space import Categorical, Fixed, Float, Int, Space

__all__ = ["__version__", "tune", "TuneResult", "Space", "Float", "Int", "Categorical", "Fixed"]
