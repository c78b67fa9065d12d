"""A tiny real run directory (tune -> compress -> export) and Debian's chromium, made once per session."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from autoopt.evaluate import load_run
from autoopt.export import export_model
from autoopt.pipeline import compress_spec, tune_spec

from ._browser import ensure_chromium

TINY = {
    "name": "tiny_report",
    "seed": 0,
    "threads": 1,
    "data": {"name": "digits", "limit": 300},
    "model": {"name": "cnn", "params": {"blocks": 1, "channels": 8}},
    "training": {"epochs": 2, "batch_size": 32, "device": "cpu"},
    "search": {
        "strategy": "random",
        "trials": 3,
        "space": {"training.lr": {"low": 5e-3, "high": 5e-2, "log": True}, "model.channels": [4, 8]},
    },
    "compress": {
        "steps": [{"prune": {"ratio": 0.5, "round_to": 1, "min_channels": 1}}, {"finetune": {"epochs": 1}}],
        "latency_repeats": 3,
        "max_accuracy_drop": 100.0,
    },
}


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tune`` (3 trials, 2 epochs) -> ``compress`` (prune, finetune 1 epoch) -> ``export``."""
    root = tmp_path_factory.mktemp("report")
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(TINY))
    run = root / "run"
    tune_spec(spec, out=run)
    compress_spec(spec, out=run)
    loaded = load_run(run)
    export_model(
        loaded.model,
        loaded.data,  # type: ignore[arg-type]
        run / "final",
        spec=loaded.spec,
        metrics=loaded.metrics,
        name=loaded.model_name,
        config=loaded.model_config,
        latency_repeats=5,
        parity_samples=64,
    )
    return run


@pytest.fixture(scope="session")
def best_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "best" / "metrics.json").read_text())


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; installed with apt-get when missing (skips only when the install fails)."""
    start = time.perf_counter()
    path, note = ensure_chromium()
    if path is None:
        pytest.skip(f"no headless browser: {note}")
    print(f"chromium: {path} ({note}; {time.perf_counter() - start:.1f} s)")
    return path
