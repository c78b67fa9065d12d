"""Issue 17 benchmark: compression chosen by measured latency on compute-bound models.

Models (Fashion-MNIST split: the first 8,000 images of the t10k set for train/val 85/15, the last
2,000 as the test split; resized 28 -> 32 with antialiased bilinear, 1 channel):
- ``resnet18``: the ``resnet`` builder as a CIFAR-style ResNet-18 (4 stages of 2 basic blocks, 3x3
  stem, widths 32/64/128/256 -- half the standard width, so training fits the 2 shared CPU cores);
- ``mobilenetv2``: a CIFAR-style MobileNetV2 (width multiplier 0.5, defined below);
- ``resnet20``: the ``resnet`` builder's default (ResNet-20, widths 16/32/64);
- ``digits-cnn``: the demo's digits CNN (``examples/digits_compress.yaml``: 2 blocks, 32 channels, BN)
  on the built-in 8x8 digits.

Each is trained, then ``autoopt.compress.run_plan`` measures the candidate plans on this machine
(INT8 only; prune r + KD fine-tune [+ INT8] for the ratios below, hardware-aware rounding) with the
one latency harness (ONNX Runtime, 1 thread) and keeps the fastest candidate within
``max_accuracy_drop`` (0.5 points). Medians over seeds.

    PYTHONPATH=src nice -n 5 python benchmarks/compress_hw.py --only resnet18 [--seeds 0,1,2]
    PYTHONPATH=src python benchmarks/compress_hw.py --report-only

Writes ``benchmarks/.cache/compress_hw/<case>_s<seed>.json`` (and the trained fp32 weights, so a
rerun with other plan settings skips training) and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autoopt.data import load_data
from autoopt.models import build_model, count_macs
from autoopt.models._base import AutoOptModel
from autoopt.training import TrainConfig, fit

ROOT = Path(__file__).resolve().parents[1]
FASHION = ROOT.parent / "shared" / "data" / "fashion-mnist"
CACHE = ROOT / "benchmarks" / ".cache" / "compress_hw"

FASHION32 = {
    "name": "fashion-mnist",
    "path": str(FASHION),
    "holdout_last": 2000,
    "image_size": 32,
    "split": {"train": 0.85, "val": 0.15, "test": 0.0},
}


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (ReLU6), 3x3 depthwise (ReLU6), 1x1 linear projection."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(AutoOptModel):
    """MobileNetV2 for 32x32 inputs: a stride-2 stem (16x16 feature maps, where the CIFAR variant keeps
    32x32 -- a quarter of its MACs, so that training fits 2 shared CPU cores), strides 1/1/2/2/1/2 over
    the stages, and a width multiplier."""

    # (expansion, channels, blocks, stride)
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2))

    def __init__(self, in_ch: int, classes: int, width: float = 0.5, last: int = 640) -> None:
        super().__init__()

        def ch(c: int) -> int:
            return max(8, int(c * width + 4) // 8 * 8)

        stem = ch(32)
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, stem, 3, 2, 1, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU6(True),
        ]
        cin = stem
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, ch(c), s if i == 0 else 1, t))
                cin = ch(c)
        layers += [nn.Conv2d(cin, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU6(True)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(last, classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.features(x)), 1)


def _resnet(params: dict[str, Any]) -> Any:
    return lambda meta: build_model("resnet", params, meta)


#: case -> (data, model factory, training epochs, plan ratios, fine-tune epochs)
CASES: dict[str, tuple[dict[str, Any], Any, int, list[float], int]] = {
    # head: gap -- the layout these tables were measured with (global pooling; issue 16 made a grid
    # head the builders' default after the first runs), so every seed trains the same model.
    "resnet18": (
        FASHION32,
        _resnet({"stages": 4, "width": 32, "blocks": 2, "head": "gap"}),
        4,
        [0.5, 0.7],
        2,
    ),
    "mobilenetv2": (FASHION32, lambda meta: MobileNetV2(meta.input_shape[0], meta.num_classes), 6, [0.5], 3),
    "resnet20": (FASHION32, _resnet({"head": "gap"}), 6, [0.3, 0.5], 3),
    "digits-cnn": (
        {"name": "digits"},
        lambda meta: build_model(
            "cnn", {"blocks": 2, "channels": 32, "batch_norm": True, "head": "gap"}, meta
        ),
        15,
        [0.5],
        10,
    ),
}
QUANT = {"mode": "static", "calibration": "minmax", "activation_type": "uint8", "weight_type": "int8"}


def train(case: str, seed: int) -> tuple[nn.Module, Any, float, dict[str, Any]]:
    data_cfg, factory, epochs, _, _ = CASES[case]
    data = load_data({**data_cfg, "seed": seed})
    torch.manual_seed(seed)
    model = factory(data.meta)
    cfg = {
        "epochs": epochs,
        "lr": 3e-3,
        "device": "cpu",
        "seed": seed,
        "schedule": "cosine",
        "batch_size": 128,
    }
    weights = CACHE / f"{case}_s{seed}.pt"
    t0 = time.time()
    if weights.is_file():
        model.load_state_dict(torch.load(weights, weights_only=True))
    else:
        fit(model, data, TrainConfig(**cfg))
        weights.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), weights)
    return model.eval(), data, time.time() - t0, cfg


def run(case: str, seed: int, ratios: list[float] | None = None, ft: int | None = None) -> dict[str, Any]:
    from autoopt.compress import run_plan

    model, data, train_s, cfg = train(case, seed)
    _, _, _, default_ratios, default_ft = CASES[case]
    ratios = ratios or default_ratios
    ft_epochs = default_ft if ft is None else ft
    plan = {
        "select": {"ratios": ratios, "finetune": {"epochs": ft_epochs, "distill": True}, "quantize": QUANT},
        "latency_repeats": 100,
        "max_accuracy_drop": 0.5,
    }
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        res = run_plan(model, data, plan, out_dir=tmp, train_config=cfg)
        sizes = {c.label: c.size_bytes for c in res.candidates}
    return {
        "case": case,
        "seed": seed,
        "train_s": round(train_s, 1),
        "compress_s": round(time.time() - t0, 1),
        "macs": count_macs(model, tuple(data.meta.input_shape)),
        "rows": [r.to_dict() for r in res.rows],
        "reference": res.reference.to_dict() if res.reference else None,
        "selected": res.selected.label if res.selected else None,
        "sizes": sizes,
        "settings": res.settings,
        "train": cfg,
        "plan": plan,
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _med(values: list[float]) -> float:
    return statistics.median(values)


def table(results: list[dict[str, Any]]) -> str:
    out = []
    for case in CASES:
        runs = [r for r in results if r["case"] == case]
        if not runs:
            continue
        out.append(f"\n#### {case} ({len(runs)} seed(s): {', '.join(str(r['seed']) for r in runs)})\n")
        out.append(
            "| candidate | test acc. | drop (pp) | params | MACs | size (KiB) | b1 p50 ms | b64 p50 ms "
            "| size ratio | b1 speed-up | b64 speed-up | selected |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|"
        )
        renamed = ("shipped: ", "source of the shipped model: ")
        steps = [r["step"] for r in runs[0]["rows"] if not r["step"].startswith(renamed)]
        ref = [r["reference"] for r in runs if r.get("reference")]
        for step in steps:
            rows = [
                next(x for x in r["rows"] if x["step"] == step)
                for r in runs
                if any(x["step"] == step for x in r["rows"])
            ]
            base = [r["rows"][0] for r in runs]
            sel = sum(1 for r in runs if r["selected"] == step)
            cells = [
                step,
                f"{_med([x['accuracy'] for x in rows]):.4f}",
                "-"
                if rows[0]["accuracy_drop_pp"] is None
                else f"{_med([x['accuracy_drop_pp'] for x in rows]):+.2f}",
                f"{int(_med([x['params'] for x in rows])):,}",
                f"{int(_med([x['macs'] for x in rows])):,}",
                f"{_med([x['size_bytes'] for x in rows]) / 1024:.1f}",
                f"{_med([x['latency_ms']['1']['p50'] for x in rows]):.3f}",
                f"{_med([x['latency_ms']['64']['p50'] for x in rows]):.2f}",
                f"{_med([b['size_bytes'] / x['size_bytes'] for b, x in zip(base, rows, strict=False)]):.2f}x",
                f"{_med([x['speedup'].get('1', 1.0) for x in rows]):.2f}x",
                f"{_med([x['speedup'].get('64', 1.0) for x in rows]):.2f}x",
                f"{sel}/{len(runs)}",
            ]
            out.append("| " + " | ".join(cells) + " |")
        if ref:
            out.append(
                f"| PyTorch eager fp32 (reference) | - | - | - | - | - | "
                f"{_med([x['latency_ms']['1']['p50'] for x in ref]):.3f} | "
                f"{_med([x['latency_ms']['64']['p50'] for x in ref]):.2f} | - | - | - | - |"
            )
        r0 = runs[0]
        shipped = []
        for r in runs:
            row = next(x for x in r["rows"] if x["step"] == r["selected"])
            base = r["rows"][0]
            shipped.append(
                (
                    row["speedup"].get("1", 1.0),
                    base["size_bytes"] / row["size_bytes"],
                    row["accuracy_drop_pp"] or 0.0,
                )
            )
        out.append(
            f"\nShipped: {', '.join(repr(r['selected']) for r in runs)}; vs the fp32 ONNX baseline (median): "
            f"b1 speed-up {_med([x[0] for x in shipped]):.2f}x, file {_med([x[1] for x in shipped]):.2f}x "
            f"smaller, {_med([x[2] for x in shipped]):+.2f} points."
        )
        out.append(
            f"\nTraining: {r0['train']['epochs']} epochs (Adam lr 3e-3 cosine, batch 128); "
            f"plan: {json.dumps(r0['plan'])}; compress wall {_med([r['compress_s'] for r in runs]):.0f} s "
            f"per seed (median); {r0['date']}; latency settings: {r0['settings'].get('line', '')}"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--only", default=",".join(CASES))
    ap.add_argument("--train-only", action="store_true", help="train and cache the fp32 models only")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--ratios", default="", help="override the case's prune ratios, e.g. 0.5,0.7")
    ap.add_argument("--ft-epochs", type=int, default=None, help="override the case's fine-tuning epochs")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for training")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    CACHE.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for case in args.only.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                out = CACHE / f"{case}_s{seed}.json"
                if args.train_only:
                    _, _, s, _ = train(case, seed)
                    print(f"{case} seed {seed}: trained in {s:.0f} s", flush=True)
                    continue
                if out.exists():
                    continue
                ratios = [float(x) for x in args.ratios.split(",")] if args.ratios else None
                r = run(case, seed, ratios, args.ft_epochs)
                out.write_text(json.dumps(r))
                print(
                    f"{case} seed {seed}: train {r['train_s']} s, compress {r['compress_s']} s, "
                    f"selected {r['selected']!r}",
                    flush=True,
                )
    results = [json.loads(p.read_text()) for p in sorted(CACHE.glob("*.json"))]
    print(table(results))


if __name__ == "__main__":
    main()
