"""What ships: measured candidates, the Pareto front within max_accuracy_drop, never a slower INT8 model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from autoopt.compress import Candidate, PlanConfig, StepRow, run_plan, select
from autoopt.compress._measure import Meter
from autoopt.data import load_data
from autoopt.exceptions import InvalidSpecError
from autoopt.models import build_model
from autoopt.training import TrainConfig, fit

TRAIN = {"device": "cpu", "lr": 0.01}
QUANT = {"mode": "static", "calibration_samples": 128, "sensitivity": False}


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    data = load_data({"name": "digits", "limit": 400})
    model = build_model("cnn", {"blocks": 2, "channels": 16}, data.meta)  # 16, 32 channels
    fit(model, data, TrainConfig(epochs=4, device="cpu", lr=0.01))
    return model, data


def _row(name: str, acc: float, drop: float | None, ms: float, size: int = 100) -> StepRow:
    return StepRow(name, acc, drop, 0, 0, size, {"1": {"p50": ms, "p95": ms}}, path=f"{name}.onnx")


def test_select_never_ships_a_rejected_model_and_marks_the_front() -> None:
    base = Candidate(_row("fp32", 0.90, None, 1.0))
    fast_int8 = Candidate(_row("int8", 0.899, 0.1, 0.5), "int8", source="fp32", rejected="slower than fp32")
    pruned = Candidate(_row("pruned", 0.897, 0.3, 0.7))
    inaccurate = Candidate(_row("pruned 0.9", 0.80, 10.0, 0.2))
    chosen = select([base, fast_int8, pruned, inaccurate], max_accuracy_drop=0.5)
    assert chosen is pruned and pruned.selected and not fast_int8.selected
    assert [c.feasible for c in (base, fast_int8, pruned, inaccurate)] == [True, False, True, False]
    # the front over the non-rejected ones: fp32 (most accurate), pruned, the inaccurate fastest one
    assert [c.pareto for c in (base, fast_int8, pruned, inaccurate)] == [True, False, True, True]


def test_select_falls_back_to_the_baseline() -> None:
    base = Candidate(_row("fp32", 0.90, None, 1.0))
    worse = Candidate(_row("pruned", 0.85, 5.0, 0.5))
    assert select([base, worse], max_accuracy_drop=1.0) is base


@pytest.mark.parametrize("int8_faster", [False, True])
def test_steps_plan_ships_fp32_when_its_int8_model_is_slower(
    trained, tmp_path, monkeypatch, int8_faster
) -> None:
    model, data = trained
    calls = []

    def compare(self, first: Path, second: Path, rounds: int = 3) -> tuple[float, float]:
        calls.append((first, second))
        return (1.0, 0.5) if int8_faster else (1.0, 1.6)  # (fp32 ms, int8 ms): the seam is the timing only

    monkeypatch.setattr(Meter, "compare", compare)
    plan = {
        "steps": [{"prune": {"ratio": 0.5}}, {"finetune": {"epochs": 1}}, {"quantize": QUANT}],
        "latency_repeats": 3,
        "max_accuracy_drop": 100,
    }
    res = run_plan(model, data, plan, out_dir=tmp_path, train_config=TRAIN)
    steps = [c.step for c in res.candidates]
    assert steps == ["baseline (fp32)", "1. prune", "2. finetune", "3. quantize"]
    int8 = res.candidates[-1]
    assert int8.precision == "int8" and int8.source == "2. finetune"
    assert calls == [(Path(res.candidates[2].row.path), Path(int8.row.path))]
    if int8_faster:
        assert not int8.rejected and int8.selected
        assert res.rows[-1].step == "3. quantize" and res.final_path == int8.onnx_path
    else:
        assert "not faster than its fp32 source" in int8.rejected and not int8.selected
        assert res.candidates[2].selected
        assert res.rows[-1].step == "shipped: 2. finetune" and "quantize" not in res.rows[-1].step
        assert res.final_path == res.candidates[2].onnx_path and res.final_path.suffix == ".onnx"
    # The shipped torch model is the pruned one, whichever file ships.
    assert sum(p.numel() for p in res.model.parameters()) == res.candidates[2].row.params
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["selected"] == res.selected.step and len(saved["candidates"]) == 4


def test_select_measures_candidates_and_ships_the_fastest_feasible(trained, tmp_path, monkeypatch) -> None:
    model, data = trained
    monkeypatch.setattr(Meter, "compare", lambda self, a, b, rounds=3: (1.0, 2.0))  # every INT8 slower
    plan = {
        "select": {"ratios": [0.5], "finetune": {"epochs": 1, "distill": False}, "quantize": QUANT},
        "latency_repeats": 3,
        "max_accuracy_drop": 100,
    }
    res = run_plan(model, data, plan, out_dir=tmp_path, train_config=TRAIN)
    names = [c.step for c in res.candidates]
    assert names[0] == "baseline (fp32)" and len(names) == 4
    assert {c.precision for c in res.candidates} == {"fp32", "int8"}
    for c in res.candidates:  # what the pipeline guard reads
        assert c.row.params > 0 and c.row.macs > 0 and c.row.size_bytes > 0 and c.onnx_path.is_file()
        assert c.latency_b1_ms is not None and c.latency_b64_ms is not None and c.model is not None
        assert c.accuracy is not None
    assert all(c.rejected for c in res.candidates if c.precision == "int8")
    chosen = res.candidates[[c.selected for c in res.candidates].index(True)]
    assert chosen.precision == "fp32" and res.rows[-1].path == str(chosen.onnx_path)
    feasible = [c for c in res.candidates if c.feasible]
    assert chosen.latency_b1_ms == min(c.latency_b1_ms for c in feasible)
    assert res.reference is not None and res.reference.step.startswith("PyTorch eager")
    assert "onnxruntime" in res.settings["line"] and "graph_optimization_level" in res.settings


def test_search_explores_plans_with_a_strategy(trained, tmp_path) -> None:
    model, data = trained
    plan = {
        "search": {
            "budget": 2,
            "strategy": "random",
            "ratio": [0.4, 0.6],
            "quantize": ["none"],
            "finetune": {"epochs": 0},
        },
        "latency_repeats": 3,
        "max_accuracy_drop": 100,
    }
    res = run_plan(model, data, plan, out_dir=tmp_path, train_config=TRAIN)
    trials = res.reports["search"]["trials"]
    assert len(trials) == 2 and all(
        set(t["params"]) == {"ratio", "round_to", "scope", "quantize"} for t in trials
    )
    assert len(res.candidates) >= 2 and sum(c.selected for c in res.candidates) == 1
    done = [t for t in trials if t["state"] == "COMPLETE"]
    assert all(len(t["values"]) == 3 for t in done)  # accuracy, batch-1 latency, size


@pytest.mark.parametrize(
    "plan, message",
    [
        ({"select": {"ratios": [1.2]}}, r"compress\.select\.ratios"),
        ({"search": {"quantize": ["fp8"]}}, r"compress\.search\.quantize"),
        ({"steps": [{"prune": {}}], "select": {}}, "give one of steps, select, search"),
    ],
)
def test_plan_errors_name_the_key(plan, message) -> None:
    with pytest.raises(InvalidSpecError, match=message):
        PlanConfig.from_spec(plan)


@pytest.mark.parametrize(
    "plan, message",
    [
        ({"select": {"prune": {"criterion": "nope"}}}, r"compress\.select\.prune\.criterion"),
        ({"select": {"quantize": {"mode": "int4"}}}, r"compress\.select\.quantize\.mode"),
        ({"search": {"strategy": "astrology"}}, r"compress\.search\.strategy"),
    ],
)
def test_candidate_options_are_checked_before_anything_runs(plan, message) -> None:
    with pytest.raises(InvalidSpecError, match=message):
        PlanConfig.from_spec(plan)


def test_rows_end_with_what_ships_after_its_fp32_source() -> None:
    from autoopt.compress._plan import _rows_ending_with

    base = Candidate(_row("baseline (fp32)", 0.9, None, 1.0))
    q = Candidate(_row("quantize (static) of the baseline", 0.9, 0.0, 0.5), "int8", source="baseline (fp32)")
    pruned = Candidate(_row("prune 0.5 (fp32)", 0.9, 0.0, 0.7))
    rows = _rows_ending_with(q, [base, q, pruned])
    assert [r.step for r in rows] == [
        "baseline (fp32)",
        "prune 0.5 (fp32)",
        "source of the shipped model: baseline (fp32)",
        "quantize (static) of the baseline",
    ]
    rows = _rows_ending_with(base, [base, q, pruned])
    assert rows[-1].step == "shipped: baseline (fp32)" and "quantize" not in rows[-1].step
