"""`autoopt run` ships exactly what it reports: the guard, the manifest, final/ rebuilt from it, one run
per directory, no rerun of later stages when the best model did not change, the INT8 file served."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from autoopt.data import load_data
from autoopt.evaluate import Candidate, GuardConfig, choose, evaluate_artifact, flag_slower_than_source
from autoopt.exceptions import InvalidSpecError
from autoopt.pipeline import run_spec

# -- the guard, on measured numbers given directly --------------------------------------------------


def cand(cid: str, score: float, b1: float, b64: float, **kw) -> Candidate:
    base = dict(
        label=cid, stage="x", onnx=f"/nonexistent/{cid}.onnx", metric="accuracy", higher_is_better=True,
        params=1000, macs=10_000, size_bytes=4000,
    )  # fmt: skip
    base.update(kw)
    return Candidate(id=cid, score=score, latency_ms={"1": b1, "64": b64}, **base)


def test_int8_slower_than_its_fp32_source_is_not_shipped_and_flagged():
    cands = [
        cand("searched", 0.98, 0.020, 0.40, params=20_000, size_bytes=80_000),
        cand("fp32", 0.975, 0.012, 0.20, params=5_000, size_bytes=20_000, derived_from="searched"),
        cand("int8", 0.975, 0.016, 0.19, params=5_000, size_bytes=6_000, precision="int8",
             derived_from="fp32"),
    ]  # fmt: skip
    flag_slower_than_source(cands, 0.05)
    d = choose(cands, "searched", GuardConfig(max_accuracy_drop=1.0))
    assert d.shipped.id == "fp32"
    int8 = cands[2]
    assert any(f.startswith("blocked: slower than its source 'fp32' at batch 1") for f in int8.flags)
    assert [c.id for c in d.rejected()] == ["int8"]
    assert d.comparison()["speedup"] == {"1": pytest.approx(1.667, abs=1e-3), "64": 2.0}


def test_a_candidate_worse_than_allowed_or_slower_than_the_searched_model_never_ships():
    cands = [
        cand("searched", 0.98, 0.020, 0.40),
        cand("pruned", 0.95, 0.005, 0.10, derived_from="searched", params=500),  # 3 points worse
        cand("student", 0.979, 0.030, 0.30, derived_from="searched", params=500),  # slower at batch 1
    ]
    d = choose(cands, "searched", GuardConfig(max_accuracy_drop=1.0))
    assert d.shipped.id == "searched"
    assert "guard: 3.00 points worse than the searched model (allowed 1)" in cands[1].flags
    assert any("slower than the searched model at batch 1" in f for f in cands[2].flags)


def test_a_blocked_student_never_ships_even_when_faster():
    kd = cand("distilled", 0.97, 0.005, 0.10, params=500)
    kd.flags.append("blocked: distillation made the student worse than the same student trained alone")
    alone = cand("student_alone", 0.975, 0.005, 0.10, params=500)
    d = choose([cand("searched", 0.98, 0.02, 0.4), kd, alone], "searched", GuardConfig(max_accuracy_drop=1.0))
    assert d.shipped.id == "student_alone"
    assert kd.flags == ["blocked: distillation made the student worse than the same student trained alone"]


def test_ties_go_to_accuracy_and_targets_and_preferences_are_applied():
    cands = [
        cand("searched", 0.98, 0.0100, 0.2),
        cand("a", 0.975, 0.0099, 0.2, size_bytes=1000),  # as fast (within 5%), less accurate
        cand("b", 0.979, 0.0098, 0.2, size_bytes=2000),
    ]
    assert choose(cands, "searched", GuardConfig()).shipped.id == "searched"
    assert choose(cands, "searched", GuardConfig(prefer="size")).shipped.id == "a"
    d = choose(cands, "searched", GuardConfig(max_latency_ms=0.00985))
    assert d.shipped.id == "b" and any("above the target" in f for f in cands[0].flags)
    # Tied at batch 1, clearly faster at the largest batch: that one ships (within the allowed drop).
    fast64 = cand("c", 0.977, 0.0099, 0.15, size_bytes=1500)
    assert choose([*cands, fast64], "searched", GuardConfig()).shipped.id == "c"
    # Nothing meets the target: the searched model ships, and keeps its flag.
    d = choose(cands, "searched", GuardConfig(max_latency_ms=0.001))
    assert d.shipped.id == "searched" and d.shipped.flags


def test_regression_drop_is_relative_error():
    ref = cand("searched", 2.0, 0.01, 0.1, metric="mse", higher_is_better=False)
    worse = cand("c", 2.1, 0.001, 0.01, metric="mse", higher_is_better=False)  # 5% more error
    d = choose([ref, worse], "searched", GuardConfig(max_accuracy_drop=4.0))
    assert d.shipped.id == "searched" and "guard: 5.00 % more error" in worse.flags[0]
    assert choose([ref, worse], "searched", GuardConfig(max_accuracy_drop=6.0)).shipped.id == "c"


# -- real runs on digits ---------------------------------------------------------------------------

BASE = {
    "name": "ship",
    "seed": 0,
    "threads": 1,
    "data": {"name": "digits", "limit": 400},
    "model": {"name": "cnn", "params": {"blocks": 2, "channels": 16}},
    "training": {"epochs": 2, "device": "cpu", "lr": 0.01},
    "search": {
        "strategy": "random",
        "scheduler": "none",
        "trials": 2,
        # one value: every trial trains the same configuration, so a longer search keeps trial 0 best
        "space": {"training.weight_decay": [1.0e-4]},
    },
    "ship": {"repeats": 5},
}
COMPRESS = {
    "steps": [
        {"prune": {"ratio": 0.5}},
        {"finetune": {"epochs": 1}},
        {"quantize": {"mode": "static", "calibration_samples": 128, "sensitivity": False}},
    ],
    "latency_repeats": 3,
}
DISTILL = {"student": {"name": "mlp", "params": {"depth": 1, "width": 16}}, "alpha": 0.5}


def write(tmp_path: Path, spec: dict, name: str = "spec.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(spec))
    return p


def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def assert_ships_what_it_reports(run_dir: Path, res) -> dict:
    """final/ holds the manifest's shipped candidate, measured again here, and it obeys the guard."""
    m = manifest(run_dir)
    by_id = {c["id"]: c for c in m["candidates"]}
    shipped, ref = by_id[m["shipped"]], by_id[m["reference"]]
    card = json.loads((run_dir / "final" / "model.json").read_text())
    assert card["deployable"] == "model.onnx" and card["shipped"]["candidate"] == shipped["id"]
    assert sorted(p.name for p in (run_dir / "final").iterdir()) == sorted(
        ["model.json", *card["files"].values()]
    )
    data = load_data(BASE["data"])
    again = evaluate_artifact(run_dir / "final" / "model.onnx", data)
    assert again["accuracy"] == pytest.approx(shipped["score"], abs=1e-9)
    assert card["metrics"]["test_accuracy"] == pytest.approx(shipped["score"], abs=1e-9)
    assert card["model"]["params"] == shipped["params"]
    assert (run_dir / "final" / "model.onnx").stat().st_size == shipped["size_bytes"]
    drop = (ref["score"] - shipped["score"]) * 100
    assert drop <= m["guard"]["max_accuracy_drop"] + 1e-9
    for b, v in ref["latency_ms"].items():
        assert shipped["latency_ms"][b] <= v * (1 + m["guard"]["latency_tolerance"]) + 1e-12
    # Every candidate slower than its source or worse than allowed is flagged, never shipped.
    for c in m["candidates"]:
        if (ref["score"] - (c["score"] or 0)) * 100 > m["guard"]["max_accuracy_drop"]:
            assert c["flags"] and c["id"] != shipped["id"]
        for b, v in c["latency_ms"].items():
            if v > ref["latency_ms"][b] * (1 + m["guard"]["latency_tolerance"]):
                assert any("slower than the searched model" in f for f in c["flags"]), c
    assert res.summary[0]["role"] == "searched model" and res.summary[-1]["role"] == "shipped"
    assert res.summary[-1]["model"] == shipped["label"]
    return m


