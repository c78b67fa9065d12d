"""A compression plan: steps (prune, sparsity, finetune, quantize) applied in order, each measured;
or candidate plans (``select``) or a search over plans (``search``), chosen by measured latency.

Every model writes one metrics row: accuracy of the deployable ONNX model itself (and its drop vs
the fp32 baseline), params, MACs, file size, ONNX Runtime latency p50/p95 at batch 1 and 64 through
the one latency harness, and the speed-up vs the baseline. Every row is also a
:class:`~autoopt.compress._select.Candidate`; what ships is chosen by
:func:`~autoopt.compress._select.select`: with ``steps`` the last step, except that an INT8 model
not faster at batch 1 than its fp32 source is never shipped (the fp32 source is); with ``select`` /
``search`` the fastest candidate within ``max_accuracy_drop``. A PyTorch eager row of the input
model is measured as a reference, and the rows carry the latency settings.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from autoopt.compress._candidates import (
    Context,
    PlanSearchConfig,
    SelectConfig,
    clone,
    run_search,
    run_select,
)
from autoopt.compress._measure import Meter, StepRow
from autoopt.compress._select import Candidate, select
from autoopt.compress.prune import CompressionError, PruneConfig, SparsityConfig, prune, prune_unstructured
from autoopt.data import DataBundle
from autoopt.exceptions import InvalidSpecError
from autoopt.export import ExportError, export_onnx
from autoopt.io import write_json
from autoopt.models import count_macs, count_params, save_checkpoint
from autoopt.training import TrainConfig, fit

__all__ = ["Candidate", "FinetuneConfig", "PlanConfig", "PlanResult", "StepRow", "run_plan", "STEP_KINDS"]

STEP_KINDS = ("prune", "sparsity", "finetune", "quantize")


class FinetuneConfig(BaseModel):
    """``finetune:`` step: train the current model a few epochs, optionally distilling from the original.

    Attributes:
        epochs: fine-tuning epochs.
        lr: learning rate; ``None``: the spec's ``training.lr``.
        distill: distill from the unpruned original model (knowledge distillation).
        alpha: weight of the teacher's soft targets when ``distill`` is on.
        temperature: softmax temperature of the soft targets when ``distill`` is on.
    """

    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(5, ge=1)
    lr: float | None = Field(None, gt=0)
    distill: bool = False
    alpha: float = Field(0.5, ge=0, le=1)
    temperature: float = Field(4.0, gt=0)


class PlanConfig(BaseModel):
    """``compress:`` section: the steps and how to measure them.

    Attributes:
        source: a tune run whose ``best/`` model is compressed; ``None``: this spec's run.
        steps: the steps in order, each ``{prune | sparsity | finetune | quantize: {options}}``;
            ``quantize`` must be last.
        on_error: ``stop``, or ``skip``: a step that cannot be applied is reported and skipped.
        max_accuracy_drop: percentage points of accuracy the final model may lose against the fp32
            baseline before its row is flagged.
        latency_batch_sizes: batch sizes of the latency columns.
        latency_repeats: timed runs per batch size.
        threads: ONNX Runtime intra-op threads for the measurements.
        select: candidate plans measured on this machine (:class:`SelectConfig`); instead of ``steps``.
        search: a search over plans (:class:`PlanSearchConfig`); instead of ``steps``.
        reference: also time the input model in PyTorch eager mode (a reference row).
        int8_check_rounds: interleaved timing rounds that decide whether an INT8 model is faster than
            its fp32 source.
    """

    model_config = ConfigDict(extra="forbid")
    source: str | None = None
    steps: list[dict[str, Any]] = Field(default_factory=list)
    select: SelectConfig | None = None
    search: PlanSearchConfig | None = None
    reference: bool = True
    int8_check_rounds: int = Field(3, ge=1)
    on_error: Literal["stop", "skip"] = "stop"
    max_accuracy_drop: float = Field(1.0, ge=0)
    latency_batch_sizes: list[int] = Field(default_factory=lambda: [1, 64])
    latency_repeats: int = Field(50, ge=1)
    threads: int = Field(1, ge=1)

    @classmethod
    def from_spec(cls, section: Mapping[str, Any] | None, key: str = "compress") -> PlanConfig:
        """Validate the section and every step's own config; all problems listed with key paths."""
        errors: list[str] = []
        try:
            cfg = cls.model_validate(dict(section or {}))
        except ValidationError as exc:
            raise InvalidSpecError(errors=[_line(key, e) for e in exc.errors()]) from None
        given = [k for k in ("steps", "select", "search") if getattr(cfg, k)]
        if not given:
            errors.append(
                f"{key}.steps: give at least one step ({', '.join(STEP_KINDS)}), or {key}.select "
                f"(candidate plans) or {key}.search (a search over plans)"
            )
        elif len(given) > 1:
            errors.append(f"{key}: give one of steps, select, search; got {', '.join(given)}")
        for i, step in enumerate(cfg.steps):
            where = f"{key}.steps[{i}]"
            if not isinstance(step, Mapping) or len(step) != 1:
                errors.append(
                    f"{where}: expected one of {', '.join(STEP_KINDS)} as the step's only key, got {step!r}"
                )
                continue
            ((kind, options),) = step.items()
            if kind not in STEP_KINDS:
                errors.append(f"{where}: unknown step {kind!r}; expected one of: {', '.join(STEP_KINDS)}")
                continue
            if kind == "quantize" and i != len(cfg.steps) - 1:
                errors.append(f"{where}: 'quantize' makes an INT8 ONNX model; it must be the last step")
            if kind == "prune" and isinstance(options, Mapping) and options.get("precision"):
                last = cfg.steps[-1] if isinstance(cfg.steps[-1], Mapping) else {}
                mode = (last.get("quantize") or {}).get("mode", "static") if "quantize" in last else None
                if mode != "static":
                    errors.append(
                        f"{where}.precision: per-layer precisions are applied by a final "
                        "'quantize: {mode: static}' step; add one or set precision: false"
                    )
            try:
                step_config(kind, options)
            except InvalidSpecError as e:
                errors += [
                    f"{where}.{m}" if not m.startswith("compress.") else m for m in (e.errors or [str(e)])
                ]
        for name, sub in (("select", cfg.select), ("search", cfg.search)):
            if sub is None:
                continue
            checks = [("prune", {**sub.prune, "ratio": 0.5})]
            if name == "select" and sub.quantize:
                checks.append(("quantize", sub.quantize))  # type: ignore[arg-type]
            for kind, options in checks:
                try:
                    step_config(kind, options)
                except InvalidSpecError as e:
                    errors += [
                        m.replace(f"compress.{kind}.", f"{key}.{name}.{kind}.", 1)
                        for m in (e.errors or [str(e)])
                    ]
            if name == "search":
                from autoopt.strategies import strategies

                try:
                    strategies.get(sub.strategy, key=f"{key}.search.strategy")  # type: ignore[union-attr]
                except Exception as e:  # noqa: BLE001 - the registry's own message names the valid ones
                    errors.append(str(e))
        if errors:
            raise InvalidSpecError(errors=errors)
        return cfg


