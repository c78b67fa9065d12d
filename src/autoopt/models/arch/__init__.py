"""Architecture spaces: macro CNN, NASNet/DARTS cells and MLP, as ordinary search spaces.

Each space is a :class:`~autoopt.space.Space` of categorical/int parameters (with ``when:``
conditions), so every strategy can search it, and a registered model builder (``nas-macro``,
``nas-cell``, ``nas-mlp``) turns a sample into an :class:`~autoopt.models.AutoOptModel`.

Example:
    >>> import optuna
    >>> from autoopt.data import DatasetMeta
    >>> from autoopt.models.arch import build_architecture, nas_space
    >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
    >>> space = nas_space("nas-macro", meta)
    >>> trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    >>> model = build_architecture("nas-macro", space.sample(trial), meta)
    >>> model.head.out_features
    10
"""

from __future__ import annotations

from autoopt.models.arch import _cell, _macro, _mlp  # noqa: F401  (register the spaces and builders)
from autoopt.models.arch._api import build_architecture, list_nas_spaces, nas_space, smallest_in_space
from autoopt.models.arch._cell import CellArch, CellNet, Genotype, NodeSpec, cell_space
from autoopt.models.arch._describe import describe
from autoopt.models.arch._macro import MacroArch, MacroNet, StageSpec, macro_space
from autoopt.models.arch._mlp import MLPArch, ResidualMLP, mlp_space
from autoopt.models.arch._ops import CELL_OPS, MACRO_OPS

__all__ = [
    "list_nas_spaces",
    "nas_space",
    "build_architecture",
    "describe",
    "smallest_in_space",
    "macro_space",
    "cell_space",
    "mlp_space",
    "MACRO_OPS",
    "CELL_OPS",
    "MacroNet",
    "MacroArch",
    "StageSpec",
    "CellNet",
    "CellArch",
    "Genotype",
    "NodeSpec",
    "ResidualMLP",
    "MLPArch",
]
