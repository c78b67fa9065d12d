"""Candidate plans measured on this machine: ``compress.select`` (a fixed set) and ``compress.search``.

``select`` measures: INT8 of the unpruned model; for each ratio ``r``: prune ``r`` (hardware-aware
channel counts) + fine-tune, as fp32 and as INT8. ``search`` explores prune ratio, channel rounding,
per-layer policy (``scope``: one ratio per layer, or a global ranking that gives each layer its own)
and quantization mode with a registered search strategy (an Optuna sampler), objectives: accuracy
(max), measured batch-1 latency (min) and file size (min). Every model either makes is a
:class:`autoopt.evaluate.Candidate` made by :meth:`Context.candidate`;
:func:`~autoopt.compress._select.select` picks the one that ships.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from autoopt.compress._measure import Meter, StepRow
from autoopt.compress.prune import CompressionError, prune
from autoopt.data import DataBundle
from autoopt.evaluate import Candidate
from autoopt.export import export_onnx
from autoopt.models import count_macs, count_params, save_checkpoint
from autoopt.training import TrainConfig, fit

__all__ = ["SelectConfig", "PlanSearchConfig", "run_select", "run_search", "Context"]


class _Finetune(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(3, ge=0)
    lr: float | None = Field(None, gt=0)
    distill: bool = True
    alpha: float = Field(0.5, ge=0, le=1)
    temperature: float = Field(4.0, gt=0)


def _check_ratios(values: list[float]) -> list[float]:
    bad = [v for v in values if not 0.0 < v < 1.0]
    if bad:
        raise ValueError(f"every ratio must be > 0 and < 1; got {bad}")
    return values


class SelectConfig(BaseModel):
    """``compress.select``: candidate plans measured on this machine; the fastest within
    ``max_accuracy_drop`` ships.

    Attributes:
        ratios: prune ratios tried (each gives an fp32 and an INT8 candidate).
        int8: also measure INT8 of the unpruned model.
        prune: other ``compress.prune`` options (criterion, round_to, min_channels, scope, ...).
        finetune: fine-tuning after pruning (``epochs``, ``lr``, ``distill`` from the original).
        quantize: ``compress.quantize`` options of the INT8 candidates (``mode``: static, dynamic, qat).
    """

    model_config = ConfigDict(extra="forbid")
    ratios: list[float] = Field(default_factory=lambda: [0.3, 0.5, 0.7])
    int8: bool = True
    prune: dict[str, Any] = Field(default_factory=dict)
    finetune: _Finetune = Field(default_factory=_Finetune)
    quantize: dict[str, Any] = Field(default_factory=lambda: {"mode": "static"})

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, v: list[float]) -> list[float]:
        return _check_ratios(v)


class PlanSearchConfig(BaseModel):
    """``compress.search``: a search over plans, each measured on this machine.

    Attributes:
        budget: plans evaluated (trials).
        strategy: a registered search strategy (``tpe``, ``random``, ``evolution``, ``auto``, ...).
        ratio: ``[low, high]`` of the prune ratio (steps of 0.05).
        round_to: channel roundings tried (``auto``: the vector width; 1: any count).
        scope: per-layer policies tried: ``layer`` (one ratio everywhere), ``global`` (one ranking).
        quantize: quantization modes tried (``none``: the fp32 pruned model).
        prune: other ``compress.prune`` options (criterion, min_channels, ...).
        finetune: fine-tuning after pruning.
        seed: seeds the strategy.
    """

    model_config = ConfigDict(extra="forbid")
    budget: int = Field(8, ge=1)
    strategy: str = "tpe"
    ratio: tuple[float, float] = (0.2, 0.8)
    round_to: list[int | str] = Field(default_factory=lambda: ["auto", 1])  # type: ignore[arg-type]
    scope: list[str] = Field(default_factory=lambda: ["layer", "global"])
    quantize: list[str] = Field(default_factory=lambda: ["static", "none"])
    prune: dict[str, Any] = Field(default_factory=dict)
    finetune: _Finetune = Field(default_factory=_Finetune)
    seed: int = 0

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, v: tuple[float, float]) -> tuple[float, float]:
        _check_ratios(list(v))
        if v[0] > v[1]:
            raise ValueError(f"low ({v[0]}) must not be above high ({v[1]})")
        return v

    @field_validator("quantize")
    @classmethod
    def _modes(cls, v: list[str]) -> list[str]:
        bad = [m for m in v if m not in ("none", "static", "dynamic", "qat")]
        if bad or not v:
            raise ValueError(f"expected modes among none, static, dynamic, qat; got {v}")
        return v

    @field_validator("scope")
    @classmethod
    def _scopes(cls, v: list[str]) -> list[str]:
        if not v or any(s not in ("layer", "global") for s in v):
            raise ValueError(f"expected scopes among layer, global; got {v}")
        return v


@dataclass
class Context:
    """What every candidate needs: the original model, data, measuring, output folder, training."""

    original: nn.Module
    data: DataBundle
    meter: Meter
    out: Path
    train: TrainConfig
    shape: tuple[int, ...]
    baseline_path: Path
    on_row: Callable[[StepRow], None] | None = None
    reports: dict[str, Any] | None = None
    #: the measured row of each candidate, by candidate id (the table is built from them).
    rows: dict[str, StepRow] = field(default_factory=dict)
    #: the torch model of each candidate, by id (an INT8 candidate's: the fp32 model it was made from).
    models: dict[str, nn.Module] = field(default_factory=dict)

    def candidate(
        self,
        row: StepRow,
        model: nn.Module | None,
        *,
        precision: str = "fp32",
        source: Candidate | None = None,
        plan: Mapping[str, Any] | None = None,
    ) -> Candidate:
        """The candidate of a measured row: its id is the row name as a slug (``1_prune``), it derives
        from ``source`` (default: the baseline, the first candidate made) and keeps ``model``."""
        cid = re.sub(r"[^a-z0-9]+", "_", row.step.lower()).strip("_") or "candidate"
        while cid in self.rows:
            cid += "_"
        if source is None and self.rows:
            source_id: str | None = next(iter(self.rows))
        else:
            source_id = source.id if source is not None else None
        notes = [row.note] if row.note else []
        if plan:
            notes.append("plan: " + ", ".join(f"{k} {v}" for k, v in plan.items()))
        c = Candidate(
            id=cid,
            label=row.step,
            stage="compress",
            onnx=row.path,
            score=row.accuracy,
            metric=self.meter.key,
            higher_is_better=self.meter.key == "accuracy",
            params=row.params,
            macs=row.macs,
            size_bytes=row.size_bytes,
            precision=precision,
            derived_from=source_id,
            latency_ms={b: v["p50"] for b, v in row.latency_ms.items() if "p50" in v},
            latency_settings={k: v for k, v in self.meter.settings.items() if k != "line"},
            notes=notes,
        )
        self.rows[cid] = row
        if model is not None:
            self.models[cid] = model
        return c

    def export(self, model: nn.Module, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        save_checkpoint(model, folder / "model.safetensors")
        example = self.data.meta.kind.example_input(self.shape)
        return export_onnx(model.eval(), example, folder / "model.onnx").path

    def measure(self, name: str, path: Path, model: nn.Module, note: str) -> StepRow:
        row = self.meter.row(name, path, count_params(model), count_macs(model, self.shape), note)
        if self.on_row:
            self.on_row(row)
        return row

    def int8(
        self, name: str, model: nn.Module, fp32_path: Path, options: dict[str, Any], folder: Path
    ) -> StepRow:
        from autoopt.compress.quantize import quantize

        mode = options.get("mode", "static")
        source: Any = model if mode == "qat" else fp32_path
        res = quantize(source, folder / "model.onnx", self.data, options, train_config=self.train)
        if self.reports is not None:
            self.reports[name] = res.report.to_dict() if hasattr(res.report, "to_dict") else {}
        return self.measure(name, Path(res.path), model, mode)

    def pruned(
        self, options: dict[str, Any], ft: _Finetune, folder: Path
    ) -> tuple[nn.Module, dict[str, Any]]:
        model, rep = prune(self.original, options, data=self.data, train_config=self.train)
        if not rep.pruned:
            raise CompressionError(f"did not prune: {rep.skipped}")
        if ft.epochs > 0:
            cfg = self.train.model_copy(update={"epochs": ft.epochs, **({"lr": ft.lr} if ft.lr else {})})
            if ft.distill:
                from autoopt.distill import distill

                distill(
                    model,
                    self.original,
                    self.data,
                    cfg,
                    alpha=ft.alpha,
                    temperature=ft.temperature,
                    out_dir=folder / "train",
                )
            else:
                fit(model, self.data, cfg, out_dir=folder / "train")
        return model.eval(), rep.to_dict()


def _plan_name(ratio: float, round_to: Any = None, scope: str | None = None) -> str:
    extra = [f"round_to {round_to}"] if round_to is not None else []
    extra += [f"{scope}"] if scope else []
    return f"prune {ratio:g}" + (f" ({', '.join(extra)})" if extra else "")


def run_select(ctx: Context, cfg: SelectConfig) -> list[Candidate]:
    """Measure the candidates of ``compress.select`` (see the module docstring)."""
    out: list[Candidate] = []
    mode = cfg.quantize.get("mode", "static")
    if cfg.int8:
        name = f"quantize ({mode}) of the baseline"
        row = ctx.int8(name, ctx.original, ctx.baseline_path, cfg.quantize, ctx.out / "int8")
        # derived from the baseline, the first candidate
        out.append(ctx.candidate(row, ctx.original, precision="int8", plan={"ratio": 0.0, "quantize": mode}))
    for i, ratio in enumerate(cfg.ratios, start=1):
        folder = ctx.out / f"prune_{i}"
        base = _plan_name(ratio)
        try:
            model, rep = ctx.pruned({**cfg.prune, "ratio": ratio}, cfg.finetune, folder)
        except CompressionError as e:
            if ctx.reports is not None:
                ctx.reports[base] = {"skipped": str(e)}
            continue
        if ctx.reports is not None:
            ctx.reports[base] = rep
        note = f"effective ratio {rep['effective_ratio']}, round_to {rep['round_to']}"
        fp32 = ctx.measure(f"{base} (fp32)", ctx.export(model, folder), model, note)
        fp32_cand = ctx.candidate(fp32, model, plan={"ratio": ratio, "quantize": "none"})
        out.append(fp32_cand)
        if cfg.quantize:
            row = ctx.int8(
                f"{base} + quantize ({mode})", model, Path(fp32.path), cfg.quantize, folder / "int8"
            )
            out.append(
                ctx.candidate(
                    row, model, precision="int8", source=fp32_cand, plan={"ratio": ratio, "quantize": mode}
                )
            )
    return out


def run_search(ctx: Context, cfg: PlanSearchConfig, key: str) -> tuple[list[Candidate], dict[str, Any]]:
    """Search plans with ``cfg.strategy``; every fp32 and INT8 model measured is a candidate.

    Returns:
        The candidates and a summary (trials with their parameters and objective values).
    """
    import optuna

    from autoopt.strategies import StrategyContext, make_sampler

    directions = ["maximize" if key == "accuracy" else "minimize", "minimize", "minimize"]
    sampler = make_sampler(
        cfg.strategy,
        StrategyContext(seed=cfg.seed, n_trials=cfg.budget, directions=directions),
        key="compress.search.strategy",
    )
    study = optuna.create_study(directions=directions, sampler=sampler)  # type: ignore[arg-type]
    candidates: list[Candidate] = []
    plan_of: dict[str, dict[str, Any]] = {}
    fp32_of: dict[tuple[Any, ...], Candidate | None] = {}
    int8_of: dict[tuple[Any, ...], Candidate] = {}
    for number in range(cfg.budget):
        trial = study.ask()
        ratio = (
            trial.suggest_float("ratio", cfg.ratio[0], cfg.ratio[1], step=0.05)
            if cfg.ratio[0] < cfg.ratio[1]
            else cfg.ratio[0]
        )
        round_to = trial.suggest_categorical("round_to", cfg.round_to)
        scope = trial.suggest_categorical("scope", cfg.scope)
        mode = trial.suggest_categorical("quantize", cfg.quantize)
        arch = (round(ratio, 4), round_to, scope)
        if arch not in fp32_of:
            folder = ctx.out / f"search_{number}"
            options = {**cfg.prune, "ratio": ratio, "round_to": round_to, "scope": scope}
            try:
                model, rep = ctx.pruned(options, cfg.finetune, folder)
            except CompressionError as e:
                fp32_of[arch] = None
                if ctx.reports is not None:
                    ctx.reports[f"search trial {number}"] = {"skipped": str(e)}
            else:
                name = f"search {number}: {_plan_name(ratio, round_to, scope)} (fp32)"
                note = f"effective ratio {rep['effective_ratio']}, round_to {rep['round_to']}"
                row = ctx.measure(name, ctx.export(model, folder), model, note)
                plan = {"ratio": ratio, "round_to": round_to, "scope": scope, "quantize": "none"}
                fp32_cand = ctx.candidate(row, model, plan=plan)
                plan_of[fp32_cand.id] = plan
                fp32_of[arch] = fp32_cand
                candidates.append(fp32_cand)
        fp32 = fp32_of[arch]
        if fp32 is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        final = fp32
        if mode != "none":
            if (arch, mode) not in int8_of:
                name = f"search {number}: {_plan_name(ratio, round_to, scope)} + quantize ({mode})"
                fp32_model = ctx.models[fp32.id]
                row = ctx.int8(
                    name,
                    fp32_model,
                    Path(fp32.onnx),
                    {"mode": mode},
                    ctx.out / f"search_{number}" / f"int8_{mode}",
                )
                int8_of[(arch, mode)] = ctx.candidate(
                    row,
                    fp32_model,
                    precision="int8",
                    source=fp32,
                    plan={**plan_of[fp32.id], "quantize": mode},
                )
                candidates.append(int8_of[(arch, mode)])
            final = int8_of[(arch, mode)]
        values = [final.score or 0.0, final.latency_ms.get("1", 0.0), float(final.size_bytes)]
        study.tell(trial, values)
    trials = [
        {"number": t.number, "params": t.params, "values": t.values, "state": t.state.name}
        for t in study.get_trials(deepcopy=False)
    ]
    return candidates, {"strategy": cfg.strategy, "budget": cfg.budget, "trials": trials}


def clone(model: nn.Module) -> nn.Module:
    """A detached eval-mode copy (a step's model is kept as its candidate while the plan goes on)."""
    return copy.deepcopy(model).eval()
