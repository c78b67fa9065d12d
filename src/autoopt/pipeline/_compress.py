"""``autoopt compress SPEC.yaml``: run the spec's compression plan on a tune run's best model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoopt.compress import PlanResult, StepRow, run_plan
from autoopt.data import load_data
from autoopt.evaluate import load_run
from autoopt.exceptions import InvalidSpecError
from autoopt.io import read_yaml
from autoopt.pipeline._config import RunConfig
from autoopt.pipeline._validate import load_config

__all__ = ["CompressSpecResult", "compress_spec"]


@dataclass
class CompressSpecResult:
    run_dir: Path
    source: Path
    plan: PlanResult


def compress_spec(
    source: str | Path | RunConfig,
    *,
    out: str | Path | None = None,
    model_run: str | Path | None = None,
    on_step: Any = None,
    model: Any = None,
) -> CompressSpecResult:
    """Load the best model of a tune run and apply ``compress.steps`` to it.

    Args:
        source: the spec YAML (its ``compress:`` section holds the plan), or its :class:`RunConfig`.
        out: the run directory (default ``runs/<spec.name>``); results go to ``RUN_DIR/compress/``.
        model_run: the tune run whose ``best/`` model is compressed (default ``compress.source``, else
            the run directory itself).
        on_step: called with each finished :class:`StepRow`.
        model: compress this model instead of the run's best (e.g. a distilled student); it was trained
            with this spec's ``training:`` (and the best trial's searched values).

    Raises:
        InvalidSpecError: the spec has no ``compress`` section, or no trained model is found (the
            message says which stage or key provides it).
    """
    spec = source if isinstance(source, RunConfig) else load_config(source)
    plan = spec.compress
    if plan is None:
        raise InvalidSpecError(
            "compress: the spec has no 'compress' section; add one with steps, e.g. "
            "compress: {steps: [{prune: {ratio: 0.5}}, {finetune: {epochs: 3}}, {quantize: {mode: static}}]}"
        )
    run_dir = Path(out) if out is not None else Path("runs") / spec.name
    model_dir = Path(model_run or plan.source or run_dir)
    if not (model_dir / "best" / "model.safetensors").is_file():
        raise InvalidSpecError(
            f"compress.source: no trained model in {str(model_dir)!r} (expected best/model.safetensors, "
            "written by the tune stage); run `autoopt tune SPEC.yaml` first or set compress.source to a "
            "tune run directory"
        )
    data = load_data(spec.data)
    if model is None:  # another run's best model: trained with that run's training settings
        loaded = load_run(model_dir, data)
        model = loaded.model
        params = loaded.spec.training if loaded.spec is not None else spec.fixed_training
    else:
        params = spec.fixed_training
    best_params = _best_training(model_dir)
    result = run_plan(
        model,
        data,
        plan,
        out_dir=run_dir / "compress",
        train_config={**params, **best_params},
        on_step=on_step,
    )
    return CompressSpecResult(run_dir=run_dir, source=model_dir, plan=result)


def _best_training(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "best" / "params.yaml"
    return dict(read_yaml(path).get("training") or {}) if path.is_file() else {}


__all__ += ["StepRow"]
