"""The ``nas:`` section of a spec: which architecture space, hard budgets, cheap evaluation, one-shot."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from autoopt._validation import ValidatedConfig
from autoopt.exceptions import InvalidSpecError

__all__ = ["NasConfig", "OneShotConfig"]


class OneShotConfig(ValidatedConfig):
    """``nas.one_shot:``: train one weight-sharing supernet, then score candidates with its weights.

    Single-path one-shot (Guo et al., 2020): every training step samples one architecture of the
    ``nas-macro`` space uniformly and trains only its path; a candidate's score is its validation
    metric with the inherited weights after its batch-norm statistics are recalibrated on training
    batches. Only ``nas-macro`` has a supernet.

    Attributes:
        epochs: supernet training epochs (each a pass over the candidates' training data).
        lr: the supernet's learning rate (SGD with momentum 0.9, cosine schedule).
        calibration_batches: training batches used to recalibrate batch-norm statistics per candidate.
    """

    key: ClassVar[str] = "nas.one_shot"

    epochs: int = Field(30, ge=1)
    lr: float = Field(0.05, gt=0)
    calibration_batches: int = Field(8, ge=1)


class NasConfig(ValidatedConfig):
    """The ``nas:`` section: search an architecture space instead of a fixed model's parameters.

    The space's decisions join ``search.space`` as ``model.<decision>`` and the run's model becomes
    the space (``nas-macro``, ``nas-cell`` or ``nas-mlp``); ``search:`` keeps the strategy, scheduler,
    budget and objectives. Objectives and constraints may use ``params``, ``macs`` and ``latency_ms``.

    Attributes:
        space: the architecture space (``autoopt list models`` shows the ``nas-*`` ones).
        limits: the space's limits, e.g. ``{max_stages: 3, widths: [16, 32, 64]}`` for ``nas-macro``.
        max_params: hard budget: candidates with more parameters are rejected before training.
        max_macs: hard budget on multiply-accumulates of one forward pass of one sample.
        max_latency_ms: hard budget on the measured CPU latency (median, batch ``latency_batch_size``).
        latency_batch_size: batch size of the latency measurement.
        latency_repeats: timed forward passes per latency measurement (the median is kept).
        subset: fraction of the training split each candidate trains on (cheap evaluation).
        epochs: training epochs of each candidate (``None``: ``training.epochs``).
        retrain_top_k: after the search, train the k best candidates again on the whole training
            split for ``training.epochs`` and keep the best of them by validation metric (0: off).
        feasibility_samples: architectures sampled before the search to check that the budgets can be
            met at all (the error reports the smallest found).
        one_shot: score candidates with a weight-sharing supernet instead of training each one.
    """

    key: ClassVar[str] = "nas"

    space: str = "nas-macro"
    limits: dict[str, Any] = Field(default_factory=dict)
    max_params: int | None = Field(None, gt=0)
    max_macs: int | None = Field(None, gt=0)
    max_latency_ms: float | None = Field(None, gt=0)
    latency_batch_size: int = Field(1, ge=1)
    latency_repeats: int = Field(30, ge=1)
    subset: float = Field(1.0, gt=0, le=1)
    epochs: int | None = Field(None, ge=1)
    retrain_top_k: int = Field(0, ge=0)
    feasibility_samples: int = Field(200, ge=1)
    one_shot: OneShotConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_shot_mapping(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("one_shot") is True:
            return {**value, "one_shot": {}}
        return value

    @model_validator(mode="after")
    def _one_shot_space(self) -> NasConfig:
        if self.one_shot is not None and self.space not in ("nas-macro", "macro"):
            raise ValueError(f"one_shot: only 'nas-macro' has a supernet; got space {self.space!r}")
        return self

    @classmethod
    def from_spec(cls, section: Any) -> NasConfig:
        """Validate a spec's ``nas:`` mapping (``nas: nas-macro`` is short for ``{space: nas-macro}``).

        Raises:
            InvalidSpecError: one line per problem, each named ``nas.<key>``.
        """
        if isinstance(section, str):
            section = {"space": section}
        if not isinstance(section, dict):
            raise InvalidSpecError(f"nas: expected a mapping or a space name; got {type(section).__name__}")
        return cls(**section)

    def budget_constraints(self) -> list[str]:
        """The hard budgets as search constraints (``params <= 50000``), so best picks respect them."""
        out = []
        for metric, bound in (
            ("params", self.max_params),
            ("macs", self.max_macs),
            ("latency_ms", self.max_latency_ms),
        ):
            if bound is not None:
                out.append(f"{metric} <= {bound}")
        return out
