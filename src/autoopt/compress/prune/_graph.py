"""Tracing with Torch-Pruning's ``DependencyGraph`` and checking that a pruned graph still runs.

Torch-Pruning traces one forward pass. Two things it cannot see are caught here and named:
layers the traced pass never reached (data-dependent control flow: pruning their inputs would
break the other branch), and pruned groups after which the forward fails (an op with a hard-coded
channel count, a buffer multiplied into a feature map). The latter are found by pruning a throwaway
copy group by group and are then excluded, so the rest of the model is still pruned.
"""

from __future__ import annotations

import copy
import os
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch_pruning as tp
from torch import nn

from autoopt.compress.prune._errors import CompressionError

__all__ = [
    "PRUNABLE",
    "failing_module",
    "run_checked",
    "build_pruner",
    "untraced_layers",
    "find_breaking_layers",
    "out_channels",
]

#: layers whose output channels Torch-Pruning removes (and whose channels the report lists).
PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
_TRACED = (*PRUNABLE, nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


@contextmanager
def failing_module(model: nn.Module) -> Iterator[list[str]]:
    """Record the innermost module running when an exception escapes the block.

    Yields a list that holds, after an exception, ``"name (Type)"`` of that module (empty when the
    error happened outside any submodule).
    """
    names = {m: n for n, m in model.named_modules()}
    stack: list[nn.Module] = []
    where: list[str] = []

    def pre(module: nn.Module, _args: Any) -> None:
        stack.append(module)

    def post(module: nn.Module, _args: Any, _out: Any) -> None:
        if stack and stack[-1] is module:
            stack.pop()

    handles = [m.register_forward_pre_hook(pre) for m in model.modules() if m is not model]
    handles += [m.register_forward_hook(post) for m in model.modules() if m is not model]
    try:
        yield where
    except Exception:
        if stack:
            module = stack[-1]
            where.append(f"{names.get(module, '?')!r} ({type(module).__name__})")
        raise
    finally:
        for h in handles:
            h.remove()


def run_checked(model: nn.Module, example: torch.Tensor) -> tuple[torch.Tensor | None, str | None]:
    """Run ``model(example)`` in eval mode without grad; return ``(output, None)`` or ``(None, reason)``.

    The reason names the module in which the forward failed. The train/eval mode is restored.
    """
    was_training = model.training
    model.eval()
    try:
        with failing_module(model) as where, torch.no_grad():
            out = model(example)
        return out, None
    except Exception as exc:  # noqa: BLE001 - any failure of a user forward is reported, not raised
        place = f" in layer {where[0]}" if where else f" in {type(model).__name__}.forward"
        return None, f"the forward fails{place}{_user_frame(exc)}: {type(exc).__name__}: {_first_line(exc)}"
    finally:
        model.train(was_training)


def _user_frame(exc: BaseException) -> str:
    """`` at file.py:12 (`code`)`` of the innermost traceback frame outside torch and Torch-Pruning."""
    found = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = frame.filename.replace("\\", "/")
        if any(part in path for part in ("/torch/", "/torch_pruning/", "/autoopt/compress/")):
            continue
        code = f" (`{frame.line.strip()}`)" if frame.line else ""
        found = f" at {os.path.basename(frame.filename)}:{frame.lineno}{code}"
    return found


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


def build_pruner(model: nn.Module, example: torch.Tensor, **kwargs: Any) -> tp.pruner.BasePruner:
    """A Torch-Pruning ``BasePruner`` on ``model``; a tracing failure becomes a :class:`CompressionError`.

    The tracing pass runs in eval mode; the model's mode is restored afterwards.

    Args:
        model: the model (pruned in place by the pruner's steps).
        example: an input batch for tracing.
        **kwargs: ``BasePruner`` arguments (importance, ratios, ignored layers, ...).
    """
    was_training = model.training
    where: list[str] = []
    try:
        with warnings.catch_warnings(), torch.enable_grad():
            warnings.filterwarnings("ignore", message="Unwrapped parameters detected")
            with failing_module(model) as where:
                return tp.pruner.BasePruner(model, example, **kwargs)
    except Exception as exc:
        place = f" in layer {where[0]}" if where else ""
        raise CompressionError(
            f"compress.prune: Torch-Pruning cannot trace {type(model).__name__}{place}{_user_frame(exc)}: "
            f"{type(exc).__name__}: {_first_line(exc)}; it cannot be pruned structurally "
            "(set compress.prune.on_error: skip to keep it unpruned)"
        ) from exc
    finally:
        model.train(was_training)


def untraced_layers(model: nn.Module, pruner: tp.pruner.BasePruner) -> list[str]:
    """Conv/linear/norm layers with parameters that the traced forward never reached."""
    traced = pruner.DG.module2node
    return [
        name
        for name, m in model.named_modules()
        if isinstance(m, _TRACED) and any(True for _ in m.parameters(recurse=False)) and m not in traced
    ]


def out_channels(model: nn.Module) -> dict[str, int]:
    """``{name: output channels}`` of every conv/linear layer."""
    out: dict[str, int] = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            out[name] = m.out_features
        elif isinstance(m, PRUNABLE):
            out[name] = int(m.weight.shape[0])  # a conv's out_channels
    return out


def _root_name(group: Any, names: dict[nn.Module, str]) -> str:
    return names.get(group[0].dep.target.module, "?")


def find_breaking_layers(
    model: nn.Module,
    example: torch.Tensor,
    expected_shape: torch.Size,
    make_pruner: Callable[[nn.Module, list[str]], tp.pruner.BasePruner],
    ignored: list[str],
) -> dict[str, str]:
    """Layers whose pruning breaks the forward, found on throwaway copies of ``model``.

    First prunes one copy completely and runs it once (the common, fast case: nothing breaks).
    Otherwise prunes fresh copies group by group, runs the forward after each group, and excludes
    the root layer of the first group that breaks it, until a full pass runs.

    Args:
        model: the model (not modified).
        example: an input batch.
        expected_shape: the output shape the pruned model must keep.
        make_pruner: ``make_pruner(copy, names_to_keep)`` builds a one-shot pruner on the copy.
        ignored: names of layers already kept whole.

    Returns:
        ``{layer name: why pruning it breaks the graph}``.
    """
    excluded: dict[str, str] = {}

    def attempt(per_group: bool) -> tuple[str, str] | None:
        trial = copy.deepcopy(model)
        names = {m: n for n, m in trial.named_modules()}
        pruner = make_pruner(trial, [*ignored, *excluded])
        last = "?"
        for group in pruner.step(interactive=True):
            last = _root_name(group, names)
            group.prune()
            if per_group:
                reason = _check(trial)
                if reason is not None:
                    return last, reason
        if not per_group:
            reason = _check(trial)
            if reason is not None:
                return last, reason
        return None

    def _check(trial: nn.Module) -> str | None:
        out, reason = run_checked(trial, example)
        if reason is None and out is not None and out.shape != expected_shape:
            reason = f"the output shape changes from {tuple(expected_shape)} to {tuple(out.shape)}"
        return reason

    if attempt(per_group=False) is None:
        return excluded
    for _ in range(len(list(model.modules()))):
        found = attempt(per_group=True)
        if found is None:
            break
        layer, reason = found
        excluded[layer] = f"pruning its output channels breaks the graph: {reason}"
    return excluded
