"""``QuantizeConfig``: the spec's ``compress.quantize`` section, validated up front with key-path errors."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from autoopt.compress._config import _Validated

__all__ = ["QuantizeConfig", "QUANT_TYPES", "coerce_quantize_config"]

#: spec names of the 8-bit types and ONNX Runtime's ``QuantType`` member names.
QUANT_TYPES = {"uint8": "QUInt8", "int8": "QInt8"}


class QuantizeConfig(_Validated):
    """Options of INT8 quantization, the spec's ``compress.quantize`` section.

    Every bad value raises :class:`~autoopt.exceptions.InvalidSpecError` naming the key
    (``compress.quantize.percentile: must be > 50 and <= 100; got 120.0``).

    Attributes:
        mode: ``static`` (post-training, calibrated activation ranges, QDQ format), ``dynamic``
            (weights only; activation ranges computed at run time: good for Linear/LSTM models,
            slow for CNNs) or ``qat`` (quantization-aware fine-tuning with torchao's PT2E flow).
        calibration: how activation ranges are chosen from the calibration samples: ``minmax``
            (the observed range), ``entropy`` (the clipping threshold minimizing the KL divergence
            between the float histogram and its 8-bit version) or ``percentile`` (clip at
            ``percentile`` of the absolute values).
        percentile: the percentile of ``calibration: percentile``, in ``(50, 100]``.
        histogram_bins: histogram bins of ``entropy`` and ``percentile`` (>= 512). ``entropy``
            tries ``histogram_bins / 2 - 127`` thresholds, so more bins is finer and slower.
        calibration_samples: training samples the calibration runs through the model.
        min_calibration_samples: fewer real samples than this is an error (ranges from a handful of
            samples do not generalize).
        per_channel: one weight scale per output channel (``True``) or per tensor.
        reduce_range: 7-bit weights, for x86 CPUs without VNNI whose 8-bit products can saturate.
        activation_type: ``uint8`` (default: on x86 ONNX Runtime fuses QDQ Conv/Add into integer
            kernels only with uint8 activations) or ``int8`` (symmetric; ARM, GPUs).
        weight_type: ``int8`` or ``uint8``.
        exclude: ONNX node names (``node_Conv_96``) or layer names (``stem.0``, the weight's
            prefix) kept in float.
        max_accuracy_drop: percentage points of accuracy the quantized model may lose against the
            fp32 ONNX model before the result is flagged ``collapsed`` and a per-layer sensitivity
            list is computed. A negative value always flags (useful to get the list anyway).
        sensitivity: compute the per-layer sensitivity list when the result collapses.
        qat_epochs: fine-tuning epochs of ``mode: qat``.
        qat_lr: learning rate of ``mode: qat`` (small: the model is already trained).
        seed: the QAT fine-tuning seed.

    Example:
        >>> cfg = QuantizeConfig(calibration="entropy", exclude=["head"])
        >>> cfg.mode, cfg.activation_type, cfg.weight_type
        ('static', 'uint8', 'int8')
    """

    key: ClassVar[str] = "compress.quantize"

    def __init__(self, **data: Any) -> None:  # explicit, so type checkers see keyword arguments with defaults
        super().__init__(**data)

    mode: Literal["static", "dynamic", "qat"] = "static"
    calibration: Literal["minmax", "entropy", "percentile"] = "minmax"
    percentile: float = 99.99
    histogram_bins: int = Field(1024, ge=512)
    calibration_samples: int = Field(256, ge=1)
    min_calibration_samples: int = Field(100, ge=1)
    per_channel: bool = True
    reduce_range: bool = False
    activation_type: Literal["uint8", "int8"] = "uint8"
    weight_type: Literal["int8", "uint8"] = "int8"
    exclude: list[str] = Field(default_factory=list)
    max_accuracy_drop: float = Field(1.0, ge=-100, le=100)
    sensitivity: bool = True
    qat_epochs: int = Field(3, ge=1)
    qat_lr: float = Field(1e-4, gt=0)
    seed: int = Field(0, ge=0)

    @field_validator("percentile")
    @classmethod
    def _percentile_in_range(cls, value: float) -> float:
        if not 50.0 < value <= 100.0:
            raise ValueError(f"must be > 50 and <= 100; got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> QuantizeConfig:
        if self.calibration_samples < self.min_calibration_samples:
            raise ValueError(
                f"calibration_samples: must be >= min_calibration_samples "
                f"({self.min_calibration_samples}); got {self.calibration_samples}"
            )
        if self.mode == "qat" and (self.activation_type, self.weight_type) != ("uint8", "int8"):
            raise ValueError(
                "activation_type: mode 'qat' uses torchao's X86InductorQuantizer "
                "(uint8 activations, int8 weights); got activation_type="
                f"{self.activation_type!r}, weight_type={self.weight_type!r}"
            )
        return self


def coerce_quantize_config(
    config: QuantizeConfig | dict[str, Any] | None, **overrides: Any
) -> QuantizeConfig:
    """A :class:`QuantizeConfig` from a config, a dict of ``compress.quantize`` keys or ``None`` (defaults),
    with ``overrides`` applied (and validated).

    Example:
        >>> coerce_quantize_config({"calibration": "entropy"}, mode="static").calibration
        'entropy'
    """
    if isinstance(config, QuantizeConfig):
        data = config.model_dump()
    else:
        data = dict(config or {})
    data.update(overrides)
    return QuantizeConfig(**data)
