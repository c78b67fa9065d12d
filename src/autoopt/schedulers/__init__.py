"""Early stopping of bad trials: ``none``, ``median``, ``asha``, ``hyperband``, for one or several objectives.

Example:
    >>> from autoopt.schedulers import make_pruner
    >>> make_pruner("hyperband").__class__.__name__
    'HyperbandPruner'
"""

from autoopt.schedulers import _builtin  # noqa: F401  (registers the built-in schedulers)
from autoopt.schedulers._mo import (
    MOASHAPruner,
    MOHyperbandPruner,
    MOMedianPruner,
    intermediate_vectors,
    nondominated_rank,
)
from autoopt.schedulers._registry import list_schedulers, make_pruner, schedulers
from autoopt.schedulers._reporter import Reporter

__all__ = [
    "MOASHAPruner",
    "MOHyperbandPruner",
    "MOMedianPruner",
    "Reporter",
    "intermediate_vectors",
    "list_schedulers",
    "make_pruner",
    "nondominated_rank",
    "schedulers",
]
