from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from autoopt.cli import app
from autoopt.compress import PlanConfig, run_plan
from autoopt.data import load_data
from autoopt.exceptions import InvalidSpecError
from autoopt.models import build_model
from autoopt.pipeline import compress_spec, load_spec, tune_spec
from autoopt.training import TrainConfig, fit

runner = CliRunner()


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    data = load_data({"name": "digits", "limit": 500})
    model = build_model("cnn", {"blocks": 2, "channels": 16}, data.meta)
    fit(model, data, TrainConfig(epochs=4, device="cpu", lr=0.01))
    return model, data


def test_plan_rows_measure_every_step(trained, tmp_path):
    model, data = trained
    plan = {"steps": [{"prune": {"ratio": 0.5}}, {"finetune": {"epochs": 2}}], "latency_repeats": 5}
    res = run_plan(model, data, plan, out_dir=tmp_path, train_config={"device": "cpu", "lr": 0.01})
    base, pruned, tuned = res.rows
    assert base.step == "baseline (fp32)" and base.accuracy_drop_pp is None
    assert pruned.params < base.params and pruned.macs < base.macs and pruned.size_bytes < base.size_bytes
    assert tuned.params == pruned.params and tuned.accuracy >= pruned.accuracy
    for row in res.rows:
        assert set(row.latency_ms) == {"1", "64"} and row.latency_ms["1"]["p50"] <= row.latency_ms["1"]["p95"]
        assert Path(row.path).is_file()
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert [r["step"] for r in saved["rows"]] == [r.step for r in res.rows]
    assert (tmp_path / "1_prune" / "model.onnx").is_file() and (
        tmp_path / "2_finetune" / "model.safetensors"
    ).is_file()
    # The baseline model is not modified by the plan.
    assert sum(p.numel() for p in model.parameters()) == base.params


def test_final_row_flagged_when_accuracy_collapses(trained, tmp_path):
    model, data = trained
    res = run_plan(
        model,
        data,
        {"steps": [{"prune": {"ratio": 0.9}}], "max_accuracy_drop": 0.0, "latency_repeats": 3},
        out_dir=tmp_path,
    )
    assert res.rows[-1].accuracy_drop_pp > 0 and res.rows[-1].flagged


@pytest.mark.parametrize(
    "plan, message",
    [
        ({"steps": []}, "compress.steps: give at least one step"),
        ({"steps": [{"shrink": {}}]}, r"compress.steps\[0\]: unknown compression step 'shrink'"),
        (
            {"steps": [{"finetune": {}}, {"prune": {"ratio": 1.5}}]},
            r"^compress\.steps\[1\]\.prune\.ratio: must be > 0 and < 1 .*; got 1\.5$",
        ),
        (
            {"steps": [{"finetune": {"epochs": 0}}]},
            r"^compress\.steps\[0\]\.finetune\.epochs: must be >= 1; got 0$",
        ),
        ({"steps": [{"finetune": {"lr": 0}}]}, r"compress\.steps\[0\]\.finetune\.lr: must be > 0"),
        (
            {"steps": [{"quantize": {"mode": "int4"}}]},
            r"compress\.steps\[0\]\.quantize\.mode: expected one of",
        ),
        (
            {"steps": [{"prune": {"ratoi": 0.5}}]},
            r"compress\.steps\[0\]\.prune\.ratoi: unknown key.*'ratio'",
        ),
        (
            {"steps": [{"prune": 0.5}]},
            r"compress\.steps\[0\]\.prune: expected a mapping of options; got 0\.5",
        ),
        ({"steps": [{"prune": {}, "finetune": {}}]}, "as the step's only key"),
        ({"steps": [{"prune": {}}], "bogus": 1}, "compress.bogus: unknown key"),
        (
            {"steps": [{"quantize": {}}], "latency_batch_sizes": [1, 0]},
            r"^compress\.latency_batch_sizes: every batch size must be >= 1; got \[1, 0\]$",
        ),
    ],
)
def test_plan_config_errors_name_the_key(plan, message):
    with pytest.raises(InvalidSpecError, match=message):
        PlanConfig.from_spec(plan)


def test_compress_without_a_trained_model_says_which_stage_provides_it(tmp_path):
    spec = {
        "name": "c",
        "data": {"name": "digits", "limit": 200},
        "compress": {"steps": [{"prune": {"ratio": 0.5}}]},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(
        InvalidSpecError, match=r"compress.source: no trained model .* run `autoopt tune SPEC.yaml` first"
    ):
        compress_spec(tmp_path / "s.yaml", out=tmp_path / "run")
    res = runner.invoke(app, ["compress", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and "no trained model" in res.output


def test_compress_cli_after_tune(tmp_path):
    spec = {
        "name": "c",
        "threads": 1,
        "data": {"name": "digits", "limit": 400},
        "model": {"name": "cnn", "params": {"blocks": 2, "channels": 16}},
        "training": {"epochs": 3, "device": "cpu", "lr": 0.01},
        "search": {"strategy": "random", "scheduler": "none", "trials": 1},
        "compress": {"steps": [{"prune": {"ratio": 0.5}}, {"finetune": {"epochs": 1}}], "latency_repeats": 3},
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    load_spec(path)
    tune_spec(path, out=tmp_path / "run")
    res = runner.invoke(app, ["compress", str(path), "--out", str(tmp_path / "run"), "--json"])
    assert res.exit_code in (0, 3), res.output
    rows = json.loads(res.stdout)["rows"]
    assert [r["step"] for r in rows] == ["baseline (fp32)", "1. prune", "2. finetune"]


def test_prune_finetune_quantize_plan(trained, tmp_path):
    model, data = trained
    plan = {
        "steps": [
            {"prune": {"ratio": 0.5}},
            {"finetune": {"epochs": 2, "distill": True}},
            {"quantize": {"mode": "static", "calibration_samples": 128, "sensitivity": False}},
        ],
        "latency_repeats": 5,
        "max_accuracy_drop": 100,
    }
    res = run_plan(model, data, plan, out_dir=tmp_path, train_config={"device": "cpu", "lr": 0.01})
    base = res.rows[0]
    final = next(r for r in res.rows if r.step == "3. quantize")
    assert Path(final.path).suffix == ".onnx"
    # ~3.6x fewer weights, each 4x smaller; on a model this tiny QDQ scales and graph overhead keep the
    # file at ~1/2.6 of the baseline (the benchmark measures realistic sizes).
    assert final.size_bytes * 2 < base.size_bytes and final.params < base.params
    assert final.accuracy is not None and not final.flagged
    # What ships is the INT8 model unless it measured slower than its fp32 source (then the source).
    int8 = next(c for c in res.candidates if c.label == "3. quantize")
    assert int8.derived_from == "2_finetune"
    if any(f.startswith("blocked:") for f in int8.flags):
        assert res.rows[-1].step == "shipped: 2. finetune" and res.selected.label == "2. finetune"
        assert res.final_path == Path(res.rows[2].path)
    else:
        assert any("against its fp32 source" in n for n in int8.notes)
        assert res.rows[-1] is final and res.final_path == Path(final.path)


def test_quantize_must_be_last():
    with pytest.raises(
        InvalidSpecError, match=r"steps\[0\]: 'quantize' makes an INT8 ONNX model; it must be the last"
    ):
        PlanConfig.from_spec({"steps": [{"quantize": {}}, {"finetune": {}}]})