@pytest.fixture(scope="module")
def compress_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ship")
    spec = {**BASE, "compress": COMPRESS}
    path = write(tmp, spec)
    return tmp, path, tmp / "run", run_spec(path, out=tmp / "run")


def test_every_candidate_is_measured_and_final_holds_the_shipped_one(compress_run):
    _, _, run_dir, res = compress_run
    m = assert_ships_what_it_reports(run_dir, res)
    ids = [c["id"] for c in m["candidates"]]
    assert ids == ["searched", "compress_1_prune", "compress_2_finetune", "compress_3_quantize"]
    assert m["stages"]["compress"]["consumed"] == ["searched"]
    int8 = m["candidates"][-1]
    assert int8["precision"] == "int8" and int8["derived_from"] == "compress_2_finetune"
    for c in m["candidates"]:
        assert set(c["latency_ms"]) == {"1", "64"} and c["latency_settings"]["threads"] == 1
    # The INT8 file, when it measured slower than its fp32 source (as on this tiny CNN), is blocked.
    source = next(c for c in m["candidates"] if c["id"] == int8["derived_from"])
    if int8["latency_ms"]["1"] > source["latency_ms"]["1"] * 1.05:
        assert any(f.startswith("blocked:") for f in int8["flags"]) and m["shipped"] != int8["id"]
    report = (run_dir / "report.html").read_text()
    assert "Candidate models and the guard" in report and "shipped: final/model.onnx" in report


