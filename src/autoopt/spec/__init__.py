"""The spec: validated configuration of a run, read from YAML."""

from autoopt.spec._spec import (
    ModelSpec,
    ObjectiveSpec,
    SearchSpec,
    ShipSpec,
    Spec,
    TransferSpec,
    read_spec,
)

__all__ = [
    "Spec",
    "ModelSpec",
    "TransferSpec",
    "SearchSpec",
    "ObjectiveSpec",
    "ShipSpec",
    "read_spec",
]
