"""Errors of the NAS stage (defined on the ground floor, where the architecture spaces live)."""

from __future__ import annotations

from autoopt.exceptions import InvalidArchitectureError, TrialRejected

__all__ = ["InvalidArchitectureError", "TrialRejected"]