def _line(key: str, e: Any) -> str:
    loc = ".".join(str(p) for p in e["loc"])
    msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
    return f"{key}.{loc}: {msg}"


def step_config(kind: str, options: Any) -> Any:
    """The typed config of one step (errors name ``compress.<kind>.<key>``)."""
    options = dict(options or {})
    if kind == "prune" and "policy" in options:
        if options["policy"] != "auto":
            raise InvalidSpecError(
                f"compress.prune.policy: expected 'auto' (a searched per-layer policy; leave the key out "
                f"for a hand-written ratio); got {options['policy']!r}"
            )
        from autoopt.compress.auto import AutoPolicyConfig

        cls: Any = AutoPolicyConfig
    elif kind == "prune":
        cls = PruneConfig
    elif kind == "sparsity":
        cls = SparsityConfig
    elif kind == "finetune":
        cls = FinetuneConfig
    else:
        from autoopt.compress.quantize import QuantizeConfig

        cls = QuantizeConfig
    try:
        return cls(**options)
    except ValidationError as exc:  # configs without their own key-path messages
        raise InvalidSpecError(errors=[_line(f"compress.{kind}", e) for e in exc.errors()]) from None
    except TypeError as exc:
        raise InvalidSpecError(f"compress.{kind}: {exc}") from None


