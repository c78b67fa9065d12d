"""``fit``: the training loop (epochs, validation, early stopping, checkpoint, history)."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from autoopt.exceptions import DataError, TrainingError
from autoopt.training._batches import make_batches
from autoopt.training._config import TrainConfig, coerce_config
from autoopt.training._device import autocast_factory, resolve_amp_dtype, resolve_device
from autoopt.training._early_stop import EarlyStopping
from autoopt.training._evaluate import evaluate_batches
from autoopt.training._files import CHECKPOINT_NAME, HISTORY_NAME, save_state_dict, write_history
from autoopt.training._metrics import resolve_metric
from autoopt.training._optim import build_optimizer
from autoopt.training._progress import epoch_listener
from autoopt.training._result import FitResult
from autoopt.training._resume import load_resume, remove_resume, save_resume
from autoopt.training._schedule import build_schedule
from autoopt.training._seed import seed_everything
from autoopt.training._task import TrainTask, build_task
from autoopt.training._tensorboard import TensorBoardLogger, open_tensorboard

if TYPE_CHECKING:
    from autoopt.data import DataBundle

__all__ = ["fit", "Reporter"]

Reporter = Callable[[float, int], None]

# Steps between finiteness checks of the loss (one host sync each); the epoch end always checks.
_CHECK_EVERY = 32


@contextmanager
def _oom_as_training_error(cfg: TrainConfig, device: torch.device, epoch: int) -> Iterator[None]:
    """Turn an out-of-memory error into a ``TrainingError`` that suggests a smaller batch."""
    try:
        yield
    except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is a RuntimeError
        if not (isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc)):
            raise
        if device.type == "cuda":
            torch.cuda.empty_cache()
        raise TrainingError(
            f"out of memory on {device} at epoch {epoch} with training.batch_size={cfg.batch_size}; "
            f"use a smaller training.batch_size (e.g. {max(1, cfg.batch_size // 2)}) or a smaller model"
        ) from exc


def _status_of(exc: BaseException) -> str:
    if type(exc).__name__ == "TrialPruned":
        return "pruned"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return "failed"


class _Trainer:
    """The state of one ``fit`` call; :meth:`run` is the epoch loop."""

    def __init__(
        self,
        model: nn.Module,
        data: DataBundle,
        cfg: TrainConfig,
        *,
        reporter: Reporter | None,
        out_dir: Path | None,
        param_groups: list[dict[str, Any]] | None,
        task: TrainTask | None,
        resumable: bool = False,
    ) -> None:
        self.model, self.cfg, self.reporter, self.out_dir = model, cfg, reporter, out_dir
        self.resumable = resumable and out_dir is not None
        self.task_type = data.meta.task
        self.metric, self.direction = resolve_metric(cfg, self.task_type)
        self.device = resolve_device(cfg.device)
        amp_dtype = resolve_amp_dtype(cfg.mixed_precision, self.device)
        self.autocast = autocast_factory(self.device, amp_dtype)
        self.eval_autocast = None if amp_dtype is None else self.autocast
        self.logger: TensorBoardLogger | None = None
        if cfg.tensorboard and out_dir is None:
            warnings.warn("training.tensorboard is true but no out_dir was given; not logging", stacklevel=3)
        generator = seed_everything(cfg.seed)
        model.to(self.device)
        self.task = (task if task is not None else build_task(model, self.task_type, cfg)).to(self.device)
        for split in ("train", "val"):
            if len(getattr(data, split)) == 0:
                raise DataError(
                    f"data.{split}: the split is empty; fit needs training and validation samples"
                )
        self.train_batches = make_batches(
            data.train,
            cfg.batch_size,
            shuffle=True,
            device=self.device,
            generator=generator,
            num_workers=cfg.num_workers,
            drop_single=True,
        )
        self.val_batches = make_batches(
            data.val, 2 * cfg.batch_size, shuffle=False, device=self.device, num_workers=cfg.num_workers
        )
        self.optimizer = build_optimizer(model, cfg, param_groups)
        self.params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self.schedule = build_schedule(self.optimizer, cfg, len(self.train_batches))
        self.scaler = torch.amp.GradScaler(self.device.type) if amp_dtype == torch.float16 else None
        self.stopper = EarlyStopping(self.direction, cfg.early_stopping_patience)
        self.history: list[dict[str, Any]] = []
        self.train_time = 0.0
        self.train_samples = 0

    # -- one epoch -------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> float:
        """Train one epoch; return the mean batch loss. Raises TrainingError on a non-finite loss."""
        task, optimizer, scaler, schedule = self.task, self.optimizer, self.scaler, self.schedule
        clip, params, autocast = self.cfg.grad_clip, self.params, self.autocast
        losses = torch.zeros(len(self.train_batches), device=self.device)
        task.train()
        checked = steps = samples = 0
        for step, (x, y) in enumerate(self.train_batches):
            with autocast():
                loss = task(x, y)["loss"]
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                if clip is not None:
                    nn.utils.clip_grad_norm_(params, clip)
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                if clip is not None:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(params, clip)
                scaler.step(optimizer)
                scaler.update()
            schedule.step_batch()
            losses[step] = loss.detach()
            samples += x.shape[0]
            steps = step + 1
            if steps - checked >= _CHECK_EVERY:
                self._check_finite(losses, checked, steps, epoch)
                checked = steps
        self._check_finite(losses, checked, steps, epoch)
        self.train_samples += samples
        return float(losses[:steps].mean()) if steps else math.nan

    def _check_finite(self, losses: torch.Tensor, start: int, stop: int, epoch: int) -> None:
        window = losses[start:stop]
        finite = torch.isfinite(window)
        if bool(finite.all()):
            return
        bad = start + int((~finite).nonzero()[0, 0])
        kind = "nan" if math.isnan(float(losses[bad])) else "inf"
        fix = "lower training.grad_clip" if self.cfg.grad_clip is not None else "enable training.grad_clip"
        raise TrainingError(
            f"loss became {kind} at epoch {epoch}, step {bad}; "
            f"lower training.lr (got {self.cfg.lr:g}) or {fix}"
        )

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> FitResult:
        cfg, out_dir = self.cfg, self.out_dir
        if cfg.tensorboard and out_dir is not None:
            self.logger = open_tensorboard(out_dir / "tensorboard")
        stopped_early = False
        first = load_resume(self) if self.resumable else 0
        listener = epoch_listener()  # a progress display, when one is listening (autoopt's CLI)
        if listener is not None:
            listener.start(cfg.epochs, self.metric)
        try:
            for epoch in range(first, cfg.epochs):
                lr = float(self.optimizer.param_groups[0]["lr"])
                start = time.perf_counter()
                with _oom_as_training_error(cfg, self.device, epoch):
                    train_loss = self.train_epoch(epoch)
                    train_time = time.perf_counter() - start
                    val = evaluate_batches(
                        self.model,
                        self.val_batches,
                        self.task_type,
                        self.device,
                        self.eval_autocast,
                        extra=[self.metric],
                    )
                self.schedule.step_epoch()
                self.train_time += train_time
                value = val[self.metric]
                if not math.isfinite(value):
                    raise TrainingError(
                        f"validation {self.metric} became {value} at epoch {epoch}; "
                        f"lower training.lr (got {cfg.lr:g}) or enable training.grad_clip"
                    )
                n_train = len(self.train_batches)
                record: dict[str, Any] = {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "lr": lr,
                    "epoch_time_s": time.perf_counter() - start,
                    "train_samples_per_s": (self.train_samples / (epoch + 1)) / train_time
                    if n_train
                    else 0.0,
                }
                record.update({f"val_{k}": v for k, v in val.items()})
                self.history.append(record)
                if self.logger is not None:
                    self.logger.log_epoch(record)
                stop = self.stopper.update(value, epoch, self.model)
                if self.resumable:
                    save_resume(self, epoch)
                if listener is not None:
                    listener.epoch(epoch, cfg.epochs, record)
                if self.reporter is not None:
                    self.reporter(float(value), epoch)
                if stop and epoch < cfg.epochs - 1:
                    stopped_early = True
                    break
        except BaseException as exc:
            if out_dir is not None:
                write_history(out_dir / HISTORY_NAME, self._payload(_status_of(exc), str(exc)))
            raise
        finally:
            if self.logger is not None:
                self.logger.close()
            if listener is not None:
                listener.end()
        result = self._finish(stopped_early)
        if self.resumable:
            remove_resume(out_dir)
        return result

    def _finish(self, stopped_early: bool) -> FitResult:
        stopper = self.stopper
        stopper.restore(self.model)
        # Full report of the restored weights: loss, the fast metrics and autoopt.metrics' defaults.
        with _oom_as_training_error(self.cfg, self.device, stopper.best_epoch):
            val_metrics = evaluate_batches(
                self.model, self.val_batches, self.task_type, self.device, self.eval_autocast, extra=None
            )
        if self.metric not in val_metrics:  # a non-default metric was monitored (e.g. top5_accuracy)
            best = self.history[stopper.best_epoch]
            val_metrics[self.metric] = best[f"val_{self.metric}"]
        result = FitResult(
            metric=self.metric,
            direction=self.direction,
            best_epoch=stopper.best_epoch,
            best_value=stopper.best_value,
            val_metrics=val_metrics,
            history=self.history,
            epochs_run=len(self.history),
            stopped_early=stopped_early,
            samples_per_s=self.train_samples / self.train_time if self.train_time > 0 else 0.0,
            device=str(self.device),
        )
        if self.out_dir is not None:
            path = self.out_dir / CHECKPOINT_NAME
            save_state_dict(
                self.model.state_dict(),
                path,
                metadata={"best_epoch": result.best_epoch, "metric": self.metric, "value": result.best_value},
            )
            result.checkpoint_path = str(path)
            write_history(self.out_dir / HISTORY_NAME, self._payload("completed", None, result))
        return result

    def _payload(self, status: str, error: str | None, result: FitResult | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "status": status,
            "metric": self.metric,
            "direction": self.direction,
            "best_epoch": self.stopper.best_epoch if self.stopper.best_epoch >= 0 else None,
            "best_value": self.stopper.best_value if self.stopper.best_epoch >= 0 else None,
            "config": self.cfg.model_dump(),
            "epochs": self.history,
        }
        if error is not None:
            payload["error"] = error
        if result is not None:
            payload.update(stopped_early=result.stopped_early, samples_per_s=result.samples_per_s)
        return payload


def fit(
    model: nn.Module,
    data: DataBundle,
    config: TrainConfig | dict[str, Any] | None = None,
    *,
    reporter: Reporter | None = None,
    out_dir: str | Path | None = None,
    param_groups: list[dict[str, Any]] | None = None,
    task: TrainTask | None = None,
    resumable: bool = False,
) -> FitResult:
    """Train ``model`` on ``data.train``, monitor ``data.val``, restore the best epoch's weights.

    Every epoch trains once over the training split, evaluates the validation split, records a
    history row, updates early stopping and calls ``reporter(value, epoch)``. At the end the
    best epoch's weights are loaded back into ``model`` (left in eval mode) and, with ``out_dir``,
    written to ``out_dir/model.safetensors`` with ``out_dir/history.json`` (both atomically).

    Args:
        model: the model to train (moved to the training device).
        data: the splits and metadata (``meta.task`` picks the loss and metrics).
        config: a :class:`TrainConfig` or a dict of ``training.*`` keys; ``None`` = defaults.
        reporter: called once per epoch with the monitored validation metric and the 0-based
            epoch. It may raise ``optuna.TrialPruned``; the exception propagates after the history
            so far is written to ``out_dir``.
        out_dir: folder for the checkpoint, history and TensorBoard files; ``None`` writes nothing.
        param_groups: torch parameter groups (e.g. a backbone with a smaller ``lr``) instead of
            all trainable parameters of ``model``.
        task: the object turning a batch into ``{'loss', 'output'}``; ``None`` = the default
            task of ``data.meta.task``. Subclass :class:`TrainTask` to change the loss.
        resumable: with ``out_dir``, write ``out_dir/last.pt`` after every epoch (weights, optimizer,
            schedule, history) and, when that file exists at the start, go on after its epoch
            instead of starting over (a retried trial); it is removed when training finishes.

    Returns:
        A :class:`FitResult` (best epoch and value, metrics, history, throughput).

    Raises:
        InvalidSpecError: the config is invalid, or asks for an unavailable device/feature.
        DataError: a split is empty.
        TrainingError: the loss became NaN/inf, or the device ran out of memory.

    Example:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> from autoopt.data import DataBundle, DatasetMeta
        >>> ds = TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
        >>> meta = DatasetMeta("toy", "classification", (4,), num_classes=2)
        >>> result = fit(torch.nn.Linear(4, 2), DataBundle(ds, ds, ds, meta), {"epochs": 2, "device": "cpu"})
        >>> result.epochs_run
        2
    """
    cfg = coerce_config(config)
    out = Path(out_dir) if out_dir is not None else None
    trainer = _Trainer(
        model, data, cfg, reporter=reporter, out_dir=out, param_groups=param_groups, task=task,
        resumable=resumable,
    )  # fmt: skip
    return trainer.run()
