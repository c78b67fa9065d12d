"""Checkpoints: safetensors roundtrip, atomic writes, head replacement, mismatch reports, unsafe pickles."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from autoopt.data._bundle import DatasetMeta
from autoopt.exceptions import CheckpointError
from autoopt.models import as_autoopt_model, build_model, load_checkpoint, read_state_dict, save_checkpoint


def _meta(num_classes: int = 10) -> DatasetMeta:
    return DatasetMeta("digits", "classification", (1, 8, 8), num_classes=num_classes)


def _cnn(num_classes: int = 10, channels: int = 4) -> nn.Module:
    return build_model("cnn", {"blocks": 2, "channels": channels}, _meta(num_classes))


def test_roundtrip_restores_outputs_exactly(tmp_path: Path) -> None:
    src = _cnn().eval()
    for m in src.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_()  # non-trivial buffers must roundtrip too
    path = save_checkpoint(src, tmp_path / "sub" / "model.safetensors", metadata={"run": "r1"})
    dst = _cnn().eval()
    report = load_checkpoint(dst, path)
    x = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(dst(x), src(x), rtol=0, atol=0)
    assert report.reinitialized == [] and report.missing == [] and report.unexpected == []
    assert set(report.loaded) == set(src.state_dict())
    assert sorted(os.listdir(path.parent)) == ["model.safetensors"]  # no temp file left behind


def test_save_is_atomic_when_writing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.safetensors"
    save_checkpoint(_cnn(), path)
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("autoopt.models._checkpoint.save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(_cnn(channels=8), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_pt_state_dict_is_loaded_with_wrapper_and_module_prefix(tmp_path: Path) -> None:
    src = _cnn()
    wrapped = {"state_dict": {f"module.{k}": v for k, v in src.state_dict().items()}, "epoch": 3}
    torch.save(wrapped, tmp_path / "model.pt")
    dst = _cnn()
    load_checkpoint(dst, tmp_path / "model.pt")
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_new_class_count_reinitializes_and_reports_the_head(tmp_path: Path) -> None:
    src = _cnn(num_classes=10)
    save_checkpoint(src, tmp_path / "m.safetensors")
    dst = _cnn(num_classes=5)
    report = load_checkpoint(dst, tmp_path / "m.safetensors")
    assert report.reinitialized == ["head.weight", "head.bias"]
    assert dst.get_classifier().out_features == 5
    torch.testing.assert_close(dst.body[0][0].weight, src.body[0][0].weight)
    with pytest.raises(
        CheckpointError, match=r"shape mismatch head\.weight: checkpoint \(10, 32\) vs model \(5, 32\)"
    ):
        load_checkpoint(_cnn(num_classes=5), tmp_path / "m.safetensors", strict_head=True)


def test_backbone_mismatch_lists_every_tensor_with_both_shapes(tmp_path: Path) -> None:
    save_checkpoint(_cnn(channels=4), tmp_path / "m.safetensors")
    dst = _cnn(channels=8)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(dst, tmp_path / "m.safetensors")
    msg = str(e.value)
    expected = {
        "body.0.0.weight": ((4, 1, 3, 3), (8, 1, 3, 3)),
        "body.0.1.weight": ((4,), (8,)),
        "body.0.1.running_var": ((4,), (8,)),
        "body.1.0.weight": ((8, 4, 3, 3), (16, 8, 3, 3)),
        "body.1.1.bias": ((8,), (16,)),
    }
    for name, (ckpt, model) in expected.items():
        assert f"shape mismatch {name}: checkpoint {ckpt} vs model {model}" in msg
    # the head's input width differs too (the features changed): named with both widths
    assert "the head head.weight takes 32 features in the checkpoint but 64 in the model" in msg


def test_gap_head_checkpoint_is_refused_by_a_grid_model_with_the_fix(tmp_path: Path) -> None:
    meta, path = _meta(), tmp_path / "m.safetensors"
    save_checkpoint(build_model("cnn", {"blocks": 2, "channels": 4, "head": "gap"}, meta), path)
    with pytest.raises(CheckpointError, match=r"takes 8 features in the checkpoint but 32 .*'head: gap'"):
        load_checkpoint(build_model("cnn", {"blocks": 2, "channels": 4}, meta), path)
    report = load_checkpoint(build_model("cnn", {"blocks": 2, "channels": 4, "head": "gap"}, meta), path)
    assert report.reinitialized == [] and "head.weight" in report.loaded
    # transfer to another class count re-initializes the head whatever its input width
    report = load_checkpoint(build_model("cnn", {"blocks": 2, "channels": 4}, _meta(5)), path)
    assert report.reinitialized == ["head.weight", "head.bias"]


def test_missing_and_unexpected_keys_are_listed(tmp_path: Path) -> None:
    state = {k: v.clone() for k, v in _cnn().state_dict().items()}
    del state["body.1.0.weight"]
    state["extra.weight"] = torch.zeros(2)
    save_file(state, str(tmp_path / "m.safetensors"))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(_cnn(), tmp_path / "m.safetensors")
    assert "missing from checkpoint: body.1.0.weight" in str(e.value)
    assert "unexpected in checkpoint: extra.weight" in str(e.value)
    assert "strict=False" in str(e.value)
    report = load_checkpoint(_cnn(), tmp_path / "m.safetensors", strict=False)
    assert report.missing == ["body.1.0.weight"] and report.unexpected == ["extra.weight"]


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("writer", ["torch_save", "raw_pickle"])
def test_pickle_that_runs_code_is_refused(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    payload = {"head.weight": torch.zeros(10, 8), "x": _Evil(marker)}
    path = tmp_path / "evil.pth"
    if writer == "torch_save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(
        CheckpointError, match=r"refused to load: not a plain tensor checkpoint.*weights_only=True"
    ):
        load_checkpoint(_cnn(), path)
    assert not marker.exists()


def test_missing_file_and_non_tensor_entries(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"no such checkpoint file"):
        read_state_dict(tmp_path / "nope.safetensors")
    torch.save({"a": torch.zeros(1), "b": 3}, tmp_path / "mixed.pt")
    with pytest.raises(CheckpointError, match=r"entries that are not tensors: b"):
        read_state_dict(tmp_path / "mixed.pt")


def test_bare_module_checkpoint_loads_into_its_wrapper(tmp_path: Path) -> None:
    bare = nn.Sequential(nn.Flatten(), nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    torch.save(bare.state_dict(), tmp_path / "bare.pth")  # like a torchvision weights file
    other = nn.Sequential(nn.Flatten(), nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    model = as_autoopt_model(other)
    model.reset_classifier(2)
    report = load_checkpoint(model, tmp_path / "bare.pth")
    assert report.reinitialized == ["model.3.weight", "model.3.bias"]
    assert torch.equal(other[1].weight, bare[1].weight)
