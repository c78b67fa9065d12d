"""Entry points of the architecture spaces: list, make a space, build, find the smallest sample."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autoopt.data import DatasetMeta
from autoopt.exceptions import InvalidArchitectureError
from autoopt.models._base import AutoOptModel, as_autoopt_model
from autoopt.models._profile import count_macs, count_params
from autoopt.models.arch._common import arch_spaces, check_limits
from autoopt.space import Space

__all__ = ["list_nas_spaces", "nas_space", "build_architecture", "smallest_in_space"]


def list_nas_spaces() -> list[str]:
    """Names of the architecture spaces, sorted (``nas-cell``, ``nas-macro``, ``nas-mlp``).

    Each is also a registered model name, so ``build_model(name, params, meta)`` builds a sample.
    """
    return arch_spaces.names()


def nas_space(name: str, meta: DatasetMeta, **limits: Any) -> Space:
    """The search space of an architecture space, adapted to ``meta``'s input.

    Every parameter is categorical, int or fixed, with ``when:`` conditions for decisions that only
    exist for some values of another (per-stage decisions exist when ``stages >= k``), so every
    strategy can search it.

    Example:
        >>> from autoopt.data import DatasetMeta
        >>> from autoopt.models.arch import nas_space
        >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
        >>> nas_space("nas-macro", meta, max_stages=2).names[:4]
        ['stem_width', 'stages', 's1_width', 's1_blocks']

    Args:
        name: one of :func:`list_nas_spaces` (``macro``, ``cell`` and ``mlp`` are accepted too).
        meta: the dataset description.
        **limits: the space's limits, e.g. ``max_stages`` and ``widths`` for ``nas-macro``
            (see :func:`~autoopt.models.arch.macro_space`, ``cell_space``, ``mlp_space``).

    Raises:
        UnknownNameError: ``name`` is not a space; the message lists them.
        InvalidSpecError: a limit is unknown or has a wrong value.
    """
    spec = arch_spaces.get(name, key="nas.space")
    check_limits(spec.make_space, spec.name, limits)
    return spec.make_space(meta, **limits)


def build_architecture(name: str, params: Mapping[str, Any], meta: DatasetMeta) -> AutoOptModel:
    """Build the model an architecture space's params describe.

    Example:
        >>> from autoopt.data import DatasetMeta
        >>> from autoopt.models.arch import build_architecture
        >>> meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
        >>> params = {"stem_width": 8, "stages": 1, "s1_width": 16, "s1_blocks": 1, "s1_b1_op": "conv3x3"}
        >>> build_architecture("nas-macro", params, meta).head.out_features
        10

    Args:
        name: one of :func:`list_nas_spaces`.
        params: the decisions, e.g. ``nas_space(name, meta).sample(trial)``.
        meta: the dataset description.

    Raises:
        InvalidArchitectureError: the decisions do not describe a buildable architecture (the
            message lists every problem); raised before any tensor is allocated.
    """
    spec = arch_spaces.get(name, key="nas.space")
    return as_autoopt_model(spec.build(meta, **dict(params)))


def smallest_in_space(
    name: str, meta: DatasetMeta, n_samples: int = 200, seed: int = 0, **limits: Any
) -> dict:
    """Sample a space at random and report the smallest parameter count and MACs found.

    Used to explain constraints no architecture can meet (``params <= 500`` when the smallest
    sampled architecture has 1,400). The true minimum may be lower than the sampled one.

    Args:
        name: one of :func:`list_nas_spaces`.
        meta: the dataset description.
        n_samples: how many architectures to sample.
        seed: seed of the random sampler.
        **limits: the space's limits (as for :func:`nas_space`).

    Returns:
        ``{"space", "n_samples", "invalid", "params", "params_arch", "macs", "macs_arch"}``: the
        smallest parameter count and MAC count found, each with the architecture that has it, and
        how many samples could not be built.
    """
    import optuna

    space = nas_space(name, meta, **limits)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    best: dict[str, Any] = {
        "space": arch_spaces.get(name).name,
        "n_samples": n_samples,
        "invalid": 0,
        "params": None,
        "params_arch": None,
        "macs": None,
        "macs_arch": None,
    }
    shape = tuple(meta.input_shape)
    for _ in range(n_samples):
        arch = space.sample(study.ask())
        try:
            model = build_architecture(name, arch, meta)
        except InvalidArchitectureError:
            best["invalid"] += 1
            continue
        n_params, macs = count_params(model), count_macs(model, shape)
        if best["params"] is None or n_params < best["params"]:
            best["params"], best["params_arch"] = n_params, arch
        if best["macs"] is None or macs < best["macs"]:
            best["macs"], best["macs_arch"] = macs, arch
    return best
