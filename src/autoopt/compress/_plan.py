"""A compression plan: registered steps (:mod:`autoopt.compress.steps`: prune, sparsity, finetune,
quantize, ...) applied in order, each measured; or candidate plans (``select``) or a search over
plans (``search``), chosen by measured latency.

Every model writes one metrics row: accuracy of the deployable ONNX model itself (and its drop vs
the fp32 baseline), params, MACs, file size, ONNX Runtime latency p50/p95 at batch 1 and 64 through
the one latency harness, and the speed-up vs the baseline. Every row is also an
:class:`autoopt.evaluate.Candidate` (the type the pipeline's ship guard reads); what ships is chosen
by :func:`~autoopt.compress._select.select`: with ``steps`` the last step, except that an INT8 model
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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from torch import nn

from autoopt._validation import validation_errors
from autoopt.compress._candidates import (
    Context,
    PlanSearchConfig,
    SelectConfig,
    clone,
    run_search,
    run_select,
)
from autoopt.compress._measure import TABLE_HEADER, Meter, StepRow, format_rows
from autoopt.compress._select import blocked, select
from autoopt.compress.prune import CompressionError
from autoopt.compress.steps import CompressionStep, FinetuneConfig, StepContext, list_steps, steps
from autoopt.data import DataBundle
from autoopt.evaluate import Candidate
from autoopt.exceptions import InvalidSpecError
from autoopt.export import ExportError
from autoopt.io import write_json
from autoopt.models import count_macs, count_params
from autoopt.training import TrainConfig

__all__ = [
    "FinetuneConfig",
    "PlanConfig",
    "PlanResult",
    "StepRow",
    "TABLE_HEADER",
    "format_rows",
    "plan_steps",
    "run_plan",
]


class PlanConfig(BaseModel):
    """``compress:`` section: the steps and how to measure them.

    Attributes:
        source: a tune run whose ``best/`` model is compressed; ``None``: this spec's run.
        steps: the steps in order, each ``{<step>: {options}}`` with a registered step
            (:func:`autoopt.compress.steps.list_steps`: prune, sparsity, finetune, quantize);
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
    latency_batch_sizes: list[int] = Field(default_factory=lambda: [1, 64], min_length=1)
    latency_repeats: int = Field(50, ge=1)
    threads: int = Field(1, ge=1)

    @field_validator("latency_batch_sizes")
    @classmethod
    def _batch_sizes_positive(cls, value: list[int]) -> list[int]:
        if any(b < 1 for b in value):
            raise ValueError(f"every batch size must be >= 1; got {value}")
        return value

    @classmethod
    def from_spec(cls, section: Mapping[str, Any] | None, key: str = "compress") -> PlanConfig:
        """Validate the section and every step's own config; all problems listed with key paths
        (``compress.steps[0].prune.ratio``)."""
        errors: list[str] = []
        try:
            cfg = cls.model_validate(dict(section or {}))
        except ValidationError as exc:
            raise InvalidSpecError(errors=validation_errors(exc, key, cls)) from None
        given = [k for k in ("steps", "select", "search") if getattr(cfg, k)]
        if not given:
            errors.append(
                f"{key}.steps: give at least one step ({', '.join(list_steps())}), or {key}.select "
                f"(candidate plans) or {key}.search (a search over plans)"
            )
        elif len(given) > 1:
            errors.append(f"{key}: give one of steps, select, search; got {', '.join(given)}")
        errors += plan_steps(cfg, key, collect=True)[1]
        for name, sub in (("select", cfg.select), ("search", cfg.search)):
            if sub is None:
                continue
            checks: list[tuple[str, Any]] = [("prune", {**sub.prune, "ratio": 0.5})]
            if name == "select" and sub.quantize:
                checks.append(("quantize", sub.quantize))  # type: ignore[union-attr]
            for kind, options in checks:
                try:
                    steps.get(kind).parse(options, f"{key}.{name}.{kind}")
                except InvalidSpecError as e:
                    errors += e.errors or [str(e)]
            if name == "search":
                from autoopt.strategies import strategies

                try:
                    strategies.get(sub.strategy, key=f"{key}.search.strategy")  # type: ignore[union-attr]
                except Exception as e:  # noqa: BLE001 - the registry's own message names the valid ones
                    errors.append(str(e))
        if errors:
            raise InvalidSpecError(errors=errors)
        return cfg


