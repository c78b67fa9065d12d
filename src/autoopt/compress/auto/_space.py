"""The per-layer policy space: one pruning ratio per prunable group, an exact cost model, AMC's clipping.

A "layer" of a policy is a Torch-Pruning group: the channels that must be removed together (a conv,
its BatchNorm, the next layer's inputs; all convolutions joined by one residual addition). Its
ratio ``r`` keeps ``max(1, round(C * (1 - r)))`` of its ``C`` channels. MACs and parameters of a
policy are computed from channel counts alone (no model is built), with the same rules as
:func:`autoopt.models.count_macs` / ``count_params``; :meth:`PolicySpace.apply` builds the real model.

Budgets are enforced by construction (He et al. 2018, AMC's resource-constrained mode): layers are
decided in order, and each ratio is raised to the least value that still lets the remaining layers,
pruned at ``max_ratio``, meet the budget. Every clipped policy therefore meets it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch_pruning as tp
from torch import nn

from autoopt.compress.prune._errors import CompressionError
from autoopt.compress.prune._graph import (
    PRUNABLE,
    build_pruner,
    find_breaking_layers,
    run_checked,
    untraced_layers,
)
from autoopt.compress.prune._importance import criteria
from autoopt.compress.prune._structured import classifier_name
from autoopt.exceptions import InvalidSpecError
from autoopt.models import count_macs, count_params

__all__ = ["BUDGET_KINDS", "LayerGroup", "PolicySpace", "keep_count"]

#: resources a budget can bound, as a fraction of the unpruned model.
BUDGET_KINDS = ("macs", "params")
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def keep_count(channels: int, ratio: float) -> int:
    """Channels kept when ``ratio`` of ``channels`` are pruned (at least one)."""
    return max(1, min(channels, int(round(channels * (1.0 - ratio)))))


@dataclass
class LayerGroup:
    """One searchable layer: a group of coupled channels, named by its root layer.

    Attributes:
        name: the root layer's qualified name (``layer1.0.conv1``).
        kind: the root's type name (``Conv2d``, ``Linear``).
        channels: prunable channels ``C`` of the group.
        members: names of the layers whose output channels the group removes.
        order: 0-based position in the policy.
        ranking: channel indices, least important first (the criterion's order).
    """

    name: str
    kind: str
    channels: int
    members: list[str]
    order: int
    ranking: list[int] = field(default_factory=list, repr=False)


@dataclass
class _Term:
    """Cost of one module: ``coef * in_keep * out_keep + const_out * out_keep + const``."""

    coef: float
    in_group: int | None
    out_group: int | None
    in_base: int
    out_base: int
    bias: int


class PolicySpace:
    """The prunable groups of ``model``, the cost of any policy, and budget clipping.

    Args:
        model: the trained model (not modified).
        example: an input batch for tracing (a few samples).
        max_ratio: the largest ratio any layer may get, in ``(0, 1)``.
        criterion: which channels of a group go first (``l1``, ``l2``, ``bn-scale``, ``random``).
        ignore: layer names kept whole (the classifier always is).
        seed: seeds the ``random`` criterion.

    Raises:
        CompressionError: the model cannot be traced, or no layer can be pruned.

    Example:
        >>> from autoopt.data._bundle import DatasetMeta
        >>> from autoopt.models import build_model
        >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
        >>> net = build_model("cnn", {"blocks": 2, "channels": 8}, meta)
        >>> space = PolicySpace(net, torch.zeros(2, 1, 8, 8), max_ratio=0.8)
        >>> [g.name for g in space.groups], space.cost([0.5, 0.5], "macs") < space.full_cost("macs")
        (['body.0.0', 'body.1.0'], True)
    """

    def __init__(
        self,
        model: nn.Module,
        example: torch.Tensor,
        *,
        max_ratio: float = 0.8,
        criterion: str = "l2",
        ignore: Sequence[str] = (),
        seed: int = 0,
    ) -> None:
        if not 0.0 < max_ratio < 1.0:
            raise InvalidSpecError(f"compress.prune.max_ratio: must be > 0 and < 1; got {max_ratio!r}")
        crit = criteria.get(criterion, key="compress.prune.criterion")
        if crit.needs_gradients:
            raise InvalidSpecError(
                f"compress.prune.criterion: {criterion!r} needs gradients, which policy: auto does not "
                "compute; use 'l1', 'l2', 'bn-scale' or 'random'"
            )
        self.model = copy.deepcopy(model).eval()
        self.example = example
        self.max_ratio = max_ratio
        self.criterion = criterion
        self.seed = seed
        kind = type(model).__name__
        expected, reason = run_checked(self.model, example)
        if reason is not None or expected is None:
            raise CompressionError(f"compress.prune: {kind} does not run on an example batch: {reason}")
        head = classifier_name(self.model)
        self.ignored = sorted({*ignore, *([head] if head else [])})
        modules = dict(self.model.named_modules())
        unknown = [n for n in ignore if n not in modules]
        if unknown:
            raise InvalidSpecError(f"compress.prune.ignore: no layer named {unknown!r} in {kind}")

        def make_pruner(target: nn.Module, skip: list[str]) -> Any:
            mods = dict(target.named_modules())
            return build_pruner(
                target,
                example,
                importance=criteria.get("l1").build(seed),
                pruning_ratio=max_ratio,
                ignored_layers=[mods[n] for n in skip if n in mods],
            )

        probe_model = copy.deepcopy(self.model)
        missing = untraced_layers(probe_model, make_pruner(probe_model, self.ignored))
        if missing:
            raise CompressionError(
                f"compress.prune: Torch-Pruning cannot trace {kind}: "
                f"layer(s) {', '.join(map(repr, missing))} "
                "were never reached by the traced forward pass (data-dependent control flow?)"
            )
        #: ``{layer: why}`` of layers whose pruning breaks the forward; they are kept whole.
        self.excluded: dict[str, str] = find_breaking_layers(
            self.model, example, expected.shape, make_pruner, self.ignored
        )
        self._expected_shape = expected.shape
        self.groups: list[LayerGroup] = self._find_groups()
        if not self.groups:
            raise CompressionError(
                f"compress.prune: no prunable layer in {kind} (ignored: {self.ignored}, "
                f"excluded: {sorted(self.excluded)})"
            )
        self._terms = {k: self._cost_terms(k) for k in BUDGET_KINDS}
        self._const = {
            "macs": 0,
            "params": count_params(self.model) - self._params_counted(),
        }
        self._full = {k: self.cost([0.0] * len(self.groups), k) for k in BUDGET_KINDS}

    # -- structure ---------------------------------------------------------------------------------

    def _graph(self, model: nn.Module) -> tp.DependencyGraph:
        return tp.DependencyGraph().build_dependency(model, example_inputs=self.example)

    def _find_groups(self) -> list[LayerGroup]:
        names = {m: n for n, m in self.model.named_modules()}
        modules = dict(self.model.named_modules())
        skip = [modules[n] for n in [*self.ignored, *self.excluded] if n in modules]
        work = copy.deepcopy(self.model)
        graph = self._graph(work)
        wnames = {m: n for n, m in work.named_modules()}
        importance = criteria.get(self.criterion).build(self.seed)
        wskip = [dict(work.named_modules())[names[m]] for m in skip]
        groups: list[LayerGroup] = []
        self._in_of: dict[str, int] = {}
        self._out_of: dict[str, int] = {}
        for group in graph.get_all_groups(ignored_layers=wskip, root_module_types=PRUNABLE):
            root = group[0].dep.target.module
            channels = graph.get_out_channels(root)
            if not channels or channels < 2:
                continue
            scores = importance(group)
            if scores is None:  # e.g. bn-scale on a group without BatchNorm: kept whole
                continue
            members = []
            index = len(groups)
            for dep, _ in group:
                target = dep.target.module
                name = wnames.get(target)
                if name is None or not isinstance(target, (*PRUNABLE, *_NORMS)):
                    continue
                if graph.is_out_channel_pruning_fn(dep.handler):
                    self._out_of[name] = index
                    if isinstance(target, PRUNABLE):
                        members.append(name)
                else:
                    self._in_of[name] = index
            ranking = torch.argsort(scores.detach().cpu(), stable=True).tolist()
            groups.append(
                LayerGroup(wnames[root], type(root).__name__, int(channels), members, index, ranking)
            )
        # Policies list layers in network order (the first member's position), as AMC walks them.
        position = {n: i for i, n in enumerate(modules)}
        ordered = sorted(groups, key=lambda g: min(position[m] for m in [g.name, *g.members]))
        remap = {g.order: i for i, g in enumerate(ordered)}
        for g in ordered:
            g.order = remap[g.order]
        self._in_of = {n: remap[i] for n, i in self._in_of.items()}
        self._out_of = {n: remap[i] for n, i in self._out_of.items()}
        return ordered

    def _cost_terms(self, kind: str) -> list[_Term]:
        spatial: dict[str, int] = {}
        if kind == "macs":
            hooks = []
            for name, m in self.model.named_modules():
                if isinstance(m, PRUNABLE):

                    def hook(mod: nn.Module, _i: Any, out: torch.Tensor, name: str = name) -> None:
                        spatial[name] = out[0].numel() // _out_features(mod)

                    hooks.append(m.register_forward_hook(hook))
            try:
                with torch.no_grad():
                    self.model(self.example[:1])
            finally:
                for h in hooks:
                    h.remove()
        terms = []
        for name, m in self.model.named_modules():
            if isinstance(m, PRUNABLE):
                cin, cout = _in_features(m), _out_features(m)
                groups = getattr(m, "groups", 1)
                kernel = math.prod(m.weight.shape[2:]) if m.weight.dim() > 2 else 1
                in_group = self._in_of.get(name) if groups == 1 else None
                base = spatial.get(name, 1) if kind == "macs" else 1
                # a conv's MACs: out elements x in/groups x kernel; its params: weight (+ bias).
                coef = base * kernel / groups if groups == 1 else base * kernel * (cin // groups)
                bias = 1 if (kind == "params" and getattr(m, "bias", None) is not None) else 0
                if groups != 1:  # depthwise-style: in channels follow the out channels
                    in_group, cin = None, 1
                terms.append(_Term(coef, in_group, self._out_of.get(name), cin, cout, bias))
            elif kind == "params" and isinstance(m, _NORMS) and name in self._out_of:
                per_channel = sum(p.numel() for p in m.parameters(recurse=False)) // max(1, _norm_channels(m))
                terms.append(_Term(0.0, None, self._out_of[name], 1, _norm_channels(m), per_channel))
        return terms

    def _params_counted(self) -> int:
        return int(round(self._raw_cost([0.0] * len(self.groups), "params")))

    # -- costs -------------------------------------------------------------------------------------

    def keeps(self, ratios: Sequence[float]) -> list[int]:
        """Channels kept in each group under ``ratios``."""
        return [keep_count(g.channels, r) for g, r in zip(self.groups, ratios, strict=False)]

    def _raw_cost(self, ratios: Sequence[float], kind: str, keeps: Sequence[int] | None = None) -> float:
        keeps = list(keeps) if keeps is not None else self.keeps(ratios)
        total = 0.0
        for t in self._terms[kind]:
            cin = (
                t.in_base
                if t.in_group is None
                else t.in_base * keeps[t.in_group] // self.groups[t.in_group].channels
            )
            cout = t.out_base if t.out_group is None else keeps[t.out_group]
            total += t.coef * cin * cout + t.bias * cout
        return total

    def cost(self, ratios: Sequence[float], kind: str, *, keeps: Sequence[int] | None = None) -> int:
        """MACs or params of the model pruned with ``ratios`` (exact, without building it)."""
        _check_kind(kind)
        return int(round(self._raw_cost(ratios, kind, keeps))) + self._const[kind]

    def full_cost(self, kind: str) -> int:
        """MACs or params of the unpruned model."""
        _check_kind(kind)
        return self._full[kind]

    def min_fraction(self, kind: str) -> float:
        """The smallest fraction of the unpruned cost reachable (every group at ``max_ratio``)."""
        return self.cost([self.max_ratio] * len(self.groups), kind) / self.full_cost(kind)

    # -- budget ------------------------------------------------------------------------------------

    def check_budget(self, budget: dict[str, float]) -> None:
        """Raise before any search when a budget is out of reach, with the smallest reachable value."""
        errors = []
        for kind, fraction in budget.items():
            _check_kind(kind)
            low = self.min_fraction(kind)
            if fraction < low:
                errors.append(
                    f"compress.prune.budget.{kind}: {fraction!r} of the unpruned {kind} cannot be reached "
                    f"with max_ratio {self.max_ratio}; the smallest achievable is "
                    f"{math.ceil(low * 1e4) / 1e4} "
                    f"({self.cost([self.max_ratio] * len(self.groups), kind):,} of "
                    f"{self.full_cost(kind):,}); raise the budget or max_ratio"
                )
        if errors:
            raise InvalidSpecError(errors=errors)

    def clip_one(self, index: int, ratio: float, decided: Sequence[float], budget: dict[str, float]) -> float:
        """AMC's clip of layer ``index``'s action given the ratios ``decided`` for layers before it.

        Returns the least ratio ``>= ratio`` (capped at ``max_ratio``) such that the budget is still
        met when every later layer is pruned at ``max_ratio``.
        """
        ratio = min(max(float(ratio), 0.0), self.max_ratio)
        rest = [keep_count(g.channels, self.max_ratio) for g in self.groups[index + 1 :]]
        keeps = [*self.keeps(decided[:index]), 0, *rest]
        group = self.groups[index]
        low_keep = keep_count(group.channels, self.max_ratio)
        limit = keep_count(group.channels, ratio)
        for kind, fraction in budget.items():
            cap = fraction * self.full_cost(kind)

            def fits(k: int, kind: str = kind, cap: float = cap) -> bool:
                keeps[index] = k
                return self.cost((), kind, keeps=keeps) <= cap

            if not fits(low_keep):  # only possible when the budget was not checked
                raise InvalidSpecError(f"compress.prune.budget.{kind}: {fraction!r} is out of reach")
            lo, hi = low_keep, limit  # largest k in [lo, hi] that fits (cost grows with k)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if fits(mid):
                    lo = mid
                else:
                    hi = mid - 1
            limit = lo
        if limit == keep_count(group.channels, ratio):
            return ratio
        return 1.0 - limit / group.channels

    def clip(self, ratios: Sequence[float], budget: dict[str, float]) -> list[float]:
        """Clip a whole policy layer by layer so that it meets ``budget`` (fractions per kind)."""
        out: list[float] = []
        for i, r in enumerate(ratios):
            out.append(self.clip_one(i, r, out, budget))
        return out

    def meets(self, ratios: Sequence[float], budget: dict[str, float]) -> bool:
        """Whether ``ratios`` meet every bound of ``budget``."""
        return all(self.cost(ratios, k) <= f * self.full_cost(k) for k, f in budget.items())

    # -- applying a policy -------------------------------------------------------------------------

    def apply(self, ratios: Sequence[float]) -> nn.Module:
        """A pruned copy of the model: each group loses its least important channels per ``ratios``."""
        if len(ratios) != len(self.groups):
            raise InvalidSpecError(
                f"compress.prune.policy: expected {len(self.groups)} ratios (one per layer); "
                f"got {len(ratios)}"
            )
        work = copy.deepcopy(self.model)
        graph = self._graph(work)
        modules = dict(work.named_modules())
        for group, r in zip(self.groups, ratios, strict=False):
            n_prune = group.channels - keep_count(group.channels, r)
            if n_prune <= 0:
                continue
            root = modules[group.name]
            fn = graph.get_pruner_of_module(root).prune_out_channels
            graph.get_pruning_group(root, fn, idxs=sorted(group.ranking[:n_prune])).prune()
        out, reason = run_checked(work, self.example)
        if reason is None and out is not None and out.shape != self._expected_shape:
            reason = f"the output shape changes from {tuple(self._expected_shape)} to {tuple(out.shape)}"
        if reason is not None:
            raise CompressionError(f"compress.prune: the pruned model does not run: {reason}")
        return work

    def describe(self, ratios: Sequence[float]) -> dict[str, tuple[int, int]]:
        """``{layer: (channels before, after)}`` of a policy."""
        return {g.name: (g.channels, k) for g, k in zip(self.groups, self.keeps(ratios), strict=False)}

    def check_against_model(self, ratios: Sequence[float]) -> dict[str, tuple[int, int]]:
        """``{kind: (cost model, counted on the built model)}``: the cost model's own check."""
        pruned = self.apply(ratios)
        shape = tuple(self.example.shape[1:])
        return {
            "macs": (self.cost(ratios, "macs"), count_macs(pruned, shape)),
            "params": (self.cost(ratios, "params"), count_params(pruned)),
        }


def _check_kind(kind: str) -> None:
    if kind not in BUDGET_KINDS:
        raise InvalidSpecError(
            f"compress.prune.budget: unknown resource {kind!r}; expected one of: {', '.join(BUDGET_KINDS)}"
        )


def _out_features(m: nn.Module) -> int:
    return m.out_features if isinstance(m, nn.Linear) else int(m.weight.shape[0])  # type: ignore[index]


def _in_features(m: nn.Module) -> int:
    return m.in_features if isinstance(m, nn.Linear) else int(m.in_channels)  # type: ignore[arg-type]


def _norm_channels(m: nn.Module) -> int:
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return int(m.num_features)
    if isinstance(m, nn.GroupNorm):
        return int(m.num_channels)
    return int(m.normalized_shape[0]) if isinstance(m, nn.LayerNorm) else 1
