"""The run manifest and the ship step: which model each stage consumed and produced, and ``final/``.

Every model a stage produces becomes a :class:`autoopt.evaluate.Candidate` in
``RUN_DIR/candidates/<id>/`` (a PyTorch model is exported there: ONNX + .pt2 + weights + card; an INT8
or other ONNX-only compression step keeps its ONNX file, already a Candidate from compress), listed
in ``RUN_DIR/<stage>/candidates.json``. The ship step times every candidate of the stages present in
the spec (interleaved, with the one latency harness), applies the guard
(:func:`autoopt.evaluate.choose`) and rebuilds ``final/`` from the chosen candidate only: nothing in
``final/`` survives from an earlier run. ``RUN_DIR/manifest.json`` records the stages, the candidates
with their measurements and flags, and the decision.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from autoopt.compress import score_key as compress_score_key
from autoopt.data import DataBundle
from autoopt.evaluate import (
    CARD_FILE,
    Candidate,
    GuardConfig,
    ShipDecision,
    choose,
    fingerprint_file,
    flag_slower_than_source,
    measure_latencies,
)
from autoopt.io import write_json
from autoopt.spec import Spec

__all__ = [
    "MANIFEST_FILE",
    "decide",
    "ShipResult",
    "guard_config",
    "load_candidates",
    "rebuild",
    "save_candidates",
    "ship",
    "torch_candidate",
]

MANIFEST_FILE = "manifest.json"
CANDIDATES_FILE = "candidates.json"


def score_key(data: DataBundle) -> tuple[str, bool]:
    """The test metric candidates are compared on (compress's own), and whether higher is better."""
    key = compress_score_key(data)
    return key, key == "accuracy"


def guard_config(spec: Spec) -> GuardConfig:
    """The guard of ``spec.ship`` (``max_accuracy_drop`` defaults to ``compress.max_accuracy_drop``)."""
    ship = spec.ship
    drop = ship.max_accuracy_drop
    if drop is None:
        drop = float((spec.compress or {}).get("max_accuracy_drop", 1.0))
    return GuardConfig(
        max_accuracy_drop=drop,
        max_latency_ms=ship.max_latency_ms,
        max_size_bytes=ship.max_size_bytes,
        prefer=ship.prefer,
        latency_tolerance=ship.latency_tolerance,
    )


def torch_candidate(
    cid: str,
    label: str,
    stage: str,
    model: nn.Module,
    data: DataBundle,
    run_dir: Path,
    *,
    builder: dict[str, Any] | None,
    weights: Path | None = None,
    derived_from: str | None = None,
    notes: Iterable[str] = (),
) -> Candidate:
    """Export a PyTorch model to ``RUN_DIR/candidates/<cid>/`` and measure it on the test split.

    ``weights``: the stage's checkpoint; its hash is the candidate's fingerprint (stable across
    re-exports), else the exported ONNX file's hash.
    """
    from autoopt.export import export_model

    folder = run_dir / "candidates" / cid
    if folder.exists():
        shutil.rmtree(folder)
    card = export_model(
        model.eval(),
        data,
        folder,
        name=(builder or {}).get("name"),
        config=(builder or {}).get("config"),
    )
    key, higher = score_key(data)
    return Candidate(
        id=cid,
        label=label,
        stage=stage,
        onnx=str(folder / "model.onnx"),
        score=card.metrics.get(f"test_{key}"),
        metric=key,
        higher_is_better=higher,
        params=int(card.model["params"]),
        macs=int(card.model["macs"]),
        size_bytes=int(card.size_bytes["onnx"]),
        model_dir=str(folder),
        builder=builder,
        derived_from=derived_from,
        fingerprint=fingerprint_file(weights) if weights is not None else "",
        notes=list(notes),
    )


def save_candidates(run_dir: Path, stage: str, candidates: Sequence[Candidate], **extra: Any) -> None:
    write_json(run_dir / stage / CANDIDATES_FILE, {"candidates": [c.to_dict() for c in candidates], **extra})


def load_candidates(run_dir: Path, stage: str) -> tuple[list[Candidate], dict[str, Any]] | None:
    """The candidates a finished stage recorded; ``None`` when absent or when a file they name is gone."""
    p = run_dir / stage / CANDIDATES_FILE
    if not p.is_file():
        return None
    try:
        raw = json.loads(p.read_text())
        cands = [Candidate.from_dict(c) for c in raw["candidates"]]
    except (ValueError, KeyError, TypeError):
        return None
    if any(not Path(c.onnx).is_file() for c in cands):
        return None
    return cands, {k: v for k, v in raw.items() if k != "candidates"}


def rebuild(candidate: Candidate, data: DataBundle) -> nn.Module:
    """The PyTorch model of a candidate exported by :func:`torch_candidate` from a builder."""
    from autoopt.models import build_model, load_checkpoint

    if candidate.builder is None or candidate.model_dir is None:
        raise ValueError(f"candidate {candidate.id!r} has no rebuildable PyTorch model")
    model = build_model(candidate.builder["name"], dict(candidate.builder["config"]), data.meta)
    load_checkpoint(model, Path(candidate.model_dir) / "model.safetensors")
    return model.eval()


@dataclass
class ShipResult:
    """What :func:`ship` decided and wrote."""

    decision: ShipDecision
    final_dir: Path
    manifest: Path


def decide(spec: Spec, candidates: Sequence[Candidate]) -> ShipDecision:
    """Time the candidates alike (interleaved), flag the slower-than-source ones, apply the guard."""
    batch_sizes = sorted({1, *[int(b) for b in (spec.compress or {}).get("latency_batch_sizes", [64])]})
    measure_latencies(candidates, batch_sizes=batch_sizes, repeats=spec.ship.repeats)
    cfg = guard_config(spec)
    flag_slower_than_source(candidates, cfg.latency_tolerance)
    return choose(candidates, "searched", cfg)


def ship(
    spec: Spec,
    run_dir: Path,
    data: DataBundle,
    candidates: Sequence[Candidate],
    stages: dict[str, dict[str, Any]],
) -> ShipResult:
    """Time the candidates, apply the guard, rebuild ``final/`` from the winner, write the manifest.

    Args:
        spec: the run's spec (``ship:`` holds the guard).
        run_dir: the run directory.
        data: the data (for the card's preprocessing and class names).
        candidates: every candidate of the stages present in the spec; one has id ``searched``.
        stages: per stage, what the manifest records (status, fingerprint, consumed, produced).
    """
    cfg = guard_config(spec)
    cands = list(candidates)
    decision = decide(spec, cands)
    final = run_dir / "final"
    if final.exists():
        shutil.rmtree(final)
    shipped = decision.shipped
    info = {
        "candidate": shipped.id,
        "label": shipped.label,
        "stage": shipped.stage,
        "precision": shipped.precision,
        "fingerprint": shipped.fingerprint,
        "vs_searched": decision.comparison(),
        "latency_ms": shipped.latency_ms,
        "latency_settings": shipped.latency_settings,
        "guard": dataclasses.asdict(cfg),
        "not_shipped": {c.id: c.flags for c in decision.rejected()},
    }
    extra = {"deployable": "model.onnx", "shipped": info}
    if shipped.model_dir is not None and (Path(shipped.model_dir) / CARD_FILE).is_file():
        src = Path(shipped.model_dir)
        final.mkdir(parents=True)
        card = json.loads((src / CARD_FILE).read_text())
        for name in dict(card.get("files") or {}).values():
            shutil.copyfile(src / name, final / name)
        card["spec"] = spec.model_dump(mode="json")
        card["model"] = {**card.get("model", {}), "precision": shipped.precision}
        write_json(final / CARD_FILE, {**card, **extra})
    else:
        from autoopt.export import model_dir_for_onnx

        root = _root(shipped, cands)
        model_dir_for_onnx(
            shipped.onnx,
            data,
            final,
            metrics={f"test_{shipped.metric}": shipped.score},
            model={
                "name": (root.builder or {}).get("name"),
                "config": None,  # pruned or quantized: not rebuildable from the builder's parameters
                "params": shipped.params,
                "macs": shipped.macs,
                "precision": shipped.precision,
                "derived_from": shipped.derived_from,
            },
            latency={"p50_ms": shipped.latency_ms, "settings": shipped.latency_settings},
            spec=spec,
            extra=extra,
        )
    manifest = write_json(
        run_dir / MANIFEST_FILE,
        {
            "spec": spec.name,
            "written": time.time(),
            "stages": stages,
            "reference": decision.reference.id,
            "shipped": shipped.id,
            "deployable": "final/model.onnx",
            "comparison": decision.comparison(),
            "guard": info["guard"],
            "candidates": [c.to_dict() for c in cands],
        },
    )
    return ShipResult(decision=decision, final_dir=final, manifest=manifest)


def _root(c: Candidate, cands: Sequence[Candidate]) -> Candidate:
    by_id = {x.id: x for x in cands}
    seen = set()
    while c.builder is None and c.derived_from in by_id and c.id not in seen:
        seen.add(c.id)
        c = by_id[c.derived_from]  # type: ignore[index]
    return c
