"""Neural architecture search.

Importing this package registers the architecture builders ``nas-macro``, ``nas-cell`` and
``nas-mlp`` in the model registry, so ``autoopt.models.build_model`` builds their samples.

Example:
    >>> from autoopt.nas import list_nas_spaces
    >>> list_nas_spaces()
    ['nas-cell', 'nas-macro', 'nas-mlp']
"""

from __future__ import annotations

from autoopt.nas._errors import InvalidArchitectureError
from autoopt.nas.spaces import build_architecture, describe, list_nas_spaces, nas_space, smallest_in_space

__all__ = [
    "InvalidArchitectureError",
    "list_nas_spaces",
    "nas_space",
    "build_architecture",
    "describe",
    "smallest_in_space",
]
