"""The trial objective of a model search: build a model, train it with per-epoch reports, return metrics.

One objective serves every stage that searches by training models: the search stage (a model family,
transfer learning, an architecture space) and distillation (``train`` is then a distillation). The
stages only say how to build a trial's model, its training settings and how to train it.

This module imports torch (``autoopt.search`` itself does not, so tuning a plain Python function stays
light); import it as ``autoopt.search.training``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from autoopt.data import DataBundle
from autoopt.models import (
    apply_freeze,
    count_macs,
    count_params,
    load_checkpoint,
    param_groups,
    unfreeze_schedule,
)
from autoopt.search._trial import epoch_reporter, trial_metrics
from autoopt.spec import TransferSpec
from autoopt.training import RESUME_NAME, FitResult, Reporter, TrainConfig, fit

__all__ = ["ArchitectureSearch", "TrainTrial", "default_threads", "training_objective"]

#: ``train(model, data, config, params, reporter, out_dir) -> FitResult``: one trial's training.
TrainTrial = Callable[[nn.Module, DataBundle, TrainConfig, Mapping[str, Any], Reporter, Path], FitResult]


class ArchitectureSearch(Protocol):
    """What an architecture search adds to the objective (:class:`autoopt.nas.NasRun` is one)."""

    candidate_data: DataBundle

    def static(self, model: nn.Module, params: Mapping[str, Any], input_shape: Any) -> dict[str, Any]:
        """Params, MACs (and latency) of a candidate; raises ``TrialRejected`` over a hard budget."""
        ...

    def one_shot_scores(self, params: Mapping[str, Any], batch_size: int, seed: int) -> dict[str, Any] | None:
        """The candidate's validation metrics with shared (supernet) weights; ``None``: train it."""
        ...


def default_threads(threads: int | None, jobs: int) -> int:
    """Intra-op threads per trial process: ``threads``, else the cores shared by ``jobs`` processes."""
    return threads or max(1, (os.cpu_count() or 1) // jobs)


def training_objective(
    data: DataBundle,
    *,
    build: Callable[[dict[str, Any]], nn.Module],
    train_config: Callable[[dict[str, Any]], TrainConfig],
    metrics: Sequence[str],
    trials_dir: Path,
    threads: int,
    seed: int = 0,
    transfer: Callable[[dict[str, Any]], TransferSpec | None] | None = None,
    nas: ArchitectureSearch | None = None,
    train: TrainTrial | None = None,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The objective of a search over models: build, (transfer,) train with early-stopping reports.

    Args:
        data: the data; trials train on its train split and report on its validation split.
        build: a trial's model from its params.
        train_config: a trial's training settings from its params (searched ``training.*`` on top).
        metrics: the objectives' metrics, in order (``val_<metric>``, ``params``, ``macs``, ...).
        trials_dir: each trial writes ``<trials_dir>/<number>/`` (checkpoint, history).
        threads: intra-op threads per trial (over-subscribed threads slow small models down by an
            order of magnitude).
        seed: the seed of one-shot scoring.
        transfer: a trial's transfer settings from its params (the checkpoint to start from, the
            frozen part, the backbone's learning rate, gradual unfreezing), or ``None``.
        nas: an architecture search: a candidate over a hard budget is rejected before it trains, it
            trains on the search's candidate data, and with one-shot it is scored without training.
        train: how a trial trains (default :func:`autoopt.training.fit`, resumable: a retry of a trial
            whose worker died goes on from that attempt's last epoch).

    Returns:
        ``objective(params, report) -> metrics`` for :func:`autoopt.search.tune`.
    """

    def objective(params: dict[str, Any], report: Any) -> dict[str, Any]:
        torch.set_num_threads(threads)
        cfg = train_config(params)
        model = build(params)
        if nas is not None:
            static = nas.static(model, params, data.meta.input_shape)  # TrialRejected: over a budget
            scores = nas.one_shot_scores(params, cfg.batch_size, seed)
            if scores is not None:
                return {**scores, **static, "epochs": 0}
        else:
            static = {"params": count_params(model), "macs": count_macs(model, data.meta.input_shape)}
        groups, every = None, None
        tr = transfer(params) if transfer is not None else None
        if tr is not None:
            load_checkpoint(model, tr.checkpoint)
            apply_freeze(model, tr.freeze)
            every = tr.unfreeze_every
            groups = param_groups(model, cfg.lr, tr.backbone_lr_mult, include_frozen=every is not None)

        def unfreeze(epoch: int) -> None:
            if every is not None:
                unfreeze_schedule(model, epoch + 1, every=every)

        # Intermediate values: the monitored validation metric (training.metric); static ones as is.
        per_epoch = epoch_reporter(report, metrics, static, then=unfreeze)
        out_dir = trials_dir / str(report.trial.number)
        train_data = nas.candidate_data if nas is not None else data
        if train is not None:
            res = train(model, train_data, cfg, params, per_epoch, out_dir)
        else:
            _resume_from_failed_attempt(report.trial, trials_dir, out_dir)
            try:
                res = fit(
                    model, train_data, cfg, reporter=per_epoch, out_dir=out_dir, param_groups=groups,
                    resumable=True,
                )  # fmt: skip
            except BaseException:
                (out_dir / RESUME_NAME).unlink(missing_ok=True)  # pruned or failed: never resumed
                raise
        return trial_metrics(
            res.val_metrics, static, epochs=res.epochs_run, samples_per_s=round(res.samples_per_s, 1)
        )

    return objective


def _resume_from_failed_attempt(trial: Any, trials_dir: Path, out_dir: Path) -> None:
    """A retry of a trial whose worker died goes on from that attempt's last epoch checkpoint."""
    frozen = trial.study._storage.get_trial(trial._trial_id)
    history = frozen.system_attrs.get("retry_history") or []
    if not history or (out_dir / RESUME_NAME).exists():
        return
    src = trials_dir / str(history[-1]) / RESUME_NAME
    if src.is_file():
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out_dir / RESUME_NAME)
