from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autoopt.cli import app
from autoopt.exceptions import InvalidSpecError
from autoopt.models import load_checkpoint
from autoopt.pipeline import build_trial_model, load_spec, tune_spec

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

TINY = {
    "name": "tiny",
    "threads": 1,
    "data": {"name": "digits", "limit": 500},
    "model": {"name": "cnn", "params": {"blocks": 1}},
    "training": {"epochs": 5, "batch_size": 32, "device": "cpu"},
    "search": {
        "strategy": "tpe",
        "scheduler": "asha",
        "trials": 4,
        "space": {"model.channels": [8, 16], "training.lr": {"low": 5e-3, "high": 5e-2, "log": True}},
    },
}


def write(tmp_path: Path, spec: dict, name: str = "spec.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(spec))
    return p


def test_cli_tune_of_a_tiny_digits_spec_end_to_end(tmp_path):
    spec = write(tmp_path, TINY)
    res = runner.invoke(app, ["tune", str(spec), "--out", str(tmp_path / "run"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    best = tmp_path / "run" / "best"
    assert (best / "model.safetensors").exists() and (best / "params.yaml").exists()
    metrics = json.loads((best / "metrics.json").read_text())
    assert metrics == out["metrics"]
    assert {"test_accuracy", "val_accuracy", "params", "macs"} <= set(metrics)
    assert metrics["test_accuracy"] > 0.3  # 10 classes: chance is 0.1
    assert sum(out["counts"].values()) == 4
    # The kept checkpoint really is the best trial's model.
    s = load_spec(spec)
    from autoopt.data import load_data

    data = load_data(s.data)
    model = build_trial_model(s, out["best_params"], data)
    load_checkpoint(model, best / "model.safetensors")
    assert (tmp_path / "run" / "spec.yaml").exists() and (tmp_path / "run" / "study.db").exists()


def test_rerun_resumes_the_study(tmp_path):
    spec = write(tmp_path, {**TINY, "search": {**TINY["search"], "trials": 2}})
    first = [t.params for t in tune_spec(spec, out=tmp_path / "run").search.trials]
    r2 = tune_spec(spec, out=tmp_path / "run", trials=3)
    assert [t.number for t in r2.search.trials] == [0, 1, 2]
    assert [t.params for t in r2.search.trials[:2]] == first
    assert r2.search.trials[2].params not in first  # the sampler's stream went on (no repeated proposal)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"data": {"name": "digitz"}}, "data.name"),
        ({"model": {"name": "vision-transformer"}}, "model.name: unknown model 'vision-transformer'"),
        ({"training": {"optimizer": "lion"}}, "training.optimizer"),
        (
            {"data": {"name": "digits", "split": {"train": 0.5, "val": 0.2, "test": 0.2}}},
            "data.split: train + val + test must sum to 1",
        ),
        (
            {"search": {"space": {"model.widht": [1, 2]}}},
            "search.space.model.widht: model 'cnn' has no parameter 'widht'",
        ),
        (
            {"search": {"space": {"training.lrr": [0.1]}}},
            "search.space.training.lrr: 'training' has no field 'lrr'",
        ),
        (
            {"search": {"space": {"lr": [0.1]}}},
            "search.space.lr: searched parameters are named '<section>.<key>'",
        ),
        ({"search": {"strategy": "tpee"}}, "search.strategy: unknown strategy 'tpee'"),
        (
            {"search": {"objectives": {"metric": "accuracy"}}},
            "search.objectives[0].metric: 'accuracy' is not a metric trials report",
        ),
        (
            {"search": {"objectives": {"metric": "val_acc"}}},
            "search.objectives[0].metric: 'val_acc' is not a metric trials report",
        ),
        (
            {"search": {"constraints": ["parms <= 1000"]}},
            "search.constraints[0]: 'parms' is not a metric trials report or a searched parameter",
        ),
        (
            {"transfer": {"checkpoint": "/nope.safetensors"}},
            "transfer.checkpoint: '/nope.safetensors' does not exist",
        ),
        ({"bogus": 1}, "bogus: unknown key"),
    ],
)
def test_spec_errors_name_the_key_before_training(tmp_path, change, message):
    spec = {**TINY, **change}
    with pytest.raises(InvalidSpecError) as e:
        load_spec(write(tmp_path, spec))
    assert message in str(e.value)
    res = runner.invoke(app, ["tune", str(write(tmp_path, spec, "cli.yaml")), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and message in res.output and not (tmp_path / "r" / "study.db").exists()


def test_a_missing_csv_column_is_named(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("a,b,label\n" + "\n".join(f"{i},{i % 3},{i % 2}" for i in range(40)))
    spec = {
        **TINY,
        "data": {"name": "csv", "path": str(csv), "target": "labl"},
        "model": {"name": "mlp"},
        "search": {"trials": 1},
    }
    with pytest.raises(Exception, match="data.target"):
        tune_spec(write(tmp_path, spec), out=tmp_path / "run")


def test_several_errors_are_listed_at_once(tmp_path):
    spec = {
        **TINY,
        "training": {"lr": -1, "optimizer": "lion"},
        "search": {"strategy": "x", "space": {"model.widht": [1]}},
    }
    with pytest.raises(InvalidSpecError) as e:
        load_spec(write(tmp_path, spec))
    assert len(e.value.errors) >= 4


USER_MODELS = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Exploding(nn.Module):
        def __init__(self, n_in, n_out, explode):
            super().__init__()
            self.fc = nn.Linear(n_in, n_out)
            self.explode = explode
        def forward(self, x):
            out = self.fc(x.flatten(1))
            if self.explode == "nan":
                return out * float("nan")
            if self.explode == "oom" and self.training:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            return out

    def build(meta, explode="no"):
        n_in = 1
        for s in meta.input_shape:
            n_in *= s
        return Exploding(n_in, meta.num_classes, explode)
    """
)


@pytest.mark.parametrize("mode, reason", [("nan", "nan"), ("oom", "out of memory")])
def test_nan_and_out_of_memory_fail_the_trial_and_the_search_goes_on(tmp_path, monkeypatch, mode, reason):
    (tmp_path / "user_models_mod.py").write_text(USER_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = {
        **TINY,
        "model": {"name": "user_models_mod:build"},
        "search": {
            "strategy": "grid",
            "scheduler": "none",
            "trials": 2,
            "space": {"model.explode": ["no", mode]},
        },
    }
    r = tune_spec(write(tmp_path, spec), out=tmp_path / "run")
    rows = {t.params["model.explode"]: t for t in r.search.trials}
    assert rows["no"].state == "COMPLETE"
    assert (
        rows[mode].state == "FAIL"
        and reason in rows[mode].reason.lower()
        and "TrainingError" in rows[mode].reason
    )
    assert r.metrics["trial"] == rows["no"].number


def test_shipped_example_specs_validate():
    specs = [p for p in sorted((ROOT / "examples").glob("*.yaml")) if not p.name.endswith("_space.yaml")]
    assert len(specs) >= 4
    for path in specs:  # the CIFAR example names a checkpoint the user provides
        load_spec(path, check_files=False)


def test_tabular_csv_example_runs(tmp_path, monkeypatch):
    import importlib.util

    mod_spec = importlib.util.spec_from_file_location("make_wine_csv", ROOT / "examples" / "make_wine_csv.py")
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    csv = mod.main(str(tmp_path / "wine.csv"))
    spec = yaml.safe_load((ROOT / "examples" / "tabular_csv.yaml").read_text())
    spec["data"]["path"] = str(csv)
    spec["training"]["epochs"] = 15
    spec["search"]["trials"] = 2
    spec["threads"] = 1
    r = tune_spec(write(tmp_path, spec), out=tmp_path / "run")
    assert r.metrics["test_accuracy"] > 0.6 and r.metrics["dataset"]


def test_transfer_from_a_local_checkpoint_keeps_the_frozen_backbone(tmp_path):
    from safetensors.torch import load_file

    base = tune_spec(
        write(tmp_path, {**TINY, "search": {**TINY["search"], "trials": 1}}, "base.yaml"),
        out=tmp_path / "base",
    )
    ckpt = base.best_dir / "model.safetensors"
    spec = {
        **TINY,
        "model": {"name": "cnn", "params": {"blocks": 1, "channels": base.best_params["model.channels"]}},
        "transfer": {"checkpoint": str(ckpt), "freeze": "backbone"},
        "search": {"strategy": "random", "scheduler": "none", "trials": 1, "space": {"training.lr": [0.05]}},
    }
    r = tune_spec(write(tmp_path, spec, "transfer.yaml"), out=tmp_path / "transfer")
    before, after = load_file(str(ckpt)), load_file(str(r.best_dir / "model.safetensors"))
    head = [k for k in before if k.startswith("head") or k.startswith("classifier") or k.startswith("fc")]
    body = [k for k in before if k not in head and "running" not in k and "num_batches" not in k]
    assert head and body
    assert all((before[k] == after[k]).all() for k in body)  # frozen: unchanged
    assert any(not (before[k] == after[k]).all() for k in head)  # the head trained
