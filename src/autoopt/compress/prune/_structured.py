"""``prune``: structured channel pruning on Torch-Pruning's dependency graph, one-shot or iterative.

The split follows Torch-Pruning: the dependency graph (theirs, wrapped in :mod:`._graph`) says
which channels must go together (residual additions, concatenations, BatchNorm); the importance
(:mod:`._importance`) scores them; this module is the algorithm: validate, trace, exclude what
breaks, prune in ``steps``, fine-tune between steps, measure, report.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import nn

from autoopt.compress.prune._config import PruneConfig
from autoopt.compress.prune._errors import CompressionError
from autoopt.compress.prune._finetune import TaskFactory, finetune
from autoopt.compress.prune._graph import (
    build_pruner,
    find_breaking_layers,
    out_channels,
    run_checked,
    untraced_layers,
)
from autoopt.compress.prune._hardware import channel_targets, exact_ratio, resolve_round_to
from autoopt.compress.prune._importance import Criterion, accumulate_gradients, criteria
from autoopt.compress.prune._report import PruneReport, StepRecord
from autoopt.exceptions import InvalidSpecError
from autoopt.models import count_macs, count_params
from autoopt.training import TrainConfig, coerce_config

if TYPE_CHECKING:
    from autoopt.data._bundle import DataBundle

__all__ = ["PruneResult", "prune", "coerce_prune_config", "classifier_name", "example_batch"]


class PruneResult(NamedTuple):
    """The pruned model and what was done to it (unpacks as ``model, report = prune(...)``)."""

    model: nn.Module
    report: PruneReport


def coerce_prune_config(config: PruneConfig | dict[str, Any] | None) -> PruneConfig:
    """Return ``config`` as a :class:`PruneConfig` (a dict is validated, ``None`` gives defaults)."""
    if config is None:
        return PruneConfig()
    if isinstance(config, PruneConfig):
        return config
    if isinstance(config, dict):
        return PruneConfig(**config)
    raise InvalidSpecError(f"compress.prune: expected a PruneConfig or a dict; got {type(config).__name__}")


def classifier_name(model: nn.Module) -> str | None:
    """Qualified name of the model's classifier: ``get_classifier()`` or else its last ``nn.Linear``."""
    names = {m: n for n, m in model.named_modules()}
    get = getattr(model, "get_classifier", None)
    if callable(get):
        try:
            return names.get(get())
        except (TypeError, AttributeError):
            pass
    last = None
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            last = name
    return last


def example_batch(
    model: nn.Module, data: DataBundle | None, input_shape: Sequence[int], seed: int, n: int = 2
) -> torch.Tensor:
    """A small input batch for tracing: the first training samples, or seeded noise without data."""
    param = next(model.parameters())
    if data is not None and len(data.train) > 0:  # type: ignore[arg-type]
        x = torch.stack([data.train[i][0] for i in range(min(n, len(data.train)))])  # type: ignore[arg-type]
    else:
        x = torch.randn(n, *input_shape, generator=torch.Generator().manual_seed(seed))
    float_input = param.is_floating_point() and x.is_floating_point()  # token ids stay integers
    return x.to(device=param.device, dtype=param.dtype if float_input else None)


def _check_names(model: nn.Module, cfg: PruneConfig, head: str | None) -> None:
    names = [n for n, _ in model.named_modules() if n]
    errors = []
    for field, given in (("per_layer", list(cfg.per_layer)), ("ignore", cfg.ignore)):
        for name in given:
            key = f"compress.prune.{field}.{name}" if field == "per_layer" else "compress.prune.ignore"
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                errors.append(f"{key}: no layer named {name!r} in {type(model).__name__}.{hint}")
            elif field == "per_layer" and name == head:
                errors.append(f"{key}: {name!r} is the classifier, whose outputs are always kept")
    if errors:
        raise InvalidSpecError(errors=errors)


class _Scored:
    """Wraps an importance and records the groups it could not score (they are left unpruned)."""

    def __init__(self, importance: Any, names: dict[nn.Module, str]) -> None:
        self.importance, self.names = importance, names
        self.unscored: set[str] = set()

    def __call__(self, group: Any) -> torch.Tensor | None:
        scores = self.importance(group)
        if scores is None:
            self.unscored.add(self.names.get(group[0].dep.target.module, "?"))
        return scores


