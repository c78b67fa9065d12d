from __future__ import annotations

import json

import onnx
import pytest
import torch

from autoopt import __version__
from autoopt.data import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.export import (
    ExportError,
    ModelCard,
    export_model,
    preprocessing_of,
    read_model_card,
    sha256_file,
)
from autoopt.export._card import SCHEMA_KEYS
from autoopt.models import count_macs, count_params


def test_card_keys_and_fields(exported, cnn, digits):
    out, card = exported
    data = json.loads((out / "model.json").read_text())
    assert tuple(data) == SCHEMA_KEYS
    assert data["autoopt_version"] == __version__ and data["task"] == "classification"
    assert data["class_names"] == digits.meta.class_names
    assert data["input"] == {"name": "input", "shape": [None, 1, 8, 8], "dtype": "float32"}
    assert data["output"] == {"name": "output", "shape": [None, 10], "dtype": "float32"}
    assert data["preprocessing"] == {
        "mean": digits.meta.mean,
        "std": digits.meta.std,
        "pixel_scale": 16.0,  # digits pixels are 0..16; autoopt.data records the factor 1/16
        "image_size": [8, 8],
        "channels": 1,
    }
    assert data["files"] == {"onnx": "model.onnx", "pt2": "model.pt2", "weights": "model.safetensors"}
    opset = onnx.load(str(out / "model.onnx")).opset_import
    assert data["opset"] == next(o.version for o in opset if o.domain in ("", "ai.onnx"))
    assert data["model"] == {
        "name": "cnn",
        "config": {"blocks": 1, "channels": 8},
        "params": count_params(cnn),
        "macs": count_macs(cnn, (1, 8, 8)),
    }
    assert data["spec"] is None
    assert {"test_accuracy", "test_loss"} <= set(data["metrics"])
    for kind in ("onnx", "pt2"):
        assert data["parity"][kind]["passed"] and data["parity"][kind]["top1_agreement"] == 1.0
    rows = data["latency"]["batches"]
    assert data["latency"]["backend"] == "onnxruntime" and set(rows) == {"1", "64"}
    assert all(r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] and r["throughput"] > 0 for r in rows.values())
    assert read_model_card(out) == card


def test_hashes_and_sizes_cover_every_file(exported):
    out, card = exported
    on_disk = {p.name for p in out.iterdir()} - {"model.json"}
    assert set(card.files.values()) == on_disk  # no external .data file left uncounted
    for key, name in card.files.items():
        assert card.size_bytes[key] == (out / name).stat().st_size
        assert card.sha256[key] == sha256_file(out / name)
    assert card.verify(out) == []


def test_verify_spots_a_changed_file(exported, tmp_path):
    out, card = exported
    for name in card.files.values():
        (tmp_path / name).write_bytes((out / name).read_bytes())
    (tmp_path / "model.pt2").write_bytes(b"x")
    assert card.verify(tmp_path) == [
        f"size_bytes.pt2: card says {card.size_bytes['pt2']}, {tmp_path / 'model.pt2'} has 1"
    ]


def test_a_card_lacking_keys_is_refused(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"task": "classification"}))
    with pytest.raises(InvalidSpecError, match=r"model.json: expected the keys .*; missing: input, output"):
        read_model_card(tmp_path)


def test_a_failed_export_leaves_no_stale_card(digits, tmp_path):
    class WithAiry(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.flatten(torch.special.airy_ai(x), 1)

    (tmp_path / "model.json").write_text("{}")
    with pytest.raises(ExportError, match="special_airy_ai"):
        export_model(WithAiry(), digits, tmp_path)
    assert not (tmp_path / "model.json").exists()


def test_given_metrics_and_spec_are_recorded(digits, tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    spec = {"name": "x", "data": {"name": "digits", "limit": 300}}
    card = export_model(model, digits, tmp_path, spec=spec, metrics={"test_accuracy": 0.5}, latency_repeats=2)
    assert card.metrics == {"test_accuracy": 0.5} and card.spec == spec
    assert card.model["name"] == "Sequential" and card.model["config"] is None
    assert isinstance(ModelCard.from_dict(card.to_dict()), ModelCard)


def test_table_preprocessing_never_writes_a_null_scale():
    meta = DatasetMeta("t", "regression", (3,), mean=[0.0, 1.0, 2.0], std=[1.0, 1.0, 1.0])
    assert preprocessing_of(meta) == {
        "mean": [0.0, 1.0, 2.0],
        "std": [1.0, 1.0, 1.0],
        "pixel_scale": 1.0,
        "image_size": None,
        "channels": None,
    }
