"""Quantization-aware training with torchao's PT2E flow, exported to an INT8 (QDQ) ONNX model.

``torch.ao.quantization`` is deprecated in torch 2.13; this uses its successor in torchao:
``torch.export.export(model).module()`` -> ``prepare_qat_pt2e(module, X86InductorQuantizer)``
(fake-quantized weights per channel, uint8 activations, Conv+BN fused for training) ->
fine-tuning with :func:`autoopt.training.fit` -> ``convert_pt2e`` (real int8 weights between
quantize/dequantize ops) -> :func:`autoopt.export.export_onnx`, which writes those ops as ONNX
``QuantizeLinear``/``DequantizeLinear`` with int8 weight initializers: the QAT-learned ranges and
weights are what ONNX Runtime runs.

A block that calls one ``nn.ReLU`` module twice (autoopt's ``resnet``, torchvision's ResNets) gives
the non-strict trace one source partition with two outputs, which the quantizer rejects ("Input
partition has more than one output node", seen on ResNet-20). Two defences: every parameter-free
module called more than once in a forward is replaced (on the copy) by a wrapper that runs its
``forward`` inline, so each call is its own partition (:func:`split_reused_modules`); and capture
uses ``strict=True`` first (the TorchDynamo trace keeps the calls apart), with non-strict capture as
the fallback for models Dynamo cannot trace.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autoopt.compress.prune import CompressionError
from autoopt.compress.quantize._config import QuantizeConfig, coerce_quantize_config
from autoopt.compress.quantize._report import QuantizeReport, QuantizeResult, measure_pair
from autoopt.data import DataBundle
from autoopt.evaluate import stack_inputs
from autoopt.export import export_onnx
from autoopt.training import TrainConfig, coerce_config, fit

__all__ = ["quantize_qat", "prepare_qat", "split_reused_modules"]

#: samples in the example batch used to trace the model (> 1 keeps the batch dimension symbolic).
_EXAMPLE_SAMPLES = 8


@contextlib.contextmanager
def _quiet_import() -> Iterator[None]:
    """torchao prints missing-kernel messages (CUDA extensions) and deprecation warnings on import."""
    logger = logging.getLogger("torchao")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


class _Inline(nn.Module):
    """Runs a stateless module's ``forward`` without calling the module, so that a traced graph
    records each call site separately (the quantizer's patterns match ``nn.ReLU``, not this)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        object.__setattr__(self, "_forward", module.forward)  # not a submodule: no module call
        self.wrapped = type(module).__name__

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._forward(*args, **kwargs)  # type: ignore[operator]


def split_reused_modules(model: nn.Module, x: torch.Tensor) -> list[str]:
    """Replace, in place, every parameter- and buffer-free module that one forward pass calls more
    than once by an :class:`_Inline` wrapper; return the replaced names.

    Example:
        >>> from torch import nn
        >>> class Block(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.conv, self.relu = nn.Conv2d(1, 1, 1), nn.ReLU()
        ...     def forward(self, x):
        ...         return self.relu(self.conv(self.relu(x)))
        >>> split_reused_modules(Block(), torch.zeros(1, 1, 2, 2))
        ['relu']
    """
    counts: dict[nn.Module, int] = {}

    def hook(module: nn.Module, _args: Any, _out: Any) -> None:
        counts[module] = counts.get(module, 0) + 1

    handles = [m.register_forward_hook(hook) for m in model.modules() if m is not model]
    try:
        with torch.no_grad():
            model(x)
    except Exception:  # noqa: BLE001 - capture reports a model that does not run
        return []
    finally:
        for h in handles:
            h.remove()
    names = {m: n for n, m in model.named_modules()}
    replaced = []
    for module, n in counts.items():
        stateless = not any(True for _ in module.parameters()) and not any(True for _ in module.buffers())
        if n > 1 and stateless and module in names:
            parent, _, attr = names[module].rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attr, _Inline(module))
            replaced.append(names[module])
    return sorted(replaced)


