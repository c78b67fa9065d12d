"""The ``nas:`` section of a search: space, budgets, cheap evaluation, one-shot, top-k retraining.

The search stage (``autoopt.pipeline.tune_spec``) calls :func:`prepare_nas` once before the search,
asks it for each candidate's static metrics (which reject a candidate over a hard budget before it
trains), and after the search calls :func:`retrain_top_k` and :func:`write_front`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Subset

from autoopt.data import DataBundle
from autoopt.io import write_json
from autoopt.models import count_macs, count_params, load_checkpoint, save_checkpoint
from autoopt.models.arch import describe
from autoopt.nas._budget import ArchBudget, LatencyCache, arch_space_for, check_feasible
from autoopt.nas._config import NasConfig
from autoopt.nas.oneshot import SuperNet, SupernetStats, train_supernet
from autoopt.search import TuneResult
from autoopt.space import Space
from autoopt.training import TrainConfig, fit

__all__ = ["NasRun", "prepare_nas", "search_space", "retrain_top_k", "write_front", "arch_of"]


def arch_of(params: Mapping[str, Any]) -> dict[str, Any]:
    """The architecture decisions of a trial's params (``model.*`` without the prefix)."""
    return {k.removeprefix("model."): v for k, v in params.items() if k.startswith("model.")}


def search_space(cfg: NasConfig | None, base: Space, meta: Any) -> Space:
    """The searched space: ``base`` (``search.space``), plus the architecture's decisions with ``cfg``."""
    if cfg is None:
        return base
    return arch_space_for(cfg.space, meta, cfg.limits).merged(base)


@dataclass
class NasRun:
    """What the search stage needs of the ``nas:`` section while it runs."""

    cfg: NasConfig
    budget: ArchBudget
    latency: LatencyCache | None
    candidate_data: DataBundle
    feasible: dict[str, Any] = field(default_factory=dict)
    supernet: SuperNet | None = None
    supernet_stats: SupernetStats | None = None

    def static(self, model: nn.Module, params: Mapping[str, Any], input_shape: Any) -> dict[str, Any]:
        """Params, MACs (and latency) of a candidate; raises ``TrialRejected`` over a budget."""
        return self.budget.check(model, input_shape, arch=arch_of(params), latency=self.latency)

    def one_shot_scores(self, params: Mapping[str, Any], batch_size: int, seed: int) -> dict[str, Any] | None:
        """With one-shot, the candidate's validation metrics with the supernet's weights; else ``None``."""
        one_shot = self.cfg.one_shot
        if self.supernet is None or one_shot is None:
            return None
        return self.supernet.score(
            arch_of(params),
            self.candidate_data,
            calibration_batches=one_shot.calibration_batches,
            batch_size=batch_size,
            seed=seed,
        )


def prepare_nas(
    cfg: NasConfig | None,
    data: DataBundle,
    run_dir: Path,
    *,
    training: TrainConfig,
    seed: int,
    metrics: Sequence[str] = (),
    data_key: Any = None,
) -> NasRun | None:
    """Check the budgets against the space, prepare the candidates' data and, for one-shot, the supernet.

    Args:
        cfg: the ``nas:`` section (``None``: no architecture search, returns ``None``).
        data: the run's data.
        run_dir: the run directory (``nas/`` holds the latency cache and the supernet).
        training: the run's training settings (the supernet's batch size).
        seed: the run's seed.
        metrics: the search's objective metrics and constraints (``latency_ms`` there turns on the
            latency measurement).
        data_key: what identifies the data (the ``data:`` section), part of the supernet's fingerprint.

    Raises:
        InvalidSpecError: a budget no sampled architecture meets (naming the smallest one found).
    """
    if cfg is None:
        return None
    budget = ArchBudget(cfg.max_params, cfg.max_macs, cfg.max_latency_ms)
    wants_latency = cfg.max_latency_ms is not None or any("latency_ms" in m for m in metrics)
    latency = (
        LatencyCache(
            run_dir / "nas" / "latency.json", batch_size=cfg.latency_batch_size, repeats=cfg.latency_repeats
        )
        if wants_latency
        else None
    )
    feasible = (
        check_feasible(
            cfg.space,
            data.meta,
            budget,
            limits=cfg.limits,
            n_samples=cfg.feasibility_samples,
            seed=seed,
            latency=latency,
        )
        if budget.active
        else {}
    )
    candidate_data = data
    if cfg.subset < 1.0:
        n = len(data.train)  # type: ignore[arg-type]
        g = torch.Generator().manual_seed(seed)
        keep = torch.randperm(n, generator=g)[: max(1, math.ceil(cfg.subset * n))].tolist()
        candidate_data = dataclasses.replace(data, train=Subset(data.train, sorted(keep)))
    run = NasRun(cfg, budget, latency, candidate_data, feasible)
    if cfg.one_shot is not None:
        run.supernet, run.supernet_stats = _supernet(cfg, candidate_data, run_dir, training, seed, data_key)
    return run