def prune(
    model: nn.Module,
    config: PruneConfig | dict[str, Any] | None = None,
    *,
    data: DataBundle | None = None,
    input_shape: Sequence[int] | None = None,
    train_config: TrainConfig | dict[str, Any] | None = None,
    teacher: nn.Module | str | None = None,
    task_factory: TaskFactory | None = None,
) -> PruneResult:
    """Remove channels/filters from a copy of ``model``; return the smaller model and a report.

    Channels are removed physically (the returned model has smaller weight tensors) and
    consistently: layers coupled by residual additions, concatenations or BatchNorm lose the same
    channels, found on Torch-Pruning's ``DependencyGraph``. The classifier and ``ignore`` keep their
    outputs, so the output shape is unchanged and ``forward_features``/``forward_head`` still work.
    The input ``model`` is never modified.

    Example:
        >>> from autoopt.data._bundle import DatasetMeta
        >>> from autoopt.models import build_model
        >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
        >>> net = build_model("resnet", {"stages": 2, "width": 8, "blocks": 1}, meta)
        >>> cfg = {"ratio": 0.5, "criterion": "l1", "round_to": 1, "min_channels": 1}  # tiny: any count
        >>> small, report = prune(net, cfg, input_shape=(1, 8, 8))
        >>> report.pruned, report.params_after < report.params_before
        (True, True)

    Args:
        model: the model to prune (not modified).
        config: a :class:`PruneConfig` or a dict of ``compress.prune`` keys.
        data: training data: the ``taylor`` criterion's gradients, fine-tuning, and tracing inputs.
        input_shape: one sample's shape without the batch dimension (default ``data.meta.input_shape``).
        train_config: training options for fine-tuning (its ``epochs`` is ``finetune_epochs``).
        teacher: distill from this model while fine-tuning; ``"original"`` uses a copy of the
            unpruned ``model``. Uses ``autoopt.distill`` when it can be imported, else plain fine-tuning.
        task_factory: ``task_factory(student, teacher) -> TrainTask`` for a custom fine-tuning loss.

    Returns:
        ``PruneResult(model, report)``. With ``on_error: skip`` and a failure, ``model`` is the
        input model itself and ``report.skipped`` says why (``report.pruned`` is False).

    Raises:
        InvalidSpecError: a config value or layer name is invalid, or data is missing where needed.
        CompressionError: with ``on_error: stop``, the model cannot be traced or nothing was pruned.
    """
    cfg = coerce_prune_config(config)
    criterion = criteria.get(cfg.criterion, key="compress.prune.criterion")
    if input_shape is None:
        if data is None:
            raise InvalidSpecError(
                "compress.prune: needs data or input_shape to trace the model; got neither"
            )
        input_shape = tuple(data.meta.input_shape)
    if data is None and criterion.needs_gradients:
        raise InvalidSpecError(
            f"compress.prune.criterion: {cfg.criterion!r} needs training data for its gradients; pass data="
        )
    if data is None and cfg.finetune_epochs > 0:
        raise InvalidSpecError(
            f"compress.prune.finetune_epochs: {cfg.finetune_epochs} needs training data; pass data= or set 0"
        )
    if isinstance(teacher, str) and teacher != "original":
        raise InvalidSpecError(f"teacher: expected an nn.Module or 'original'; got {teacher!r}")
    coerce_config(train_config)  # validate up front, before any work
    head = classifier_name(model)
    _check_names(model, cfg, head)
    shape = tuple(int(s) for s in input_shape)
    ignored = sorted({*cfg.ignore, *([head] if head else [])})
    try:
        return _prune(model, cfg, criterion, data, shape, train_config, teacher, task_factory, ignored)
    except CompressionError as exc:
        if cfg.on_error == "stop":
            raise
        params_before, macs_before = count_params(model), _macs_or_zero(model, shape)
        channels_before = out_channels(model)
        report = PruneReport(
            criterion=cfg.criterion,
            ratio=cfg.ratio,
            scope=cfg.scope,
            steps=cfg.steps,
            params_before=params_before,
            params_after=params_before,
            macs_before=macs_before,
            macs_after=macs_before,
            channels={n: (c, c) for n, c in channels_before.items()},
            ignored=ignored,
            skipped=str(exc),
        )
        return PruneResult(model, report)


