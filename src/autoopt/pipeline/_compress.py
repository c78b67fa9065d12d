"""``autoopt compress SPEC.yaml``: run the spec's compression plan on a tune run's best model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoopt.compress import PlanConfig, PlanResult, StepRow, run_plan
from autoopt.data import load_data
from autoopt.evaluate import load_run
from autoopt.exceptions import InvalidSpecError
from autoopt.pipeline._validate import load_spec

__all__ = ["CompressSpecResult", "compress_spec"]


@dataclass
class CompressSpecResult:
    run_dir: Path
    source: Path
    plan: PlanResult


def compress_spec(
    source: str | Path,
    *,
    out: str | Path | None = None,
    model_run: str | Path | None = None,
    on_step: Any = None,
    model: Any = None,
) -> CompressSpecResult:
    """Load the best model of a tune run and apply ``compress.steps`` to it.

    Args:
        source: the spec YAML (its ``compress:`` section holds the plan).
        out: the run directory (default ``runs/<spec.name>``); results go to ``RUN_DIR/compress/``.
        model_run: the tune run whose ``best/`` model is compressed (default ``compress.source``, else
            the run directory itself).
        on_step: called with each finished :class:`StepRow`.
        model: compress this model instead of the run's best (e.g. a distilled student).

    Raises:
        InvalidSpecError: the spec has no ``compress`` section, or no trained model is found (the
            message says which stage or key provides it).
    """
    spec = load_spec(source)
    if spec.compress is None:
        raise InvalidSpecError(
            "compress: the spec has no 'compress' section; add one with steps, e.g. "
            "compress: {steps: [{prune: {ratio: 0.5}}, {finetune: {epochs: 3}}, {quantize: {mode: static}}]}"
        )
    plan = PlanConfig.from_spec(spec.compress)
    run_dir = Path(out) if out is not None else Path("runs") / spec.name
    model_dir = Path(model_run or plan.source or run_dir)
    if not (model_dir / "best" / "model.safetensors").is_file():
        raise InvalidSpecError(
            f"compress.source: no trained model in {str(model_dir)!r} (expected best/model.safetensors, "
            "written by the tune stage); run `autoopt tune SPEC.yaml` first or set compress.source to a "
            "tune run directory"
        )
    data = load_data(spec.data)
    loaded = load_run(model_dir, data)
    params = loaded.spec.training if loaded.spec is not None else spec.training
    best_params = _best_training(model_dir)
    result = run_plan(
        model if model is not None else loaded.model,
        data,
        plan,
        out_dir=run_dir / "compress",
        train_config={**params, **best_params},
        on_step=on_step,
    )
    return CompressSpecResult(run_dir=run_dir, source=model_dir, plan=result)


def _best_training(model_dir: Path) -> dict[str, Any]:
    import yaml

    path = model_dir / "best" / "params.yaml"
    if not path.is_file():
        return {}
    return dict((yaml.safe_load(path.read_text()) or {}).get("training") or {})


__all__ += ["StepRow"]
