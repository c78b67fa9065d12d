"""The report's tables as plain rows of strings: the headline, compression, distillation, model card.

The HTML page and the terminal table render the same rows, so they always show the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autoopt.compress import TABLE_HEADER
from autoopt.report._run import RunData

__all__ = [
    "Table",
    "fmt",
    "headline_rows",
    "compress_table",
    "distill_table",
    "card_table",
    "best_trial_row",
    "COMPRESS_HEADER",
]

#: the compression table's columns: the one header, shared with ``autoopt compress``.
COMPRESS_HEADER = TABLE_HEADER


@dataclass
class Table:
    """A titled table of strings; ``groups`` names the section each row belongs to (headline only)."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


def fmt(value: Any) -> str:
    """A value as the report prints it: 4 significant digits for floats, ``-`` for a missing one.

    Example:
        >>> fmt(0.992592), fmt(19562), fmt(None), fmt(True)
        ('0.9926', '19562', '-', 'yes')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def size(n: Any) -> str:
    """Bytes as B / KB / MB (powers of 1000, as file browsers show them)."""
    if not isinstance(n, (int, float)):
        return "-"
    for unit, scale in (("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def _latency(row: Mapping[str, Any], batch: str) -> str:
    lat = (row.get("latency_ms") or {}).get(batch) or {}
    if "p50" not in lat:
        return "-"
    return f"{fmt(lat['p50'])} / {fmt(lat.get('p95'))}"


def _speedup(row: Mapping[str, Any], batch: str) -> str:
    s = (row.get("speedup") or {}).get(batch)
    return "-" if s is None else f"{fmt(s)}x"


def best_trial_row(run: RunData) -> Any:
    """The best feasible complete trial (``TrialRow``), the first Pareto point with several objectives."""
    if run.study is None:
        return None
    rows = [r for r in run.trials if r.state == "COMPLETE" and r.values and r.feasible]
    if not rows:
        return None
    if len(run.directions) > 1:
        try:
            numbers = sorted(t.number for t in run.study.best_trials)
        except ValueError:
            return None
        front = [r for r in rows if r.number in numbers]
        return front[0] if front else None
    sign = -1.0 if run.directions[0] == "maximize" else 1.0
    return min(rows, key=lambda r: (sign * r.values[0], r.number))  # type: ignore[index]


def _counts(run: RunData) -> str:
    counts: dict[str, int] = {}
    for r in run.trials:
        counts[r.state.lower()] = counts.get(r.state.lower(), 0) + 1
    total = sum(counts.values())
    return f"{total} ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})" if total else "0"


def _metric_keys(metrics: Mapping[str, Any]) -> list[str]:
    """The headline's metrics: the test ones, the monitored validation one, size."""
    keys = [k for k in metrics if k.startswith("test_")]
    keys += [k for k in ("val_accuracy", "val_mse", "val_loss") if k in metrics][:1]
    return keys + [k for k in ("params", "macs") if k in metrics]