@dataclass
class PlanResult:
    """What a compression run measured and what ships.

    Attributes:
        rows: the table, baseline first; the last row is what ships (its fp32 source is the row
            before it when it is INT8).
        final_path: the ONNX file that ships.
        model: the torch model that ships (for an INT8 model: the fp32 model it was made from).
        reports: per-step reports (pruning, quantization, the search).
        candidates: every model measured (baseline included), with ``feasible``/``pareto``/
            ``selected``/``rejected`` marks and the in-memory torch model.
        selected: the candidate that ships.
        reference: the PyTorch eager row of the input model (``None`` when ``reference: false``).
        settings: the latency settings of the ONNX Runtime rows (``line``: printable).
    """

    rows: list[StepRow]
    final_path: Path
    model: nn.Module
    reports: dict[str, Any] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)
    selected: StepRow | None = None
    reference: StepRow | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def run_plan(
    model: nn.Module,
    data: DataBundle,
    config: PlanConfig | Mapping[str, Any],
    *,
    out_dir: str | Path,
    train_config: TrainConfig | Mapping[str, Any] | None = None,
    on_step: Callable[[StepRow], None] | None = None,
) -> PlanResult:
    """Run a compression plan on ``model`` and measure every step.

    Args:
        model: the trained fp32 model (not modified).
        data: the data (train for fine-tuning and calibration, test for the rows).
        config: the plan (``compress:`` section).
        out_dir: where each step writes ``<i>_<kind>/`` and the table ``metrics.json``.
        train_config: fine-tuning settings (the spec's ``training:``).
        on_step: called with each finished row (progress display).

    Returns:
        A :class:`PlanResult`: rows (baseline first), the final artifact, the last torch model.

    Example:
        >>> # run_plan(model, data, {"steps": [{"prune": {"ratio": 0.5}}, {"finetune": {"epochs": 3}},
        >>> #                                  {"quantize": {"mode": "static"}}]}, out_dir="compress")
    """
    cfg = config if isinstance(config, PlanConfig) else PlanConfig.from_spec(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_cfg = (
        train_config if isinstance(train_config, TrainConfig) else TrainConfig(**dict(train_config or {}))
    )
    shape = tuple(data.meta.input_shape)
    example = data.meta.kind.example_input(shape)
    meter = Meter(data, cfg.latency_batch_sizes, cfg.latency_repeats, cfg.threads)
    original = copy.deepcopy(model).eval()
    current = copy.deepcopy(model).eval()

    def export(m: nn.Module, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        save_checkpoint(m, folder / "model.safetensors")
        return export_onnx(m.eval(), example, folder / "model.onnx").path

    rows: list[StepRow] = []
    reports: dict[str, Any] = {}
    base_path = export(current, out / "0_baseline")
    meter.baseline = meter.row(
        "baseline (fp32)", base_path, count_params(current), count_macs(current, shape)
    )
    rows.append(meter.baseline)
    if on_step:
        on_step(meter.baseline)
    baseline = Candidate(meter.baseline, "fp32", original, None, {"ratio": 0.0, "quantize": "none"})
    reference = None
    if cfg.reference:
        reference = meter.reference(original, shape, count_params(original), count_macs(original, shape))
    ctx = Context(original, data, meter, out, train_cfg, shape, base_path, on_step, reports)
    if cfg.select is not None or cfg.search is not None:
        if cfg.select is not None:
            candidates = [baseline, *run_select(ctx, cfg.select)]
        else:
            found, summary = run_search(ctx, cfg.search, meter.key)  # type: ignore[arg-type]
            candidates = [baseline, *found]
            reports["search"] = summary
        _reject_slow_int8(candidates, meter, cfg.int8_check_rounds)
        chosen = select(candidates, cfg.max_accuracy_drop, meter.key)
        rows = _rows_ending_with(chosen, candidates)
    else:
        candidates = [baseline]
        rows, last = _run_steps(cfg, ctx, current, original, rows, candidates, export)
        _reject_slow_int8(candidates, meter, cfg.int8_check_rounds)
        select(candidates, cfg.max_accuracy_drop, meter.key)  # the feasible / Pareto marks
        # A hand-written plan ships its last step, unless that is an INT8 model slower than its source.
        chosen = next((c for c in candidates if c.row is last), candidates[-1])
        if chosen.rejected:
            slow = chosen
            chosen = next(c for c in candidates if c.step == slow.source)
            shipped = copy.copy(chosen.row)
            shipped.step = f"shipped: {chosen.step}"
            shipped.note = f"fp32 shipped instead of {slow.step}: {slow.rejected}"
            rows.append(shipped)
        for c in candidates:
            c.selected = c is chosen
    # The deliverable is the last row: flag it when it lost more than the allowed accuracy.
    final = rows[-1]
    final.flagged = final.accuracy_drop_pp is not None and final.accuracy_drop_pp > cfg.max_accuracy_drop
    shipped_model = chosen.model if chosen.model is not None else current
    write_json(
        out / "metrics.json",
        {
            "rows": [r.to_dict() for r in rows],
            "reports": reports,
            "candidates": [c.to_dict() for c in candidates],
            "selected": chosen.step,
            "reference": reference.to_dict() if reference else None,
            "settings": meter.settings,
        },
    )
    return PlanResult(
        rows=rows,
        final_path=chosen.onnx_path,
        model=shipped_model,
        reports=reports,
        candidates=candidates,
        selected=chosen.row,
        reference=reference,
        settings=meter.settings,
    )


def _reject_slow_int8(candidates: list[Candidate], meter: Meter, rounds: int) -> None:
    """Mark every INT8 candidate that is not faster at batch 1 than its fp32 source (interleaved timing)."""
    by_step = {c.step: c for c in candidates}
    for c in candidates:
        src = by_step.get(c.source or "")
        if c.precision != "int8" or src is None or c.row.p50(1) is None:
            continue
        fp32_ms, int8_ms = meter.compare(src.onnx_path, c.onnx_path, rounds)
        c.plan["int8_vs_fp32_b1_ms"] = [round(int8_ms, 4), round(fp32_ms, 4)]
        if int8_ms >= fp32_ms:
            c.rejected = (
                f"INT8 is not faster than its fp32 source at batch 1 ({int8_ms:.3f} vs {fp32_ms:.3f} ms, "
                f"medians of {rounds} interleaved rounds)"
            )
            c.row.note = (c.row.note + "; " if c.row.note else "") + "REJECTED: " + c.rejected


def _rows_ending_with(chosen: Candidate, candidates: list[Candidate]) -> list[StepRow]:
    """Baseline first, the shipped candidate last (after its fp32 source when it is INT8)."""
    chain = [chosen]
    if chosen.precision == "int8":
        src = next((c for c in candidates if c.step == chosen.source), None)
        if src is not None:
            chain.insert(0, src)
    rows = [candidates[0].row] + [c.row for c in candidates[1:] if c not in chain]
    tail = [c.row for c in chain]
    if chosen is candidates[0]:
        tail = [copy.copy(chosen.row)]
        tail[0].step = f"shipped: {chosen.step}"
        tail[0].note = "no compressed candidate is faster within max_accuracy_drop"
    elif tail[0] is candidates[0].row:  # the INT8 model of the baseline: repeat the baseline as its source
        tail[0] = copy.copy(tail[0])
        tail[0].step = f"source of the shipped model: {tail[0].step}"
    return rows + tail


def _run_steps(
    cfg: PlanConfig,
    ctx: Context,
    current: nn.Module,
    original: nn.Module,
    rows: list[StepRow],
    candidates: list[Candidate],
    export: Callable[[nn.Module, Path], Path],
) -> tuple[list[StepRow], StepRow]:
    """The hand-written steps, in order; each measured row also becomes a candidate."""
    data, meter, out, train_cfg, shape = ctx.data, ctx.meter, ctx.out, ctx.train, ctx.shape
    reports = ctx.reports if ctx.reports is not None else {}
    on_step = ctx.on_row
    last_path = ctx.baseline_path
    last_fp32 = candidates[0]
    precision_from: Any = None  # an auto prune step that also chooses per-layer precisions
    for i, step in enumerate(cfg.steps, start=1):
        ((kind, options),) = step.items()
        sc = step_config(kind, options)
        folder = out / f"{i}_{kind}"
        name = f"{i}. {kind}"
        try:
            if kind == "prune" and getattr(sc, "policy", None) == "auto":
                from autoopt.compress.auto import auto_prune

                res = auto_prune(current, sc, data)
                current = res.model
                reports[name] = {**res.report.to_dict(), "search": res.search.to_dict()}
                macs = res.search.costs["macs"]
                note = (
                    f"policy auto ({sc.agent}, {res.search.evaluations} evaluations, "
                    f"{res.search.seconds:.0f}s), MACs {macs[0] / macs[1]:.1%} of the input"
                )
                if sc.precision:
                    precision_from = sc
            elif kind == "prune":
                current, rep = prune(current, sc, data=data, train_config=train_cfg, teacher=original)
                reports[name] = rep.to_dict()
                if not rep.pruned:
                    raise CompressionError(
                        f"step {i} (prune) did not prune: {rep.skipped or 'no channel removed'}"
                    )
                note = (
                    f"{sc.criterion}, ratio {sc.ratio} "
                    f"(effective {rep.effective_ratio}, round_to {rep.round_to})"
                )
            elif kind == "sparsity":
                current, rep = prune_unstructured(  # type: ignore[assignment]
                    current, sc, data=data, train_config=train_cfg, teacher=original
                )
                reports[name] = rep.to_dict()
                note = f"sparsity {rep.sparsity.overall:.2%} (real zeros)" if hasattr(rep, "sparsity") else ""
            elif kind == "finetune":
                current, note = _finetune(current, original, data, train_cfg, sc, folder)
            else:
                from autoopt.compress.quantize import quantize

                note = sc.mode
                precision = None
                if precision_from is not None:
                    from autoopt.compress.auto import auto_precision

                    precision = auto_precision(current, precision_from, data)
                    sc = sc.model_copy(update={"exclude": sorted({*sc.exclude, *precision.fp32_layers})})
                    note += (
                        f", mixed precision ({precision_from.agent}): fp32 layers "
                        f"{precision.fp32_layers or 'none'}, weights {precision.size_fraction:.1%} of fp32"
                    )
                # QAT fine-tunes the torch model (its own fp32 export is the reference); static and
                # dynamic quantize the fp32 ONNX file of the previous step.
                source: Any = current if sc.mode == "qat" else last_path
                qres = quantize(source, folder / "model.onnx", data, sc, train_config=train_cfg)
                reports[name] = qres.report.to_dict() if hasattr(qres.report, "to_dict") else {}
                if precision is not None:
                    reports[name]["precision"] = precision.to_dict()
                row = meter.row(
                    name, Path(qres.path), count_params(current), count_macs(current, shape), note
                )
                rows.append(row)
                candidates.append(
                    Candidate(row, "int8", last_fp32.model, last_fp32.step, {"quantize": sc.mode})
                )
                last_path = Path(qres.path)
                if on_step:
                    on_step(row)
                continue
        except (CompressionError, ExportError) as e:
            # Step failures (an untraceable model, an unsupported op) obey on_error; bad settings
            # (InvalidSpecError) always stop: they were meant to be caught before anything ran.
            if cfg.on_error == "stop":
                raise
            rows.append(StepRow(f"{name} (skipped)", None, None, 0, 0, 0, note=str(e)))
            continue
        last_path = export(current, folder)
        row = meter.row(name, last_path, count_params(current), count_macs(current, shape), note)
        rows.append(row)
        last_fp32 = Candidate(row, "fp32", clone(current), None, {"step": kind})
        candidates.append(last_fp32)
        if on_step:
            on_step(row)
    measured = [r for r in rows if not r.step.endswith("(skipped)")]
    return rows, measured[-1]


def _finetune(
    model: nn.Module,
    teacher: nn.Module,
    data: DataBundle,
    train_cfg: TrainConfig,
    sc: FinetuneConfig,
    folder: Path,
) -> tuple[nn.Module, str]:
    cfg = train_cfg.model_copy(update={"epochs": sc.epochs, **({"lr": sc.lr} if sc.lr else {})})
    if sc.distill:
        from autoopt.distill import distill

        distill(
            model, teacher, data, cfg, alpha=sc.alpha, temperature=sc.temperature, out_dir=folder / "train"
        )
        return model, f"{sc.epochs} epochs, KD from the original (alpha {sc.alpha}, T {sc.temperature})"
    fit(model, data, cfg, out_dir=folder / "train")
    return model, f"{sc.epochs} epochs"


def format_rows(rows: Sequence[StepRow]) -> list[list[str]]:
    """Rows as strings, for terminal and markdown tables."""
    out = []
    for r in rows:
        lat = r.latency_ms
        out.append(
            [
                r.step,
                "-" if r.accuracy is None else f"{r.accuracy:.4f}",
                "-" if r.accuracy_drop_pp is None else f"{r.accuracy_drop_pp:+.2f}",
                f"{r.params:,}",
                f"{r.macs:,}",
                f"{r.size_bytes / 1024:.1f} KiB" if r.size_bytes else "-",
                *[_p50_p95(lat.get(b, {})) for b in ("1", "64")],
                *[f"{r.speedup.get(b, 1.0):.2f}x" for b in ("1", "64")],
                ("FLAGGED " if r.flagged else "") + r.note,
            ]
        )
    return out


def _p50_p95(v: Mapping[str, float]) -> str:
    return f"{v.get('p50', float('nan')):.3f}/{v.get('p95', float('nan')):.3f}"


TABLE_HEADER = [
    "step",
    "accuracy",
    "drop (pp)",
    "params",
    "MACs",
    "size",
    "b1 p50/p95 ms",
    "b64 p50/p95 ms",
    "speed-up b1",
    "speed-up b64",
    "note",
]
