"""The nas: section in the search stage: budgets before training, cheap evaluation, top-k, one-shot, CLI."""

from __future__ import annotations

import json
import re

import optuna
import pytest
from typer.testing import CliRunner

from autoopt.cli import app
from autoopt.exceptions import InvalidSpecError
from autoopt.pipeline import load_spec, tune_spec

LIMITS = {"max_stages": 2, "max_blocks": 2, "widths": [8, 16], "stem_widths": [8]}


def _spec(**nas) -> dict:
    return {
        "name": "nas_tiny",
        "seed": 0,
        "data": {"name": "digits"},
        "training": {"epochs": 2, "batch_size": 128, "optimizer": "adamw", "lr": 0.01, "device": "cpu"},
        "nas": {"space": "nas-macro", "limits": LIMITS, **nas},
        "search": {
            "strategy": "regularized-evolution",
            "scheduler": "none",
            "trials": 6,
            "strategy_options": {"population_size": 3, "sample_size": 2},
        },
    }


def _write(tmp_path, spec: dict):
    import yaml

    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


def test_tiny_architecture_search_on_digits_rejects_over_budget_candidates_and_retrains(tmp_path) -> None:
    spec = _spec(max_params=2500, subset=0.5, epochs=1, retrain_top_k=2)
    res = tune_spec(_write(tmp_path, spec), out=tmp_path / "run")
    trials = res.search.study.get_trials()
    assert len(trials) == 6
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    rejected = [t for t in trials if t.user_attrs.get("autoopt:rejected")]
    assert done, "some candidate must fit the budget"
    assert all(t.user_attrs["autoopt:metrics"]["params"] <= 2500 for t in done)
    for t in rejected:  # rejected before training: no checkpoint, the reason names the budget
        assert re.fullmatch(r"rejected: params [\d,]+ > max_params 2500", t.user_attrs["autoopt:fail_reason"])
        assert not (tmp_path / "run" / "trials" / str(t.number) / "model.safetensors").exists()
    retrain = json.loads((tmp_path / "run" / "nas" / "retrain.json").read_text())
    assert retrain["k"] == 2 and len(retrain["candidates"]) == min(2, len(done))
    assert res.metrics["params"] <= 2500 and res.metrics["test_accuracy"] > 0.1
    assert (
        "search_val_accuracy" in res.metrics
    )  # the cheap search-time score is kept beside the retrained one
    front = json.loads((tmp_path / "run" / "nas" / "front.json").read_text())
    assert front["front"][0]["checkpoint"].endswith("model.safetensors")
    assert front["rejected"] == len(rejected)
    assert (tmp_path / "run" / "best" / "model.safetensors").exists()


def test_multi_objective_nas_writes_a_pareto_front_with_measured_latency(tmp_path) -> None:
    spec = _spec(epochs=1, latency_repeats=5)
    spec["search"].update(
        trials=5,
        objectives=[
            {"metric": "val_accuracy", "direction": "maximize"},
            {"metric": "latency_ms", "direction": "minimize"},
        ],
    )
    res = tune_spec(_write(tmp_path, spec), out=tmp_path / "run")
    assert res.front
    for p in res.front:
        assert p["metrics"]["latency_ms"] > 0 and p["params"] > 0
        assert p["checkpoint"] is not None and p["summary"][0].startswith("nas-macro:")
    cache = json.loads((tmp_path / "run" / "nas" / "latency.json").read_text())
    assert len(cache) == len({json.dumps(t.params, sort_keys=True) for t in res.search.study.get_trials()})
    accs = [p["values"][0] for p in res.front]
    lats = [p["values"][1] for p in res.front]
    # A Pareto front: sorted by latency, accuracy never drops as latency grows.
    pairs = sorted(zip(lats, accs, strict=True))
    assert all(a2 >= a1 for (_, a1), (_, a2) in zip(pairs, pairs[1:], strict=False))


def test_an_unreachable_budget_stops_before_any_training(tmp_path) -> None:
    with pytest.raises(
        InvalidSpecError, match=r"nas.max_params: 50 cannot be met: the smallest of 200 sampled"
    ):
        tune_spec(_write(tmp_path, _spec(max_params=50)), out=tmp_path / "run")
    assert not (tmp_path / "run" / "trials").exists()


def test_one_shot_scores_candidates_with_the_supernet_then_retrains_the_best(tmp_path) -> None:
    spec = _spec(one_shot={"epochs": 2, "calibration_batches": 2})
    res = tune_spec(_write(tmp_path, spec), out=tmp_path / "run")
    trials = res.search.study.get_trials()
    assert all(t.user_attrs["autoopt:metrics"]["epochs"] == 0 for t in trials if t.state.name == "COMPLETE")
    assert not (tmp_path / "run" / "trials").exists()  # no candidate was trained on its own
    assert json.loads((tmp_path / "run" / "nas" / "retrain.json").read_text())["k"] == 1
    assert (tmp_path / "run" / "nas" / "supernet" / "supernet.safetensors").exists()
    assert res.metrics["test_accuracy"] > 0.1


def test_spec_errors_of_the_nas_section_are_named() -> None:
    bad = _spec()
    bad["search"]["space"] = {"model.stages": [1, 2]}
    bad["model"] = {"name": "cnn"}
    with pytest.raises(InvalidSpecError) as e:
        load_spec(bad)
    text = str(e.value)
    assert "model.name: 'cnn' conflicts with nas.space 'nas-macro'" in text
    with pytest.raises(InvalidSpecError, match="search.space.model.stages: with a nas: section"):
        load_spec({**_spec(), "search": {"space": {"model.stages": [1, 2]}, "trials": 2}})
    with pytest.raises(InvalidSpecError, match=r"nas.space: unknown architecture space 'nas-macr'"):
        load_spec({**_spec(), "nas": {"space": "nas-macr"}})
    ok = load_spec({**_spec(), "search": {"trials": 2, "objectives": [{"metric": "latency_ms"}]}})
    assert ok.model.name == "nas-macro"


def test_cli_search_prints_the_front_and_the_best_architecture(tmp_path) -> None:
    spec = _spec(epochs=1)
    spec["search"]["trials"] = 3
    res = CliRunner().invoke(
        app, ["search", str(_write(tmp_path, spec)), "--out", str(tmp_path / "run"), "--quiet"]
    )
    assert res.exit_code == 0, res.output
    assert "best architecture (trial" in res.output
    assert "nas-macro:" in res.output and "stem     conv3x3 -> 8 ch" in res.output
    assert "(front:" in res.output


def test_cli_search_without_a_nas_section_points_to_tune(tmp_path) -> None:
    spec = _spec()
    del spec["nas"]
    res = CliRunner().invoke(app, ["search", str(_write(tmp_path, spec))])
    assert res.exit_code == 2
    assert "has no nas: section" in res.output and "autoopt tune" in res.output


def test_the_pipeline_starts_from_an_architecture_search(tmp_path) -> None:
    from autoopt.pipeline import run_spec

    spec = _spec(epochs=1)
    spec["search"]["trials"] = 2
    run_dir = tmp_path / "run"
    run_spec(_write(tmp_path, spec), out=run_dir)
    assert (run_dir / "search" / "fingerprint.json").exists()
    assert (run_dir / "nas" / "front.json").exists() and (run_dir / "report.html").exists()
    params = (run_dir / "best" / "params.yaml").read_text()
    assert "model: nas-macro" in params and "stem_width" in params
