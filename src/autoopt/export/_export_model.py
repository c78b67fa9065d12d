"""``export_model``: ONNX + ``.pt2`` + weights, parity-checked on real data, described by ``model.json``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autoopt.data import DataBundle
from autoopt.evaluate import CARD_FILE, evaluate_runner, make_runner, measure_latency, stack_inputs
from autoopt.exceptions import InvalidSpecError
from autoopt.export._assets import write_assets
from autoopt.export._card import ModelCard, preprocessing_of, sha256_file
from autoopt.export._onnx import export_onnx, export_pt2, trace_model
from autoopt.export._parity import Tolerance, check_parity
from autoopt.io import write_json
from autoopt.models import count_macs, count_params, save_checkpoint
from autoopt.spec import Spec

__all__ = ["export_model", "model_dir_for_onnx", "FILES"]

FILES = {"onnx": "model.onnx", "pt2": "model.pt2", "weights": "model.safetensors"}


def _spec_dict(spec: Spec | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if spec is None:
        return None
    if isinstance(spec, Spec):
        return spec.model_dump(mode="json")
    if isinstance(spec, Mapping):
        return dict(spec)
    raise InvalidSpecError(f"spec: expected a Spec, a mapping or None; got {type(spec).__name__}")


def _real_inputs(data: DataBundle) -> Any:
    for split in ("test", "val", "train"):
        ds = getattr(data, split)
        if len(ds) > 0:
            return ds
    raise InvalidSpecError("data: every split is empty; export needs real samples for the parity check")


def _dtype_name(x: torch.Tensor) -> str:
    """The numpy-style name of a tensor's dtype for the model card (``float32``, ``int64``)."""
    return str(x.dtype).removeprefix("torch.")


