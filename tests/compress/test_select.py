"""What ships: measured candidates, the Pareto front within max_accuracy_drop, never a slower INT8 model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from autoopt.compress import PlanConfig, StepRow, run_plan, select
from autoopt.compress._measure import Meter
from autoopt.compress._select import blocked
from autoopt.data import load_data
from autoopt.evaluate import Candidate
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


def _cand(
    cid: str, acc: float, ms: float, *, precision: str = "fp32", source: str | None = None, flags=()
) -> Candidate:
    return Candidate(
        cid, cid, "compress", f"{cid}.onnx", acc, "accuracy", True, 0, 0, 100, precision=precision,
        derived_from=source, latency_ms={"1": ms}, flags=list(flags),
    )  # fmt: skip


def test_select_never_ships_a_rejected_model_and_marks_the_front() -> None:
    base = _cand("fp32", 0.90, 1.0)
    fast_int8 = _cand(
        "int8", 0.899, 0.5, precision="int8", source="fp32", flags=["blocked: slower than fp32"]
    )
    pruned = _cand("pruned", 0.897, 0.7)
    inaccurate = _cand("pruned_0_9", 0.80, 0.2)
    sel = select([base, fast_int8, pruned, inaccurate], max_accuracy_drop=0.5)
    assert sel.selected is pruned
    assert sel.feasible == ["fp32", "pruned"]
    # the front over the non-rejected ones: fp32 (most accurate), pruned, the inaccurate fastest one
    assert sel.pareto == ["fp32", "pruned", "pruned_0_9"]


def test_select_falls_back_to_the_baseline() -> None:
    base = _cand("fp32", 0.90, 1.0)
    worse = _cand("pruned", 0.85, 0.5)
    assert select([base, worse], max_accuracy_drop=1.0).selected is base


def test_select_minimizes_an_error_metric() -> None:
    def mse(cid: str, score: float, ms: float) -> Candidate:
        return Candidate(
            cid, cid, "compress", f"{cid}.onnx", score, "mse", False, 0, 0, 100, latency_ms={"1": ms}
        )

    base, close, far = mse("fp32", 0.10, 1.0), mse("pruned", 0.15, 0.6), mse("pruned_0_9", 2.0, 0.2)
    sel = select([base, close, far], max_accuracy_drop=0.1)  # mse may grow by 0.1
    assert (
        sel.selected is close
        and sel.feasible == ["fp32", "pruned"]
        and sel.pareto == ["fp32", "pruned", "pruned_0_9"]
    )


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
    assert [c.label for c in res.candidates] == ["baseline (fp32)", "1. prune", "2. finetune", "3. quantize"]
    assert [c.id for c in res.candidates] == ["baseline_fp32", "1_prune", "2_finetune", "3_quantize"]
    assert all(
        c.stage == "compress" and c.metric == "accuracy" and c.higher_is_better for c in res.candidates
    )
    int8 = res.candidates[-1]
    assert int8.precision == "int8" and int8.derived_from == "2_finetune"
    assert res.candidates[1].derived_from == "baseline_fp32"
    assert calls == [(Path(res.candidates[2].onnx), Path(int8.onnx))]
    if int8_faster:
        assert not blocked(int8) and res.selected is int8
        assert res.rows[-1].step == "3. quantize" and res.final_path == Path(int8.onnx)
        assert any("batch 1 against its fp32 source: 0.500 vs 1.000 ms" in n for n in int8.notes)
    else:
        assert "not faster than its fp32 source" in blocked(int8) and res.selected is res.candidates[2]
        assert int8.flags[0].startswith("blocked: INT8 is not faster")
        assert res.rows[-1].step == "shipped: 2. finetune" and "quantize" not in res.rows[-1].step
        assert res.final_path == Path(res.candidates[2].onnx) and res.final_path.suffix == ".onnx"
    # The shipped torch model is the pruned one, whichever file ships.
    assert sum(p.numel() for p in res.model.parameters()) == res.candidates[2].params
    assert res.models["3_quantize"] is res.models["2_finetune"]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["selected"] == res.selected.label and len(saved["candidates"]) == 4
    assert [c["selected"] for c in saved["candidates"]].count(True) == 1


def test_select_measures_candidates_and_ships_the_fastest_feasible(trained, tmp_path, monkeypatch) -> None:
    model, data = trained
    monkeypatch.setattr(Meter, "compare", lambda self, a, b, rounds=3: (1.0, 2.0))  # every INT8 slower
    plan = {
        "select": {"ratios": [0.5], "finetune": {"epochs": 1, "distill": False}, "quantize": QUANT},
        "latency_repeats": 3,
        "max_accuracy_drop": 100,
    }
    res = run_plan(model, data, plan, out_dir=tmp_path, train_config=TRAIN)
    names = [c.label for c in res.candidates]
    assert names[0] == "baseline (fp32)" and len(names) == 4
    assert {c.precision for c in res.candidates} == {"fp32", "int8"}
    for c in res.candidates:  # what the pipeline guard reads
        assert c.params > 0 and c.macs > 0 and c.size_bytes > 0 and Path(c.onnx).is_file() and c.fingerprint
        assert set(c.latency_ms) == {"1", "64"} and res.models[c.id] is not None
        assert c.score is not None
    assert all(blocked(c) for c in res.candidates if c.precision == "int8")
    chosen = res.selected
    assert chosen is not None and chosen.precision == "fp32" and res.rows[-1].path == chosen.onnx
    feasible = [c for c in res.candidates if c.id in res.feasible]
    assert chosen.latency_ms["1"] == min(c.latency_ms["1"] for c in feasible)
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
    assert len(res.candidates) >= 2 and res.selected in res.candidates
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

    row_of = {
        "base": _row("baseline (fp32)", 0.9, None, 1.0),
        "q": _row("quantize (static) of the baseline", 0.9, 0.0, 0.5),
        "pruned": _row("prune 0.5 (fp32)", 0.9, 0.0, 0.7),
    }
    base, q, pruned = (
        _cand("base", 0.9, 1.0),
        _cand("q", 0.9, 0.5, precision="int8", source="base"),
        _cand("pruned", 0.9, 0.7),
    )
    rows = _rows_ending_with(q, [base, q, pruned], row_of)
    assert [r.step for r in rows] == [
        "baseline (fp32)",
        "prune 0.5 (fp32)",
        "source of the shipped model: baseline (fp32)",
        "quantize (static) of the baseline",
    ]
    rows = _rows_ending_with(base, [base, q, pruned], row_of)
    assert rows[-1].step == "shipped: baseline (fp32)" and "quantize" not in rows[-1].step