def test_spec_edited_between_runs_rebuilds_final_for_the_new_spec(compress_run):
    tmp, _, run_dir, _ = compress_run
    plain = write(tmp, BASE, "plain.yaml")
    res = run_spec(plain, out=run_dir)
    assert res.stages["search"] == "skipped (up to date)" and res.stages["compress"] == "absent"
    m = assert_ships_what_it_reports(run_dir, res)
    assert [c["id"] for c in m["candidates"]] == ["searched"] and m["shipped"] == "searched"
    card = json.loads((run_dir / "final" / "model.json").read_text())
    assert card["model"]["name"] == "cnn" and card["model"]["config"]["channels"] == 16
    assert not (run_dir / "final" / "model.int8.onnx").exists()
    assert "compress" not in card["spec"] or card["spec"]["compress"] is None
    # --from export rebuilds final/ from the manifest's candidates, not from what is in final/.
    (run_dir / "final" / "stale.onnx").write_bytes(b"x")
    res = run_spec(plain, out=run_dir, from_stage="export")
    assert not (run_dir / "final" / "stale.onnx").exists()
    assert_ships_what_it_reports(run_dir, res)


def test_a_run_directory_of_another_spec_is_refused_and_force_starts_fresh(tmp_path):
    first = write(tmp_path, {**BASE, "search": {**BASE["search"], "trials": 1}})
    run_spec(first, out=tmp_path / "run")
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir()}
    other = write(tmp_path, {**BASE, "name": "other", "search": {**BASE["search"], "trials": 1}}, "b.yaml")
    with pytest.raises(InvalidSpecError, match=r"--out .*run: holds the run 'ship', not 'other'.*--force"):
        run_spec(other, out=tmp_path / "run")
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir()} == before
    res = run_spec(other, out=tmp_path / "run", force=True)
    assert res.stages["search"] == "ran"
    assert json.loads((tmp_path / "run" / "run.json").read_text())["study"] == "other"
    import optuna

    from autoopt.io import open_storage

    names = [
        s.study_name for s in optuna.get_all_study_summaries(open_storage(tmp_path / "run" / "study.db"))
    ]
    assert names == ["other"]  # nothing of the old run is left


def test_more_trials_with_the_same_best_model_does_not_rerun_later_stages(tmp_path):
    spec = {**BASE, "distill": DISTILL}
    path = write(tmp_path, spec)
    first = run_spec(path, out=tmp_path / "run")
    assert first.stages["distill"] == "ran"
    more = run_spec(path, out=tmp_path / "run", more_trials=1)
    assert more.stages["search"] == "ran"
    assert (
        more.stages["distill"] == "skipped (up to date)" and more.stages["export"] == "skipped (up to date)"
    )
    plain = run_spec(path, out=tmp_path / "run")
    assert all(s in ("skipped (up to date)", "absent") for s in plain.stages.values()), plain.stages
    assert_ships_what_it_reports(tmp_path / "run", plain)


def test_a_student_made_worse_by_distillation_is_flagged_and_not_shipped(tmp_path):
    # A teacher barely trained (one epoch at a tiny learning rate) and pure soft targets at a high
    # temperature: the distilled student learns the teacher's near-uniform guesses, the same student
    # trained alone learns the digits.
    spec = {
        **BASE,
        "training": {"epochs": 1, "device": "cpu", "lr": 1.0e-5},
        "search": {**BASE["search"], "trials": 1},
        "distill": {**DISTILL, "alpha": 1.0, "temperature": 20.0, "training": {"epochs": 4, "lr": 0.01}},
    }
    res = run_spec(write(tmp_path, spec), out=tmp_path / "run")
    m = assert_ships_what_it_reports(tmp_path / "run", res)
    by_id = {c["id"]: c for c in m["candidates"]}
    kd, alone = by_id["distilled"], by_id["student_alone"]
    assert kd["score"] < alone["score"]
    assert any(f.startswith("blocked: distillation made the student worse") for f in kd["flags"])
    assert m["shipped"] != "distilled"
    assert any("distilled student: blocked" in f for f in res.flags)