def headline_rows(run: RunData) -> Table:
    """The headline numbers: the run, its best trial and model, the compression's final row, the card.

    Example:
        >>> from autoopt.report import read_run
        >>> table = headline_rows(read_run("runs/digits"))  # doctest: +SKIP
        >>> dict(table.rows)["test_accuracy"]  # doctest: +SKIP
        '0.9926'
    """
    t = Table(title=f"report of {run.name}", header=["", "value"])

    def add(group: str, key: str, value: str) -> None:
        t.rows.append([key, value])
        t.groups.append(group)

    spec = run.spec or {}
    add("run", "directory", str(run.run_dir))
    if spec:
        add("run", "dataset", str((spec.get("data") or {}).get("name", "-")))
        add("run", "model", str((spec.get("model") or {}).get("name", "-")))
    if run.study is not None:
        objectives = ", ".join(f"{m} ({d[:3]})" for m, d in zip(run.objectives, run.directions, strict=True))
        add("run", "objectives", objectives)
        add("run", "trials", _counts(run))
    for group, key, value in shipped_rows(run):
        add(group, key, value)
    best = best_trial_row(run)
    if best is not None:
        add("best trial", "trial", str(best.number))
        for name, value in zip(run.objectives, best.values or [], strict=False):
            add("best trial", name, fmt(value))
        for k, v in best.params.items():
            add("best trial", k, fmt(v))
    if run.best_metrics:
        group = f"best model (trial {run.best_metrics.get('trial', '-')}, test split)"
        for k in _metric_keys(run.best_metrics):
            add(group, k, fmt(run.best_metrics[k]))
    if run.compress_rows:
        last = run.compress_rows[-1]
        group = f"compression (final step: {last.get('step', '-')})"
        add(group, "accuracy", fmt(last.get("accuracy")))
        add(group, "drop (pp)", fmt(last.get("accuracy_drop_pp")))
        add(group, "size", size(last.get("size_bytes")))
        add(group, "b1 p50 / p95 ms", _latency(last, "1"))
        add(group, "speed-up b1", _speedup(last, "1"))
        if last.get("flagged"):
            add(group, "flagged", "yes: drop > max_accuracy_drop")
    if run.distill:
        for label, key in (("student", "test_accuracy"), ("teacher", "teacher_test_accuracy")):
            if key in run.distill:
                add("distillation", f"{label} test_accuracy", fmt(run.distill[key]))
    if run.card:
        card = run.card
        model = card.get("model") or {}
        add("model card (final/)", "model", f"{model.get('name', '-')} ({fmt(model.get('params'))} params)")
        add("model card (final/)", "onnx size", size((card.get("size_bytes") or {}).get("onnx")))
        metrics = card.get("metrics") or {}
        for k in [k for k in ("test_accuracy", "test_mse") if k in metrics]:
            add("model card (final/)", k, fmt(metrics[k]))
        b1 = ((card.get("latency") or {}).get("batches") or {}).get("1") or {}
        add("model card (final/)", "b1 p50 ms (onnxruntime)", fmt(b1.get("p50_ms")))
        onnx_parity = (card.get("parity") or {}).get("onnx") or {}
        add("model card (final/)", "onnx parity", fmt(onnx_parity.get("passed")))
    return t


def compress_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """One row per compression step (``compress/metrics.json``), as ``autoopt compress`` prints it."""
    out = Table(title="compression plan (ONNX Runtime, test split)", header=list(COMPRESS_HEADER))
    for r in rows:
        note = str(r.get("note") or "") + (" (accuracy drop above the allowed)" if r.get("flagged") else "")
        out.rows.append(
            [
                str(r.get("step", "-")),
                fmt(r.get("accuracy")),
                fmt(r.get("accuracy_drop_pp")),
                fmt(r.get("params")),
                fmt(r.get("macs")),
                size(r.get("size_bytes")),
                _latency(r, "1"),
                _latency(r, "64"),
                _speedup(r, "1"),
                _speedup(r, "64"),
                note.strip(),
            ]
        )
    return out


def distill_table(metrics: Mapping[str, Any]) -> Table:
    """Teacher, student (KD) and student alone (``distill/metrics.json``): params and test scores."""
    out = Table(title="distillation (test split)", header=["model", "params", "test_accuracy", "test_errors"])
    for label, prefix in (("teacher", "teacher_"), ("student (KD)", ""), ("student alone", "baseline_")):
        if f"{prefix}test_accuracy" not in metrics:
            continue
        out.rows.append(
            [
                label,
                fmt(metrics.get(f"{prefix}params")),
                fmt(metrics.get(f"{prefix}test_accuracy")),
                fmt(metrics.get(f"{prefix}test_errors")),
            ]
        )
    extra = [k for k in ("alpha", "temperature") if k in metrics]
    if extra:
        out.title += " - " + ", ".join(f"{k} = {fmt(metrics[k])}" for k in extra)
    return out