def plan_steps(
    cfg: PlanConfig, key: str = "compress", *, collect: bool = False
) -> tuple[list[tuple[str, CompressionStep[Any]]], list[str]]:
    """The plan's steps, each looked up in the registry and given its validated options.

    Errors name the step where it stands: ``compress.steps[0].prune.ratio: must be > 0 and < 1; got 1.5``.

    Args:
        cfg: the plan.
        key: the spec key of the ``compress`` section.
        collect: return the problems instead of raising them.

    Returns:
        ``(kind, step)`` pairs in order, and the problems (empty unless ``collect``).

    Raises:
        InvalidSpecError: every problem of every step (unless ``collect``).
    """
    out: list[tuple[str, CompressionStep[Any]]] = []
    errors: list[str] = []
    for i, raw in enumerate(cfg.steps):
        where = f"{key}.steps[{i}]"
        if not isinstance(raw, Mapping) or len(raw) != 1:
            errors.append(
                f"{where}: expected one of {', '.join(list_steps())} as the step's only key; got {raw!r}"
            )
            continue
        ((kind, options),) = raw.items()
        try:
            step_class = steps.get(kind, key=where)
            config = step_class.parse(options, f"{where}.{kind}")
        except InvalidSpecError as e:
            errors += e.errors or [str(e)]
            continue
        problems = step_class.check(config, cfg.steps, i, where)
        errors += problems
        if not problems:
            out.append((kind, step_class(config)))
    if errors and not collect:
        raise InvalidSpecError(errors=errors)
    return out, errors


@dataclass
class PlanResult:
    """What a compression run measured and what ships.

    Attributes:
        rows: the table, baseline first; the last row is what ships (its fp32 source is the row
            before it when it is INT8).
        final_path: the ONNX file that ships.
        model: the torch model that ships (for an INT8 model: the fp32 model it was made from).
        reports: per-step reports (pruning, quantization, the search), by row name.
        candidates: every model measured, baseline first, as :class:`autoopt.evaluate.Candidate`
            (``stage`` ``compress``, ``id`` the row name as a slug, ``derived_from`` the id of the fp32
            model an INT8 one was made from, ``blocked: ...`` flags on those that must not ship).
        selected: the candidate that ships.
        feasible: ids of the candidates within ``max_accuracy_drop`` and not blocked.
        pareto: ids of the candidates on the accuracy/latency Pareto front.
        models: the torch model of each candidate, by id (an INT8 one's: its fp32 source).
        reference: the PyTorch eager row of the input model (``None`` when ``reference: false``).
        settings: the latency settings of the ONNX Runtime rows (``line``: printable).
    """

    rows: list[StepRow]
    final_path: Path
    model: nn.Module
    reports: dict[str, Any] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)
    selected: Candidate | None = None
    feasible: list[str] = field(default_factory=list)
    pareto: list[str] = field(default_factory=list)
    models: dict[str, nn.Module] = field(default_factory=dict, repr=False)
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
    planned = plan_steps(cfg)[0]  # before anything runs: a bad step stops here, named by its path
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_cfg = (
        train_config if isinstance(train_config, TrainConfig) else TrainConfig(**dict(train_config or {}))
    )
    shape = tuple(data.meta.input_shape)
    meter = Meter(data, cfg.latency_batch_sizes, cfg.latency_repeats, cfg.threads)
    original = copy.deepcopy(model).eval()
    current = copy.deepcopy(model).eval()
    reports: dict[str, Any] = {}
    ctx = Context(original, data, meter, out, train_cfg, shape, Path(), on_step, reports)
    ctx.baseline_path = ctx.export(current, out / "0_baseline")
    meter.baseline = ctx.measure("baseline (fp32)", ctx.baseline_path, current, "")
    rows: list[StepRow] = [meter.baseline]
    baseline = ctx.candidate(meter.baseline, original, plan={"ratio": 0.0, "quantize": "none"})
    reference = None
    if cfg.reference:
        reference = meter.reference(original, shape, count_params(original), count_macs(original, shape))
    if cfg.select is not None or cfg.search is not None:
        if cfg.select is not None:
            candidates = [baseline, *run_select(ctx, cfg.select)]
        else:
            found, summary = run_search(ctx, cfg.search, meter.key)  # type: ignore[arg-type]
            candidates = [baseline, *found]
            reports["search"] = summary
        _reject_slow_int8(candidates, ctx, cfg.int8_check_rounds)
        selection = select(candidates, cfg.max_accuracy_drop)
        chosen = selection.selected
        rows = _rows_ending_with(chosen, candidates, ctx.rows)
    else:
        candidates = [baseline]
        rows = _run_steps(cfg, planned, ctx, current, rows, candidates)
        _reject_slow_int8(candidates, ctx, cfg.int8_check_rounds)
        selection = select(candidates, cfg.max_accuracy_drop)  # the feasible / Pareto marks
        # A hand-written plan ships its last step, unless that is an INT8 model slower than its source.
        chosen = candidates[-1]
        why = blocked(chosen)
        if why:
            slow = chosen
            chosen = next(c for c in candidates if c.id == slow.derived_from)
            shipped = copy.copy(ctx.rows[chosen.id])
            shipped.step = f"shipped: {chosen.label}"
            shipped.note = f"fp32 shipped instead of {slow.label}: {why}"
            rows.append(shipped)
    # The deliverable is the last row: flag it when it lost more than the allowed accuracy.
    final = rows[-1]
    final.flagged = final.accuracy_drop_pp is not None and final.accuracy_drop_pp > cfg.max_accuracy_drop
    shipped_model = ctx.models.get(chosen.id, current)
    marks = {"feasible": selection.feasible, "pareto": selection.pareto}
    write_json(
        out / "metrics.json",
        {
            "rows": [r.to_dict() for r in rows],
            "reports": reports,
            "candidates": [
                {**c.to_dict(), **{k: c.id in ids for k, ids in marks.items()}, "selected": c is chosen}
                for c in candidates
            ],
            "selected": chosen.label,
            "reference": reference.to_dict() if reference else None,
            "settings": meter.settings,
        },
    )
    return PlanResult(
        rows=rows,
        final_path=Path(chosen.onnx),
        model=shipped_model,
        reports=reports,
        candidates=candidates,
        selected=chosen,
        feasible=selection.feasible,
        pareto=selection.pareto,
        models=ctx.models,
        reference=reference,
        settings=meter.settings,
    )


