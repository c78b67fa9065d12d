"""autoopt's error hierarchy: one message style for every layer.

Messages name the key or parameter, say what was expected, what was got, and the fix when
there is one::

    search.space.lr: 'low' (0.1) must be below 'high' (0.01)
"""

from __future__ import annotations

__all__ = [
    "AutoOptError",
    "InvalidSpecError",
    "InvalidSpaceError",
    "UnknownNameError",
    "ObjectiveError",
    "FatalSearchError",
    "NoCompleteTrialError",
    "StorageError",
    "DataError",
    "CheckpointError",
    "TrainingError",
    "CompressionError",
    "TrialRejected",
    "InvalidArchitectureError",
    "format_errors",
]


class AutoOptError(Exception):
    """Base class of every error autoopt raises on purpose."""


class InvalidSpecError(AutoOptError, ValueError):
    """A spec, config or argument is invalid. ``errors`` holds one line per problem."""

    def __init__(self, message: str | None = None, errors: list[str] | None = None) -> None:
        self.errors = list(errors or ([message] if message else []))
        super().__init__(message if message is not None else format_errors(self.errors))


class InvalidSpaceError(InvalidSpecError):
    """A search space definition is invalid."""


class UnknownNameError(InvalidSpecError, KeyError):
    """A registry lookup used a name that is not registered."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class ObjectiveError(AutoOptError, ValueError):
    """An objective returned something autoopt cannot record (NaN, wrong arity, ...)."""


class FatalSearchError(AutoOptError, RuntimeError):
    """The search cannot go on (e.g. every one of the first N trials failed).

    ``trial`` is the number of the failed trial the message quotes, when there is one (its traceback
    is stored with it: ``autoopt show RUN_DIR --trial N``).
    """

    trial: int | None = None


class NoCompleteTrialError(FatalSearchError):
    """A search ended without one complete trial: every trial failed (or none ran before the timeout).

    The message names the first failure's reason; ``result`` holds the search's result (every trial
    with its reason), ``trial`` the number of the first failed trial (its traceback is stored with it:
    ``autoopt show RUN_DIR --trial N``).
    """

    def __init__(self, message: str, result: object = None, trial: int | None = None) -> None:
        super().__init__(message)
        self.result = result
        self.trial = trial


class StorageError(AutoOptError, RuntimeError):
    """A study storage cannot be opened or written."""


class DataError(AutoOptError, ValueError):
    """A dataset is missing, malformed or does not match the spec."""


class CheckpointError(AutoOptError, ValueError):
    """A checkpoint cannot be loaded into a model (missing file, mismatched tensors, unsafe payload)."""


class TrainingError(AutoOptError, RuntimeError):
    """Training cannot go on: the loss became NaN/inf, the device ran out of memory, ...

    In a search this fails the trial (recorded with the message); the search goes on.
    """


class CompressionError(AutoOptError, RuntimeError):
    """A compression step cannot be applied to this model.

    Raised when Torch-Pruning cannot trace the forward, when a layer is never reached by the trace
    (data-dependent control flow), when pruning changes the output shape, or when nothing at all can
    be pruned. The message names the layer or operation. With ``on_error: skip`` the model is
    returned unchanged instead and the report says ``skipped: <reason>``.
    """


class TrialRejected(AutoOptError):
    """A candidate is rejected before it is trained: it breaks a hard budget or cannot be built.

    In a search the trial is recorded as failed with the reason (and the ``autoopt:rejected`` mark),
    the strategy learns to avoid it, and rejections never count as the "first N trials all failed"
    stop, which is meant for broken objectives.
    """


class InvalidArchitectureError(InvalidSpecError, TrialRejected):
    """An architecture cannot be built: a missing or wrong decision, or too much downsampling for the input.

    Raised before any tensor is allocated; ``errors`` holds one line per problem, each naming the
    decision (``s4_downsample: ...``).
    """


def format_errors(errors: list[str]) -> str:
    """Join several validation errors into one message, one per line."""
    if not errors:
        return "invalid input"
    if len(errors) == 1:
        return errors[0]
    return f"{len(errors)} errors:\n" + "\n".join(f"  - {e}" for e in errors)