def _supernet(
    cfg: NasConfig, data: DataBundle, run_dir: Path, training: TrainConfig, seed: int, data_key: Any
) -> tuple[SuperNet, SupernetStats]:
    """Train the supernet once per configuration; a rerun loads the saved weights."""
    assert cfg.one_shot is not None
    key = json.dumps(
        {
            "limits": cfg.limits,
            "one_shot": cfg.one_shot.model_dump(),
            "subset": cfg.subset,
            "batch_size": training.batch_size,
            "seed": seed,
            "data": data_key,
        },
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    folder = run_dir / "nas" / "supernet"
    torch.manual_seed(seed)
    net = SuperNet(data.meta, **cfg.limits)
    info = folder / "supernet.json"
    if info.is_file() and json.loads(info.read_text()).get("key") == digest:
        load_checkpoint(net, folder / "supernet.safetensors")
        saved = json.loads(info.read_text())
        return net, SupernetStats(**saved["stats"])
    stats = train_supernet(
        net,
        data,
        epochs=cfg.one_shot.epochs,
        lr=cfg.one_shot.lr,
        batch_size=training.batch_size,
        seed=seed,
    )
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(net, folder / "supernet.safetensors")
    write_json(info, {"key": digest, "stats": dataclasses.asdict(stats)})
    return net, stats


def _ranked(result: TuneResult, k: int) -> list[Any]:
    """The best ``k`` completed feasible trials: the Pareto front first (several objectives), by value."""
    rows = [r for r in result.trials if r.state == "COMPLETE" and r.feasible and r.values]
    sign = [1.0 if d == "minimize" else -1.0 for d in result.directions]
    if result.multi_objective:
        front = {r.number for r in result.pareto}
        rows.sort(key=lambda r: (r.number not in front, sign[0] * (r.values or [0.0])[0]))
    else:
        rows.sort(key=lambda r: sign[0] * (r.values or [0.0])[0])
    return rows[:k]


def retrain_top_k(
    nas: NasRun,
    result: TuneResult,
    data: DataBundle,
    space: Space,
    run_dir: Path,
    build: Callable[[dict[str, Any]], nn.Module],
    train_config: Callable[[dict[str, Any]], TrainConfig],
) -> tuple[Any, Path, dict[str, Any]] | None:
    """Train the k best candidates again on the whole training split.

    Returns:
        ``(row, checkpoint, metrics)`` of the best retrained candidate (``metrics``: its ``val_*``
        after retraining, and the search-time values as ``search_val_*``), or ``None`` when off.

    ``build(params)`` builds a trial's model; ``train_config(params)`` is its training settings. The
    best is chosen by the validation metric the training monitors (``training.metric``).
    """
    k = max(nas.cfg.retrain_top_k, 1 if nas.supernet is not None else 0)
    if k == 0:
        return None
    rows = _ranked(result, k)
    if not rows:
        return None
    out: list[dict[str, Any]] = []
    best: tuple[float, Any, Path, dict[str, Any]] | None = None
    for row in rows:
        params = space.complete(row.params)
        model = build(params)
        cfg = train_config(params)
        folder = run_dir / "nas" / "retrain" / str(row.number)
        res = fit(model, data, cfg, out_dir=folder)
        score = res.best_value if res.direction == "maximize" else -res.best_value
        out.append(
            {
                "trial": row.number,
                "search_values": row.values,
                "monitored": f"val_{res.metric}",
                **{f"val_{m}": v for m, v in res.val_metrics.items()},
                "epochs": res.epochs_run,
                "checkpoint": str(folder / "model.safetensors"),
            }
        )
        if best is None or score > best[0]:
            retrained = {f"val_{m}": v for m, v in res.val_metrics.items()}
            searched = {f"search_{m}": v for m, v in row.metrics.items() if m.startswith("val_")}
            best = (score, row, folder / "model.safetensors", {**searched, **retrained})
    write_json(run_dir / "nas" / "retrain.json", {"k": k, "candidates": out})
    assert best is not None
    return best[1], best[2], best[3]


def write_front(
    result: TuneResult, nas: NasRun, run_dir: Path, build: Any, space: Space, input_shape: Any
) -> list[dict[str, Any]]:
    """Write ``RUN_DIR/nas/front.json``: the Pareto front (or the best trial), each with its checkpoint.

    Each point lists its trial, objective values, metrics, architecture decisions, a readable summary
    and the checkpoint of its training (``trials/<n>/model.safetensors``; absent for one-shot scores).
    """
    points = []
    rows = result.pareto if result.multi_objective else _ranked(result, 1)
    for row in rows:
        params = space.complete(row.params)
        ckpt = run_dir / "trials" / str(row.number) / "model.safetensors"
        model = build(params)
        points.append(
            {
                "trial": row.number,
                "values": row.values,
                "metrics": row.metrics,
                "architecture": arch_of(params),
                "params": count_params(model),
                "macs": count_macs(model, input_shape),
                "summary": describe(model).splitlines(),
                "checkpoint": str(ckpt) if ckpt.exists() else None,
            }
        )
    payload: dict[str, Any] = {
        "space": nas.cfg.space,
        "objectives": [f"{m} ({d})" for m, d in zip(result.metrics or [], result.directions, strict=False)],
        "front": points,
        "rejected": sum(1 for r in result.trials if (r.reason or "").startswith("rejected:")),
        "feasibility": {k: v for k, v in nas.feasible.items() if not k.endswith("_arch")},
    }
    if nas.supernet_stats is not None:
        payload["supernet"] = dataclasses.asdict(nas.supernet_stats)
    if nas.latency is not None:
        payload["latency_measurements"] = nas.latency.measured
    write_json(run_dir / "nas" / "front.json", payload)
    return points