def export_model(
    model: nn.Module,
    data: DataBundle,
    out_dir: str | os.PathLike[str],
    *,
    spec: Spec | Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    tolerance: Tolerance | None = None,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    opset: int | None = None,
    parity_samples: int = 512,
    latency_batch_sizes: Sequence[int] = (1, 64),
    latency_threads: int | None = 1,
    latency_repeats: int = 50,
) -> ModelCard:
    """Export a trained model for serving: ``model.onnx``, ``.pt2``, ``.safetensors`` and ``model.json``.

    One ``torch.export`` trace gives both the ONNX file (dynamic batch) and the ``.pt2`` archive. Both
    are checked against the model on real samples of the test split (val or train when it is empty);
    ONNX Runtime latency is measured with :func:`autoopt.evaluate.measure_latency`. ``model.json`` is
    written last, and a previous one is removed first: a card in ``out_dir`` always describes the
    files next to it.

    Args:
        model: the trained model (its train/eval mode is restored afterwards).
        data: the data it was trained on (preprocessing, class names, real inputs, test metrics).
        out_dir: the model dir to write.
        spec: the run's spec, recorded in the card (``None``: ``"spec": null``).
        metrics: metrics to record (e.g. ``best/metrics.json``); ``None`` evaluates the ONNX model on
            the test split and records ``test_<metric>``.
        tolerance: parity tolerance (``None``: :class:`Tolerance`'s defaults: atol 1e-4, rtol 1e-3,
            top-1 agreement 1.0).
        name: the model's builder name (``autoopt list models``); ``None``: the class name.
        config: the builder's parameters, so ``autoopt evaluate`` can rebuild it from the weights.
        opset: ONNX opset (``None``: the exporter's default).
        parity_samples: how many real samples the parity checks compare.
        latency_batch_sizes: batch sizes of the latency measurement.
        latency_threads: intra-op threads of the latency measurement.
        latency_repeats: timed calls per batch size.

    Returns:
        The written :class:`ModelCard`.

    Raises:
        ExportError: the model cannot be exported, or an export is out of tolerance (with the numbers).

    Example:
        >>> from autoopt.data import load_data
        >>> from autoopt.models import build_model
        >>> data = load_data({"name": "digits", "limit": 300})
        >>> model = build_model("mlp", {"depth": 1, "width": 16}, data.meta)
        >>> cfg = {"depth": 1, "width": 16}
        >>> card = export_model(model, data, "/tmp/mlp", name="mlp", config=cfg)  # doctest: +SKIP
        >>> card.parity["onnx"]["passed"], card.files["onnx"]  # doctest: +SKIP
        (True, 'model.onnx')
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / CARD_FILE).unlink(missing_ok=True)
    real = _real_inputs(data)
    example = torch.from_numpy(stack_inputs(real, limit=2))
    was_training = model.training
    model.eval()
    try:
        program = trace_model(model, example)
        onnx_res = export_onnx(program, example, out / FILES["onnx"], opset=opset)
        export_pt2(program, example, out / FILES["pt2"])
        save_checkpoint(model, out / FILES["weights"])
        tol = tolerance or Tolerance()
        parity = {
            kind: check_parity(
                model,
                out / FILES[kind],
                real,
                atol=tol.atol,
                rtol=tol.rtol,
                min_top1_agreement=tol.min_top1_agreement,
                limit=parity_samples,
            ).to_dict()
            for kind in ("onnx", "pt2")
        }
        with torch.no_grad():
            macs = count_macs(model, data.meta.input_shape, task=data.meta.task)
        params = count_params(model)
    finally:
        model.train(was_training)
    if metrics is None:
        runner = make_runner(out / FILES["onnx"], threads=latency_threads)
        test = evaluate_runner(runner, real, data.meta.task, threads=latency_threads)
        metrics = {f"test_{k}": v for k, v in test.items()}
    latency = measure_latency(
        out / FILES["onnx"],
        batch_sizes=latency_batch_sizes,
        threads=latency_threads,
        repeats=latency_repeats,
        task=data.meta.task,
    )
    files = dict(FILES) | write_assets(data.meta, out)
    for extra in onnx_res.files[1:]:  # external weights of a > 1.8 GB model
        files["onnx_data" if len(onnx_res.files) == 2 else f"onnx_data_{extra.name}"] = extra.name
    card = ModelCard(
        task=data.meta.task,
        class_names=list(data.meta.class_names) if data.meta.class_names is not None else None,
        input={"name": onnx_res.input_name, "shape": onnx_res.input_shape, "dtype": _dtype_name(example)},
        output={"name": onnx_res.output_name, "shape": onnx_res.output_shape, "dtype": "float32"},
        preprocessing=preprocessing_of(data.meta),
        files=files,
        opset=onnx_res.opset,
        size_bytes={k: (out / f).stat().st_size for k, f in files.items()},
        sha256={k: sha256_file(out / f) for k, f in files.items()},
        metrics=dict(metrics),
        latency=latency.to_dict(),
        parity=parity,
        spec=_spec_dict(spec),
        model={
            "name": name or type(model).__name__,
            "config": dict(config) if config is not None else None,
            "params": params,
            "macs": macs,
        },
    )
    card.save(out / CARD_FILE)
    return card


def model_dir_for_onnx(
    onnx_path: str | os.PathLike[str],
    data: DataBundle,
    out_dir: str | os.PathLike[str],
    *,
    metrics: Mapping[str, Any],
    model: Mapping[str, Any],
    latency: Mapping[str, Any] | None = None,
    spec: Spec | Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ModelCard:
    """A model dir around an existing ONNX file (e.g. an INT8 or pruned model): ``model.onnx`` + card.

    The ONNX file is the whole deployable model (``files`` names only it, and a text model's
    tokenizer), and every number in the card
    (``metrics``, ``latency``, ``size_bytes``) must be of this file; ``model`` says what it was made from
    (``config`` is ``None`` when the weights cannot be rebuilt from a builder, e.g. after pruning).

    Args:
        onnx_path: the ONNX file, copied to ``out_dir/model.onnx``.
        data: the data (preprocessing and class names).
        out_dir: the model dir to write (its previous card is removed first).
        metrics: test metrics measured on this file.
        model: ``name``, ``config``, ``params``, ``macs``, ``precision``, ...
        latency: the latency of this file.
        spec: the run's spec, recorded in the card.
        extra: more card keys (e.g. ``shipped``); never ``files``, ``metrics`` or ``model``.
    """
    import onnx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / CARD_FILE).unlink(missing_ok=True)
    target = out / FILES["onnx"]
    if Path(onnx_path).resolve() != target.resolve():
        shutil.copyfile(onnx_path, target)
    proto = onnx.load(str(target), load_external_data=False)
    opsets = {o.domain: o.version for o in proto.opset_import}

    def shape(vi: Any) -> list[int | None]:
        return [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]

    files = {"onnx": FILES["onnx"]} | write_assets(data.meta, out)
    card = ModelCard(
        task=data.meta.task,
        class_names=list(data.meta.class_names) if data.meta.class_names is not None else None,
        input={
            "name": proto.graph.input[0].name,
            "shape": shape(proto.graph.input[0]),
            "dtype": onnx.helper.tensor_dtype_to_np_dtype(
                proto.graph.input[0].type.tensor_type.elem_type
            ).name,
        },
        output={
            "name": proto.graph.output[0].name,
            "shape": shape(proto.graph.output[0]),
            "dtype": "float32",
        },
        preprocessing=preprocessing_of(data.meta),
        files=files,
        opset=int(opsets.get("", opsets.get("ai.onnx", 0))),
        size_bytes={k: (out / f).stat().st_size for k, f in files.items()},
        sha256={k: sha256_file(out / f) for k, f in files.items()},
        metrics=dict(metrics),
        latency=dict(latency or {}),
        parity={},
        spec=_spec_dict(spec),
        model=dict(model),
    )
    data_out = card.to_dict() | {
        k: v for k, v in (extra or {}).items() if k not in ("files", "metrics", "model")
    }
    write_json(out / CARD_FILE, data_out)
    return card