def _prune(
    model: nn.Module,
    cfg: PruneConfig,
    criterion: Criterion,
    data: DataBundle | None,
    shape: tuple[int, ...],
    train_config: TrainConfig | dict[str, Any] | None,
    teacher: nn.Module | str | None,
    task_factory: TaskFactory | None,
    ignored: list[str],
) -> PruneResult:
    kind = type(model).__name__
    work = copy.deepcopy(model)
    example = example_batch(work, data, shape, cfg.seed)
    expected, reason = run_checked(work, example)
    if reason is not None or expected is None:
        raise CompressionError(f"compress.prune: {kind} does not run on an example batch: {reason}")
    params_before, macs_before = count_params(model), count_macs(model, shape)
    channels_before = out_channels(model)
    if criterion.needs_batchnorm and not any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) for m in work.modules()
    ):
        raise CompressionError(
            f"compress.prune.criterion: {criterion.name!r} scores channels by their BatchNorm scale, but "
            f"{kind} has no BatchNorm layer; use 'l1', 'l2' or 'taylor'"
        )

    round_to = resolve_round_to(cfg.round_to)

    def make_pruner(
        target: nn.Module, skip: list[str], importance: Any, steps: int, exact: dict[str, float] | None = None
    ) -> Any:
        modules = dict(target.named_modules())
        if exact is not None:  # hardware-aware targets: one exact ratio per layer, nothing else pruned
            return build_pruner(
                target,
                example,
                importance=importance,
                pruning_ratio=0.0,
                pruning_ratio_dict={modules[n]: r for n, r in exact.items() if n not in skip},
                iterative_steps=steps,
                ignored_layers=[modules[n] for n in skip],
            )
        return build_pruner(
            target,
            example,
            importance=importance,
            pruning_ratio=cfg.ratio,
            pruning_ratio_dict={modules[n]: r for n, r in cfg.per_layer.items() if n not in skip},
            global_pruning=cfg.scope == "global",
            max_pruning_ratio=cfg.max_layer_ratio if cfg.scope == "global" else 1.0,
            iterative_steps=steps,
            ignored_layers=[modules[n] for n in skip],
        )

    names = {m: n for n, m in work.named_modules()}
    scored = _Scored(criterion.build(cfg.seed), names)
    pruner = make_pruner(work, ignored, scored, cfg.steps)
    missing = untraced_layers(work, pruner)
    if missing:
        raise CompressionError(
            f"compress.prune: Torch-Pruning cannot trace {kind}: layer(s) {', '.join(map(repr, missing))} "
            "were never reached by the traced forward pass (data-dependent control flow?), so pruning "
            "their inputs would break them; set compress.prune.on_error: skip to keep the model unpruned"
        )
    probe_importance = criteria.get("l1").build(cfg.seed)  # which channels go does not matter here
    excluded = find_breaking_layers(
        work,
        example,
        expected.shape,
        lambda trial, skip: make_pruner(trial, skip, probe_importance, 1),
        ignored,
    )
    if excluded:
        scored = _Scored(criterion.build(cfg.seed), names)
        pruner = make_pruner(work, [*ignored, *excluded], scored, cfg.steps)
    batch_size = coerce_config(train_config).batch_size
    # Hardware-aware channel counts: decide how many channels each group keeps (the requested or the
    # globally ranked count, rounded to ``round_to`` and at least ``min_channels``), then prune to
    # exactly that many.
    global_counts = None
    if cfg.scope == "global":
        if criterion.needs_gradients and data is not None:
            _with_gradients(work, data, cfg, batch_size, 1)
        probe = make_pruner(work, [*ignored, *excluded], _Scored(criterion.build(cfg.seed), names), 1)
        global_counts = {g[0].dep.target.module: len(g[0].idxs) for g in probe.step(interactive=True)}
        work.zero_grad(set_to_none=True)
    targets = channel_targets(
        pruner,
        names,
        lambda members: _requested(cfg, [names.get(m, "") for m in members]),
        round_to=round_to,
        floor=cfg.min_channels,
        global_counts=global_counts,
    )
    exact = {names[m]: exact_ratio(t.channels, t.kept) for t in targets for m in t.modules if m in names}
    if targets and not any(t.kept < t.channels for t in targets):
        raise CompressionError(
            f"compress.prune: nothing to prune in {kind} at ratio {cfg.ratio}: with round_to {round_to} and "
            f"min_channels {cfg.min_channels} every conv keeps all its channels (largest conv: "
            f"{max((t.channels for t in targets if t.conv), default=0)} channels); lower "
            "compress.prune.min_channels or round_to, or raise the ratio"
        )
    scored = _Scored(criterion.build(cfg.seed), names)
    pruner = make_pruner(work, [*ignored, *excluded], scored, cfg.steps, exact)

    if isinstance(teacher, str):
        teacher_model: nn.Module | None = copy.deepcopy(model).eval()
    else:
        teacher_model = teacher
    history: list[StepRecord] = []
    finetune_kind = "none"
    for step in range(1, cfg.steps + 1):
        if criterion.needs_gradients and data is not None:
            _with_gradients(work, data, cfg, batch_size, step)
        pruner.step()
        work.zero_grad(set_to_none=True)
        out, reason = run_checked(work, example)
        if reason is None and out is not None and out.shape != expected.shape:
            reason = f"the output shape changes from {tuple(expected.shape)} to {tuple(out.shape)}"
        if reason is not None:
            raise CompressionError(f"compress.prune: after pruning step {step}, {reason}")
        record = StepRecord(step, cfg.ratio * step / cfg.steps, count_params(work), count_macs(work, shape))
        if cfg.finetune_epochs > 0 and data is not None:
            result, finetune_kind = finetune(
                work,
                data,
                train_config,
                cfg.finetune_epochs,
                seed=cfg.seed + step,
                teacher=teacher_model,
                task_factory=task_factory,
            )
            record.val_metrics = dict(result.val_metrics)
        history.append(record)

    work.train(model.training)
    params_after = count_params(work)
    notes = []
    if scored.unscored:
        notes.append(
            f"criterion {criterion.name!r} could not score the groups of "
            f"{', '.join(sorted(scored.unscored))}; they were left unpruned"
        )
    if params_after >= params_before:
        raise CompressionError(
            f"compress.prune: nothing was pruned in {kind}: every prunable layer is ignored, excluded "
            f"or already minimal (ignored: {ignored}, excluded: {sorted(excluded)}); "
            "set compress.prune.on_error: skip to keep the model unpruned"
        )
    after = out_channels(work)
    total = sum(t.channels for t in targets)
    kept = sum(t.kept for t in targets)
    floored = [t.name for t in targets if t.conv and t.kept == t.channels and t.requested > 0]
    if floored:
        notes.append(
            f"kept whole by round_to {round_to} / min_channels {cfg.min_channels}: {', '.join(floored)}"
        )
    report = PruneReport(
        criterion=cfg.criterion,
        ratio=cfg.ratio,
        effective_ratio=round(1.0 - kept / total, 4) if total else 0.0,
        round_to=round_to,
        min_channels=cfg.min_channels,
        scope=cfg.scope,
        steps=cfg.steps,
        params_before=params_before,
        params_after=params_after,
        macs_before=macs_before,
        macs_after=count_macs(work, shape),
        channels={n: (c, after.get(n, c)) for n, c in channels_before.items()},
        ignored=ignored,
        excluded=excluded,
        finetune=finetune_kind,
        history=history,
        notes=notes,
    )
    return PruneResult(work, report)


def _requested(cfg: PruneConfig, names: list[str]) -> float:
    """The ratio asked for a group: a ``per_layer`` entry naming one of its layers (or a container of
    one), else ``ratio``."""
    for name in names:
        for key, r in cfg.per_layer.items():
            if name == key or name.startswith(key + "."):
                return r
    return cfg.ratio


def _macs_or_zero(model: nn.Module, shape: tuple[int, ...]) -> int:
    try:
        return count_macs(model, shape)
    except Exception:  # noqa: BLE001 - a model that does not run has no MAC count to report
        return 0


def _with_gradients(model: nn.Module, data: DataBundle, cfg: PruneConfig, batch_size: int, step: int) -> None:
    """Fill ``.grad`` for the Taylor criterion, temporarily making every parameter trainable."""
    frozen = [p for p in model.parameters() if not p.requires_grad]
    for p in frozen:
        p.requires_grad_(True)
    try:
        accumulate_gradients(model, data, cfg.taylor_batches, batch_size=batch_size, seed=cfg.seed + step)
    finally:
        for p in frozen:
            p.requires_grad_(False)
