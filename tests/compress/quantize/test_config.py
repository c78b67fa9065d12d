from __future__ import annotations

import pytest

from autoopt.compress.quantize import QuantizeConfig, coerce_quantize_config
from autoopt.exceptions import InvalidSpecError


def test_defaults() -> None:
    cfg = QuantizeConfig()
    assert (cfg.mode, cfg.calibration, cfg.activation_type, cfg.weight_type) == (
        "static",
        "minmax",
        "uint8",
        "int8",
    )
    assert cfg.per_channel and cfg.calibration_samples == 256 and cfg.max_accuracy_drop == 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "int4"}, r"compress\.quantize\.mode: expected one of"),
        ({"calibration": "kl"}, r"compress\.quantize\.calibration: expected one of: 'minmax', 'entropy'"),
        ({"percentile": 120.0}, r"compress\.quantize\.percentile: must be > 50 and <= 100; got 120\.0"),
        ({"activation_type": "int4"}, r"compress\.quantize\.activation_type: expected one of"),
        ({"weight_type": "fp8"}, r"compress\.quantize\.weight_type: expected one of"),
        ({"histogram_bins": 128}, r"compress\.quantize\.histogram_bins: must be >= 512; got 128"),
        ({"calibration_samples": 0}, r"compress\.quantize\.calibration_samples: must be >= 1"),
        ({"calibration_samples": 50}, r"compress\.quantize\.calibration_samples: must be >= min_calibration"),
        ({"qat_lr": 0.0}, r"compress\.quantize\.qat_lr: must be > 0"),
        ({"qat_epochs": 0}, r"compress\.quantize\.qat_epochs: must be >= 1"),
        ({"mode": "qat", "activation_type": "int8"}, r"compress\.quantize\.activation_type: mode 'qat'"),
        (
            {"calibraton": "entropy"},
            r"compress\.quantize\.calibraton: unknown key.*Did you mean 'calibration'",
        ),
    ],
)
def test_bad_values_name_the_key(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidSpecError, match=match):
        QuantizeConfig(**kwargs)


def test_every_bad_key_is_reported_at_once() -> None:
    with pytest.raises(InvalidSpecError) as info:
        QuantizeConfig(percentile=10.0, weight_type="int4")
    assert len(info.value.errors) == 2


def test_coerce_applies_overrides() -> None:
    cfg = coerce_quantize_config({"calibration": "entropy"}, mode="dynamic")
    assert (cfg.mode, cfg.calibration) == ("dynamic", "entropy")
    with pytest.raises(InvalidSpecError, match=r"compress\.quantize\.percentile"):
        coerce_quantize_config(None, percentile=1.0)
