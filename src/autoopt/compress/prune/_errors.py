"""``CompressionError``: a model cannot be compressed as asked (untraceable graph, nothing prunable)."""

from __future__ import annotations

from autoopt.exceptions import AutoOptError

__all__ = ["CompressionError"]


class CompressionError(AutoOptError, RuntimeError):
    """A compression step cannot be applied to this model.

    Raised when Torch-Pruning cannot trace the forward, when a layer is never reached by the trace
    (data-dependent control flow), when pruning changes the output shape, or when nothing at all can
    be pruned. The message names the layer or operation. With ``compress.prune.on_error: skip`` the
    model is returned unchanged instead and the report says ``skipped: <reason>``.
    """