def _reject_slow_int8(candidates: list[Candidate], ctx: Context, rounds: int) -> None:
    """Block every INT8 candidate that is not faster at batch 1 than its fp32 source (interleaved timing)."""
    by_id = {c.id: c for c in candidates}
    for c in candidates:
        src = by_id.get(c.derived_from or "")
        if c.precision != "int8" or src is None or c.latency_ms.get("1") is None:
            continue
        fp32_ms, int8_ms = ctx.meter.compare(Path(src.onnx), Path(c.onnx), rounds)
        timing = f"{int8_ms:.3f} vs {fp32_ms:.3f} ms, medians of {rounds} interleaved rounds"
        if int8_ms >= fp32_ms:
            why = f"INT8 is not faster than its fp32 source at batch 1 ({timing})"
            c.flags.append(f"blocked: {why}")
            row = ctx.rows[c.id]
            row.note = (row.note + "; " if row.note else "") + "REJECTED: " + why
        else:
            c.notes.append(f"batch 1 against its fp32 source: {timing}")


def _rows_ending_with(
    chosen: Candidate, candidates: list[Candidate], row_of: Mapping[str, StepRow]
) -> list[StepRow]:
    """Baseline first, the shipped candidate last (after its fp32 source when it is INT8)."""
    chain = [chosen]
    if chosen.precision == "int8":
        src = next((c for c in candidates if c.id == chosen.derived_from), None)
        if src is not None:
            chain.insert(0, src)
    base_row = row_of[candidates[0].id]
    rows = [base_row] + [row_of[c.id] for c in candidates[1:] if c not in chain]
    tail = [row_of[c.id] for c in chain]
    if chosen is candidates[0]:
        tail = [copy.copy(base_row)]
        tail[0].step = f"shipped: {base_row.step}"
        tail[0].note = "no compressed candidate is faster within max_accuracy_drop"
    elif tail[0] is base_row:  # the INT8 model of the baseline: repeat the baseline as its source
        tail[0] = copy.copy(tail[0])
        tail[0].step = f"source of the shipped model: {tail[0].step}"
    return rows + tail


def _run_steps(
    cfg: PlanConfig,
    planned: Sequence[tuple[str, CompressionStep[Any]]],
    ctx: Context,
    current: nn.Module,
    rows: list[StepRow],
    candidates: list[Candidate],
) -> list[StepRow]:
    """The hand-written steps, in order, from the registry; each measured row also becomes a candidate."""
    reports = ctx.reports if ctx.reports is not None else {}
    last_fp32 = candidates[0]
    source_onnx = ctx.baseline_path
    shared: dict[str, Any] = {}
    for i, (kind, step) in enumerate(planned, start=1):
        folder = ctx.out / f"{i}_{kind}"
        name = f"{i}. {kind}"
        sctx = StepContext(i, name, folder, ctx.data, ctx.train, ctx.original, source_onnx, shared)
        try:
            result = step.apply(current, sctx)
            report = step.report(result)
        except (CompressionError, ExportError) as e:
            # Step failures (an untraceable model, an unsupported op) obey on_error; bad settings
            # (InvalidSpecError) always stop: they were meant to be caught before anything ran.
            if cfg.on_error == "stop":
                raise
            rows.append(StepRow(f"{name} (skipped)", None, None, 0, 0, 0, note=str(e)))
            continue
        if report is not None:
            reports[name] = report
        current = result.model
        path = result.onnx if result.onnx is not None else ctx.export(current, folder)
        row = ctx.measure(name, path, current, result.note)
        rows.append(row)
        if result.precision == "int8":
            cand = ctx.candidate(
                row, ctx.models.get(last_fp32.id), precision="int8", source=last_fp32, plan={"step": kind}
            )
        else:
            source_onnx = path
            cand = last_fp32 = ctx.candidate(row, clone(current), plan={"step": kind})
        candidates.append(cand)
    return rows
