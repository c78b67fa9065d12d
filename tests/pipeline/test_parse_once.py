"""`autoopt run` parses and validates its spec exactly once; the stages get typed sections from it."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

import autoopt.pipeline
from autoopt.cli import app
from autoopt.compress import PlanConfig
from autoopt.distill import DistillConfig
from autoopt.exceptions import InvalidSpecError
from autoopt.pipeline import RunConfig, load_config
from autoopt.spec import Spec
from autoopt.training import TrainConfig

SPEC = {
    "name": "once",
    "threads": 1,
    "data": {"name": "digits", "limit": 300},
    "model": {"name": "cnn", "params": {"blocks": 1, "channels": 8}},
    "training": {"epochs": 1, "device": "cpu", "lr": 0.01},
    "search": {
        "strategy": "random",
        "scheduler": "none",
        "trials": 2,
        "space": {"training.weight_decay": {"low": 1.0e-5, "high": 1.0e-3, "log": True}},
    },
    "distill": {"student": {"name": "mlp", "params": {"depth": 1, "width": 16}}, "alpha": 0.5},
    "compress": {
        "steps": [{"prune": {"ratio": 0.5}}, {"quantize": {"mode": "dynamic"}}],
        "latency_repeats": 2,
        "max_accuracy_drop": 100,
    },
    "ship": {"repeats": 3},
}


def _count(monkeypatch: pytest.MonkeyPatch, cls: type, name: str) -> list[str]:
    """Count calls of the classmethod ``cls.name`` (the calls still run); each is recorded as the
    autoopt package that made it (``autoopt.pipeline``), or ``autoopt.report`` when made for the report."""
    calls: list[str] = []
    original = getattr(cls, name).__func__

    def counting(klass, *args, **kwargs):
        callers = [f.frame.f_globals.get("__name__", "") for f in inspect.stack()[1:]]
        ours = [".".join(c.split(".")[:2]) for c in callers if c.startswith("autoopt.")]
        calls.append(
            "autoopt.report" if "autoopt.report" in ours else next(c for c in ours if c != "autoopt.spec")
        )
        return original(klass, *args, **kwargs)

    monkeypatch.setattr(cls, name, classmethod(counting))
    return calls


def test_autoopt_run_validates_the_spec_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    specs = _count(monkeypatch, Spec, "model_validate")
    plans = _count(monkeypatch, PlanConfig, "from_spec")
    kd = _count(monkeypatch, DistillConfig, "from_spec")
    entries: list[object] = []
    original = autoopt.pipeline.load_config

    def counting_load_config(*args, **kwargs):
        entries.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(autoopt.pipeline, "load_config", counting_load_config)

    res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "run"), "--quiet"])

    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "final" / "model.onnx").is_file()  # every stage ran
    for stage in ("search", "distill", "compress"):
        assert (tmp_path / "run" / stage / "fingerprint.json").is_file(), stage
    assert [str(e) for e in entries] == [str(path)]  # the one parse entry point, called once
    # The spec itself is validated once; the report stage reads the finished run directory as
    # `autoopt report RUN_DIR` does (its recorded spec.yaml), and nothing else reads a spec.
    assert [c for c in specs if c != "autoopt.report"] == ["autoopt.pipeline"], specs
    assert plans == ["autoopt.pipeline"] and kd == ["autoopt.pipeline"]  # each stage section once, too


def test_load_config_types_every_section() -> None:
    cfg = load_config(SPEC)
    assert isinstance(cfg, RunConfig)
    assert isinstance(cfg.training, TrainConfig) and cfg.training.seed == 0  # the spec's seed
    assert isinstance(cfg.compress, PlanConfig) and cfg.compress.latency_repeats == 2
    assert isinstance(cfg.distill, DistillConfig) and cfg.distill.alpha == 0.5
    assert cfg.nas is None
    assert cfg.train_config({"lr": 0.5}).lr == 0.5 and cfg.training.lr == 0.01
    with pytest.raises(ValidationError, match="frozen"):  # a stage cannot change the spec under the others
        cfg.search.trials = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.training = TrainConfig()  # type: ignore[misc]
    with pytest.raises(InvalidSpecError, match=r"training\.lr: must be > 0\.0; got -1"):
        cfg.train_config({"lr": -1})


def test_command_line_overrides_are_validated_with_the_spec() -> None:
    cfg = load_config(SPEC, trials=7, seed=3)
    assert cfg.search.trials == 7 and cfg.seed == 3 and cfg.training.seed == 3
    with pytest.raises(InvalidSpecError, match=r"search\.trials: must be >= 1; got 0"):
        load_config(SPEC, trials=0)