def _capture(model: nn.Module, x: torch.Tensor) -> torch.fx.GraphModule:
    shapes = ({0: torch.export.Dim("batch", min=1)},)
    errors = []
    for strict in (True, False):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.export.export(model, (x,), dynamic_shapes=shapes, strict=strict).module()
        except Exception as exc:  # torch raises many error types while tracing
            errors.append(
                f"strict={strict}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            )
    raise CompressionError(
        f"{type(model).__name__}: torch.export cannot capture the model for QAT: {'; '.join(errors)}"
    )


def prepare_qat(model: nn.Module, example_input: torch.Tensor) -> torch.fx.GraphModule:
    """The PT2E QAT module of ``model`` (a copy; ``model`` is untouched), ready for ``fit``.

    Its ``train()``/``eval()`` switch BatchNorm and dropout (``allow_exported_model_train_eval``).

    Raises:
        CompressionError: the model cannot be captured or annotated.

    Example:
        >>> prepared = prepare_qat(model, torch.zeros(8, 1, 8, 8))  # doctest: +SKIP
        >>> fit(prepared, data, {"epochs": 2, "lr": 1e-4})  # doctest: +SKIP
    """
    with _quiet_import():
        from torchao.quantization.pt2e import allow_exported_model_train_eval
        from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e
        from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
            X86InductorQuantizer,
            get_default_x86_inductor_quantization_config,
        )
    copied = copy.deepcopy(model).cpu().train()
    x = example_input.detach().float().cpu()
    if x.shape[0] < 2:
        x = torch.cat([x, x])
    was_training = copied.training
    copied.eval()  # counting calls must not move BatchNorm statistics
    split_reused_modules(copied, x)
    copied.train(was_training)
    captured = _capture(copied, x)
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config(is_qat=True))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepared = prepare_qat_pt2e(captured, quantizer)
    except Exception as exc:  # the quantizer's pattern matching raises ValueError, RuntimeError, ...
        raise CompressionError(
            f"{type(model).__name__}: torchao cannot prepare the model for QAT: {exc}"
        ) from exc
    return allow_exported_model_train_eval(prepared)


def _convert(prepared: torch.fx.GraphModule) -> torch.fx.GraphModule:
    with _quiet_import():
        from torchao.quantization.pt2e import allow_exported_model_train_eval, move_exported_model_to_eval
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e
    prepared.cpu()
    move_exported_model_to_eval(prepared)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = convert_pt2e(prepared)
    return allow_exported_model_train_eval(converted)


def quantize_qat(
    model: nn.Module,
    data: DataBundle,
    onnx_out: str | os.PathLike[str],
    config: QuantizeConfig | dict[str, Any] | None = None,
    *,
    train_config: TrainConfig | dict[str, Any] | None = None,
    example_input: torch.Tensor | None = None,
    threads: int | None = 1,
    batch_sizes: tuple[int, ...] = (1, 64),
) -> QuantizeResult:
    """Quantization-aware fine-tuning of a trained ``model``, then an INT8 ONNX model of it.

    The fp32 ``model`` is exported next to ``onnx_out`` (``<stem>.fp32.onnx``) as the reference;
    a PT2E copy is fine-tuned for ``config.qat_epochs`` epochs at ``config.qat_lr`` with
    :func:`autoopt.training.fit` (the rest of ``train_config`` applies: optimizer, batch size,
    device), converted and exported. ``model`` itself is not changed.

    Args:
        model: the trained fp32 model.
        data: training/validation data for fine-tuning; its test split measures accuracy.
        onnx_out: where to write the INT8 ``.onnx``.
        config: a :class:`QuantizeConfig` or a dict (``qat_epochs``, ``qat_lr``, ``seed``,
            ``max_accuracy_drop``).
        train_config: fine-tuning options (``epochs``, ``lr`` and ``seed`` come from ``config``).
        example_input: a batch of inputs to trace with; ``None``: the first training samples.
        threads: intra-op threads of evaluation and latency sessions.
        batch_sizes: batch sizes timed by :func:`autoopt.evaluate.measure_latency`.

    Raises:
        InvalidSpecError: bad config.
        CompressionError: the model cannot be captured, prepared or exported.

    Example:
        >>> res = quantize_qat(model, data, "final/model.qat.onnx", {"qat_epochs": 2})  # doctest: +SKIP
        >>> res.report.qat["val_metrics"]["accuracy"]  # doctest: +SKIP
        0.95
    """
    cfg = coerce_quantize_config(config, mode="qat")
    out = Path(onnx_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    x = (
        example_input
        if example_input is not None
        else torch.from_numpy(stack_inputs(data.train, _EXAMPLE_SAMPLES))
    )
    fp32 = export_onnx(model, x, out.with_name(f"{out.stem}.fp32.onnx")).path
    prepared = prepare_qat(model, x)
    tcfg = coerce_config(train_config).model_copy(
        update={"epochs": cfg.qat_epochs, "lr": cfg.qat_lr, "seed": cfg.seed}
    )
    result = fit(prepared, data, tcfg)
    converted = _convert(prepared)
    try:
        export_onnx(converted, x, out)
    except Exception as exc:  # ExportError and what the translation raises
        raise CompressionError(
            f"{type(model).__name__}: exporting the QAT model to ONNX failed: {exc}"
        ) from exc
    report = QuantizeReport(
        mode="qat",
        calibration=None,
        activation_type="uint8",
        weight_type="int8",
        per_channel=True,
        calibration_samples=None,
        fp32_path=str(fp32),
        int8_path=str(out),
        max_accuracy_drop=cfg.max_accuracy_drop,
        qat={
            "epochs": result.epochs_run,
            "lr": cfg.qat_lr,
            "best_epoch": result.best_epoch,
            "val_metrics": result.val_metrics,
            "quantizer": "torchao X86InductorQuantizer (QAT): uint8 activations, per-channel int8 weights",
        },
    )
    measure_pair(report, data, threads=threads, batch_sizes=batch_sizes)
    return QuantizeResult(out, Path(fp32), report)
