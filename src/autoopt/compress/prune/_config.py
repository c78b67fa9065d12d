"""Typed options of the pruning steps: ``PruneConfig`` (structured) and ``SparsityConfig`` (unstructured).

Both validate everything up front and name the spec key of every bad value
(``compress.prune.ratio: must be > 0 and < 1; got 1.5``), like ``TrainConfig``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from autoopt.compress._config import _Validated
from autoopt.compress.prune._importance import criteria

__all__ = ["PruneConfig", "SparsityConfig"]


def _check_ratio(value: float) -> float:
    if not 0.0 < value < 1.0:
        raise ValueError(f"must be > 0 and < 1 (a fraction of channels to remove); got {value!r}")
    return value


class PruneConfig(_Validated):
    """Options of structured (channel/filter) pruning, the spec's ``compress.prune`` section.

    Attributes:
        ratio: fraction of the prunable channels to remove, in ``(0, 1)``. With ``scope: layer``
            each layer loses this fraction; with ``scope: global`` the whole network does and the
            importance ranking decides where.
        criterion: importance criterion, one of :func:`list_criteria`: ``l1``, ``l2`` (weight
            magnitude), ``taylor`` (first-order Taylor, needs training data), ``bn-scale``
            (BatchNorm scale, needs BatchNorm layers), ``random`` (the baseline).
        scope: ``layer`` (the same ratio in every layer) or ``global`` (one ranking for all layers).
        per_layer: ``{layer_name: ratio}`` overrides for named layers (qualified module names, e.g.
            ``body.0.0``; a container applies to the layers inside it).
        max_layer_ratio: with ``scope: global``, the most any one layer may lose, in ``(0, 1]``.
        steps: 1 prunes in one shot; N reaches ``ratio`` in N equal steps with
            ``finetune_epochs`` of fine-tuning after each.
        finetune_epochs: epochs of ``training.fit`` after each step (0: no fine-tuning); needs data.
        ignore: names of layers whose output channels are kept; the classifier is always kept.
        round_to: keep every pruned conv's channel count a multiple of this; ``auto`` (default):
            this machine's vector width (16 with AVX-512, 8 with AVX2/NEON), so ONNX Runtime keeps
            its fast blocked-layout conv kernels; ``1`` or ``None``: any count. The kept count is
            rounded to the nearest multiple, so the effective ratio differs from ``ratio`` (the
            report shows both). Linear layers keep the plain ratio.
        min_channels: no conv keeps fewer output channels than this (raised to a multiple of
            ``round_to``); a conv with at most this many is kept whole. Default 16: below 16
            output channels INT8 convs get slower per MAC.
        on_error: ``stop`` raises :class:`CompressionError`; ``skip`` returns the model unchanged
            with ``report.skipped`` saying why.
        taylor_batches: batches of training data whose gradients the ``taylor`` criterion sums.
        seed: seeds the ``random`` criterion and the batches drawn for ``taylor``.

    Example:
        >>> cfg = PruneConfig(ratio=0.5, criterion="l1", per_layer={"body.0.0": 0.25})
        >>> cfg.scope, cfg.steps
        ('layer', 1)
    """

    key: ClassVar[str] = "compress.prune"

    def __init__(self, **data: Any) -> None:  # explicit, so type checkers see keyword arguments with defaults
        super().__init__(**data)

    ratio: float = 0.5
    criterion: str = "l2"
    scope: Literal["layer", "global"] = "layer"
    per_layer: dict[str, float] = Field(default_factory=dict)
    max_layer_ratio: float = Field(0.9, gt=0, le=1)
    steps: int = Field(1, ge=1)
    finetune_epochs: int = Field(0, ge=0)
    ignore: list[str] = Field(default_factory=list)
    round_to: int | Literal["auto"] | None = "auto"
    min_channels: int = Field(16, ge=1)
    on_error: Literal["stop", "skip"] = "stop"
    taylor_batches: int = Field(4, ge=1)
    seed: int = Field(0, ge=0)

    @field_validator("ratio")
    @classmethod
    def _ratio_in_range(cls, value: float) -> float:
        return _check_ratio(value)

    @field_validator("round_to")
    @classmethod
    def _round_to_positive(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"must be 'auto', null or an integer >= 1; got {value!r}")
        return value

    @field_validator("per_layer")
    @classmethod
    def _per_layer_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [f"{name!r}: {r!r}" for name, r in value.items() if not 0.0 < r < 1.0]
        if bad:
            raise ValueError(f"every ratio must be > 0 and < 1; got {', '.join(bad)}")
        return value

    @field_validator("criterion")
    @classmethod
    def _known_criterion(cls, value: str) -> str:
        criteria.get(value)
        return value


class SparsityConfig(_Validated):
    """Options of unstructured magnitude pruning with the AGP schedule, ``compress.sparsity``.

    Sparsity rises from ``initial_sparsity`` to ``sparsity`` over ``n_updates`` mask updates,
    ``frequency`` training steps apart, starting at step ``start_step`` (Zhu & Gupta, 2017):
    ``s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3``. Without fine-tuning data the
    target sparsity is applied in one shot.

    Attributes:
        sparsity: the final fraction of zero weights ``s_f``, in ``(0, 1)``.
        initial_sparsity: ``s_i``, in ``[0, sparsity]``.
        epochs: fine-tuning epochs during which the schedule runs (0: one shot, no training).
        start_step: ``t0``, the training step of the first mask update.
        frequency: ``dt``, training steps between mask updates; ``None``: about 10 updates over the ramp.
        n_updates: ``n``, the number of updates; ``None`` ends the ramp after two thirds of the
            fine-tuning steps, leaving the rest to recover at the final sparsity.
        scope: ``layer`` (every layer reaches ``sparsity``) or ``global`` (one magnitude threshold).
        ignore: names of layers (conv/linear) left dense.

    Example:
        >>> SparsityConfig(sparsity=0.8, epochs=3).scope
        'layer'
    """

    key: ClassVar[str] = "compress.sparsity"

    def __init__(self, **data: Any) -> None:  # explicit, so type checkers see keyword arguments with defaults
        super().__init__(**data)

    sparsity: float = 0.5
    initial_sparsity: float = Field(0.0, ge=0, lt=1)
    epochs: int = Field(0, ge=0)
    start_step: int = Field(0, ge=0)
    frequency: int | None = Field(None, ge=1)
    n_updates: int | None = Field(None, ge=1)
    scope: Literal["layer", "global"] = "layer"
    ignore: list[str] = Field(default_factory=list)

    @field_validator("sparsity")
    @classmethod
    def _sparsity_in_range(cls, value: float) -> float:
        if not 0.0 < value < 1.0:
            raise ValueError(f"must be > 0 and < 1 (a fraction of zero weights); got {value!r}")
        return value

    @field_validator("initial_sparsity")
    @classmethod
    def _initial_below_final(cls, value: float, info: Any) -> float:
        final = info.data.get("sparsity")
        if final is not None and value > final:
            raise ValueError(f"must be <= sparsity ({final}); got {value!r}")
        return value