def card_table(card: Mapping[str, Any]) -> Table:
    """The model card's summary: what the model is, takes, returns and weighs, how fast and faithful."""
    out = Table(title="model card (final/model.json)", header=["field", "value"])
    model = card.get("model") or {}
    inp, outp, pre = card.get("input") or {}, card.get("output") or {}, card.get("preprocessing") or {}
    rows: list[tuple[str, Any]] = [
        ("model", model.get("name")),
        ("config", model.get("config")),
        ("params / MACs", f"{fmt(model.get('params'))} / {fmt(model.get('macs'))}"),
        ("task", card.get("task")),
        ("classes", ", ".join(map(str, card.get("class_names") or [])) or None),
        ("input", f"{inp.get('name', '-')} {inp.get('shape')} {inp.get('dtype', '')}".strip()),
        ("output", f"{outp.get('name', '-')} {outp.get('shape')} {outp.get('dtype', '')}".strip()),
        ("preprocessing", "(raw / {} - mean) / std".format(fmt(pre.get("pixel_scale")))),
        ("opset", card.get("opset")),
    ]
    for key, name in (card.get("files") or {}).items():
        rows.append((f"file {key}", f"{name} ({size((card.get('size_bytes') or {}).get(key))})"))
    for k, v in (card.get("metrics") or {}).items():
        if k.startswith("test_"):
            rows.append((k, v))
    lat = card.get("latency") or {}
    for b, v in (lat.get("batches") or {}).items():
        rows.append((f"latency b{b} p50 / p95 ms", f"{fmt(v.get('p50_ms'))} / {fmt(v.get('p95_ms'))}"))
    if lat:
        rows.append(("latency measured", f"{lat.get('backend', '-')}, {lat.get('threads', '-')} thread(s)"))
    for k, v in (card.get("parity") or {}).items():
        if isinstance(v, Mapping):
            rows.append(
                (f"parity {k}", f"{fmt(v.get('passed'))} (max abs error {fmt(v.get('max_abs_error'))})")
            )
    rows += [("autoopt", card.get("autoopt_version")), ("created", card.get("created"))]
    out.rows = [[k, v if isinstance(v, str) else fmt(v)] for k, v in rows]
    return out


def _candidate(run: RunData, cid: Any) -> dict[str, Any] | None:
    for c in (run.manifest or {}).get("candidates") or []:
        if c.get("id") == cid:
            return dict(c)
    return None


def _lat(c: Mapping[str, Any], b: str) -> str:
    v = (c.get("latency_ms") or {}).get(b)
    return "-" if v is None else f"{v:.4g}"


def shipped_rows(run: RunData) -> list[tuple[str, str, str]]:
    """The shipped file beside the searched model (from ``manifest.json``), then every flagged candidate."""
    m = run.manifest
    if not m:
        return []
    out: list[tuple[str, str, str]] = []
    ref, shipped = _candidate(run, m.get("reference")), _candidate(run, m.get("shipped"))
    for title, c in (("shipped: final/model.onnx", shipped), ("searched model", ref)):
        if c is None:
            continue
        out += [
            (title, "model", f"{c.get('label')} ({c.get('precision', 'fp32')})"),
            (title, f"test {c.get('metric')}", fmt(c.get("score"))),
            (title, "params", f"{c.get('params', 0):,}"),
            (title, "onnx size", size(c.get("size_bytes"))),
            *[(title, f"b{b} p50 ms", _lat(c, b)) for b in sorted(c.get("latency_ms") or {}, key=int)],
        ]
    comp = m.get("comparison") or {}
    if comp:
        g = "shipped vs searched"
        unit = "points" if (shipped or {}).get("higher_is_better", True) else "% error"
        out.append((g, f"accuracy drop ({unit})", fmt(comp.get("accuracy_drop"))))
        for b, v in sorted((comp.get("speedup") or {}).items(), key=lambda x: int(x[0])):
            out.append((g, f"speed-up b{b}", f"{v:.2f}x"))
        out.append((g, "smaller file", f"{fmt(comp.get('size_ratio'))}x"))
    for c in m.get("candidates") or []:
        for flag in c.get("flags") or []:
            out.append(("not shipped (flagged)", str(c.get("label")), str(flag)))
    return out


def candidates_table(run: RunData) -> Table:
    """Every candidate model of the run, measured alike, with its status."""
    m = run.manifest or {}
    t = Table(
        title="Candidate models (same test split, one latency harness; median of interleaved rounds)",
        header=["candidate", "stage", "precision", "test score", "params", "MACs", "size", "b1 p50 ms",
                "b64 p50 ms", "status"],
    )  # fmt: skip
    for c in m.get("candidates") or []:
        status = (
            "SHIPPED" if c.get("id") == m.get("shipped") else "; ".join(c.get("flags") or []) or "allowed"
        )
        t.rows.append(
            [
                str(c.get("label")),
                str(c.get("stage")),
                str(c.get("precision", "fp32")),
                fmt(c.get("score")),
                f"{c.get('params', 0):,}",
                f"{c.get('macs', 0):,}",
                size(c.get("size_bytes")),
                _lat(c, "1"),
                _lat(c, "64"),
                status,
            ]
        )
    return t
