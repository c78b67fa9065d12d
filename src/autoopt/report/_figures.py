"""The report's plotly figures, one function each; a function returns a note instead when it has no data.

Every figure is built from what the run directory recorded (:class:`RunData`); nothing is retrained.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import optuna
import plotly.graph_objects as go
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from autoopt.metrics import metric_direction
from autoopt.report._run import RunData

__all__ = [
    "FigureOrNote",
    "history_figure",
    "importance_figure",
    "parallel_figure",
    "study_front_figure",
    "compress_front_figure",
    "curves_figure",
    "confusion_figure",
    "pareto_mask",
]

#: a figure, or the one-line note that replaces it.
FigureOrNote: TypeAlias = "go.Figure | str"
_COLORS = qualitative.Plotly
_TEMPLATE = "plotly_white"


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title=title, template=_TEMPLATE, height=height, margin={"l": 60, "r": 30, "t": 60, "b": 50}
    )
    return fig


def _better(direction: str) -> Any:
    return max if direction == "maximize" else min


def history_figure(run: RunData) -> FigureOrNote:
    """Each trial's objective value(s) by trial number, and the best value so far (complete trials)."""
    rows = [r for r in run.trials if r.values]
    if not rows:
        return "no trial has reported a value yet."
    n = len(run.objectives)
    fig = make_subplots(
        rows=n,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=[f"{m} ({d})" for m, d in zip(run.objectives, run.directions, strict=True)]
        if n > 1
        else None,
    )
    for i, (metric, direction) in enumerate(zip(run.objectives, run.directions, strict=True)):
        first = i == 0
        for state, symbol, color in (("COMPLETE", "circle", _COLORS[0]), ("PRUNED", "x", "#999999")):
            pts = [r for r in rows if r.state == state and len(r.values or []) > i]
            if not pts:
                continue
            fig.add_scatter(
                x=[r.number for r in pts],
                y=[r.values[i] for r in pts],  # type: ignore[index]
                mode="markers",
                marker={"symbol": symbol, "color": color, "size": 9},
                name=f"{state.lower()} trial" + ("" if state == "COMPLETE" else " (last reported value)"),
                legendgroup=state,
                showlegend=first,
                customdata=[[str(r.params)] for r in pts],
                hovertemplate="trial %{x}<br>%{y:.4g}<br>%{customdata[0]}<extra></extra>",
                row=i + 1,
                col=1,
            )
        done = sorted((r for r in rows if r.state == "COMPLETE" and r.feasible), key=lambda r: r.number)
        if done:
            best: list[float] = []
            for r in done:
                v = r.values[i]  # type: ignore[index]
                best.append(v if not best else _better(direction)(best[-1], v))
            fig.add_scatter(
                x=[r.number for r in done],
                y=best,
                mode="lines",
                line={"shape": "hv", "color": _COLORS[1], "width": 2},
                name="best so far",
                legendgroup="best",
                showlegend=first,
                row=i + 1,
                col=1,
            )
        fig.update_yaxes(title_text=metric, row=i + 1, col=1)
    last = max(r.number for r in rows)
    fig.update_xaxes(dtick=max(1, math.ceil((last + 1) / 12)))  # whole trial numbers only
    fig.update_xaxes(title_text="trial", row=n, col=1)
    return _layout(fig, "Optimization history", height=300 + 200 * n)


def importance_figure(run: RunData) -> FigureOrNote:
    """fANOVA importances of the searched parameters (Optuna), per objective."""
    study = run.study
    if study is None:
        return "no study."
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return f"parameter importances need at least 2 complete trials; this run has {len(complete)}."
    fig = go.Figure()
    try:
        for i, metric in enumerate(run.objectives):
            target = (lambda t, i=i: t.values[i]) if len(run.objectives) > 1 else None
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            imp = optuna.importance.get_param_importances(study, evaluator=evaluator, target=target)
            names = list(imp)[::-1]  # most important on top
            fig.add_bar(
                x=[imp[k] for k in names],
                y=names,
                orientation="h",
                name=metric,
                marker_color=_COLORS[i % len(_COLORS)],
                hovertemplate="%{y}: %{x:.3f}<extra>" + metric + "</extra>",
            )
    except Exception as exc:  # optuna raises ValueError/RuntimeError on degenerate studies
        return f"parameter importances could not be computed: {exc}"
    if not fig.data or not len(fig.data[0].y):
        return "the search has no parameters to rank."
    fig.update_xaxes(title_text="importance (fANOVA, sums to 1)", range=[0, 1])
    fig.update_layout(barmode="group")
    return _layout(fig, "Parameter importances", height=220 + 40 * len(fig.data[0].y) * len(fig.data))


def _dimension(name: str, dist: Any, values: Sequence[Any]) -> dict[str, Any]:
    if isinstance(dist, CategoricalDistribution):
        choices = list(dist.choices)
        return {
            "label": name,
            "values": [choices.index(v) for v in values],
            "tickvals": list(range(len(choices))),
            "ticktext": [str(c) for c in choices],
        }
    if isinstance(dist, (FloatDistribution, IntDistribution)) and dist.log:
        return {"label": f"log10 {name}", "values": [math.log10(v) for v in values]}
    return {"label": name, "values": list(values)}


def parallel_figure(run: RunData) -> FigureOrNote:
    """Parallel coordinates: each complete trial's parameters and objective values, colored by the first."""
    study = run.study
    if study is None:
        return "no study."
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    names = sorted({p for t in trials for p in t.params})
    trials = [t for t in trials if t.values and all(p in t.params for p in names)]
    if not trials:
        return "no complete trial yet."
    if not names:
        return "the search has no parameters."
    dims = [_dimension(p, trials[0].distributions[p], [t.params[p] for t in trials]) for p in names]
    for i, metric in enumerate(run.objectives):
        dims.append({"label": metric, "values": [t.values[i] for t in trials]})
    color = [t.values[0] for t in trials]
    scale = "Viridis" if run.directions[0] == "maximize" else "Viridis_r"
    fig = go.Figure(
        go.Parcoords(
            line={
                "color": color,
                "colorscale": scale,
                "showscale": True,
                "colorbar": {"title": run.objectives[0]},
            },
            dimensions=dims,
        )
    )
    _layout(fig, f"Parallel coordinates ({len(trials)} complete trials)", height=460)
    fig.update_layout(margin={"t": 110, "l": 80})  # room for the axis labels above the plot
    return fig


def pareto_mask(points: Sequence[Sequence[float]], maximize: Sequence[bool]) -> list[bool]:
    """Which points no other point dominates (at least as good everywhere, better somewhere).

    Example:
        >>> pareto_mask([(0.9, 10), (0.8, 5), (0.7, 20)], maximize=[True, False])
        [True, True, False]
    """
    signs = np.array([-1.0 if m else 1.0 for m in maximize])
    pts = np.asarray(points, dtype=float) * signs  # minimize everything
    keep = []
    for p in pts:
        dominated = np.any(np.all(pts <= p, axis=1) & np.any(pts < p, axis=1))
        keep.append(not bool(dominated))
    return keep


def study_front_figure(run: RunData) -> FigureOrNote:
    """The study's Pareto front (first two objectives; a third one colors the points)."""
    study = run.study
    if study is None or len(run.objectives) < 2:
        return "the search has a single objective: its best trial is the front."
    rows = [r for r in run.trials if r.state == "COMPLETE" and r.values and r.feasible]
    if not rows:
        return "no feasible complete trial yet."
    try:
        front_numbers = {t.number for t in study.best_trials}
    except ValueError as exc:
        return f"the Pareto front could not be read: {exc}"
    (mx, my), (dx, dy) = run.objectives[:2], run.directions[:2]
    fig = go.Figure()
    others = [r for r in rows if r.number not in front_numbers]
    front = sorted((r for r in rows if r.number in front_numbers), key=lambda r: r.values[0])  # type: ignore[index]
    marker: dict[str, Any] = {"size": 11, "color": _COLORS[1]}
    if len(run.objectives) > 2:
        marker = {
            "size": 11,
            "color": [r.values[2] for r in front],  # type: ignore[index]
            "colorscale": "Viridis",
            "showscale": True,
        }
        marker["colorbar"] = {"title": run.objectives[2]}
    if others:
        fig.add_scatter(
            x=[r.values[0] for r in others],  # type: ignore[index]
            y=[r.values[1] for r in others],  # type: ignore[index]
            mode="markers",
            marker={"color": "#bbbbbb", "size": 8},
            name="dominated trials",
            text=[f"trial {r.number}" for r in others],
        )
    fig.add_scatter(
        x=[r.values[0] for r in front],  # type: ignore[index]
        y=[r.values[1] for r in front],  # type: ignore[index]
        mode="lines+markers",
        line={"shape": "hv", "color": _COLORS[1]},
        marker=marker,
        name="Pareto front",
        text=[f"trial {r.number}: {r.params}" for r in front],
    )
    fig.update_xaxes(title_text=f"{mx} ({dx})")
    fig.update_yaxes(title_text=f"{my} ({dy})")
    return _layout(fig, f"Pareto front of the search ({len(front)} of {len(rows)} trials)")


def _model_points(run: RunData) -> list[dict[str, Any]]:
    """Deployable models with a score, a size and a latency: the compression steps, the exported model."""
    pts = []
    for r in run.compress_rows or []:
        lat = ((r.get("latency_ms") or {}).get("1") or {}).get("p50")
        if r.get("accuracy") is not None and r.get("size_bytes"):
            pts.append(
                {"label": str(r.get("step")), "score": r["accuracy"], "size": r["size_bytes"], "latency": lat}
            )
    card = run.card or {}
    score = (card.get("metrics") or {}).get(f"test_{run.kind.score_metric}")
    onnx_size = (card.get("size_bytes") or {}).get("onnx")
    if score is not None and onnx_size:
        lat = (((card.get("latency") or {}).get("batches") or {}).get("1") or {}).get("p50_ms")
        pts.append({"label": "final/ (exported)", "score": score, "size": onnx_size, "latency": lat})
    return pts


def compress_front_figure(run: RunData) -> FigureOrNote:
    """Score vs ONNX size and vs batch-1 latency of every deployable model; the front is joined up."""
    pts = _model_points(run)
    if not pts:
        return "no compression rows or exported model card with a test score, a size and a latency."
    metric = run.kind.score_metric
    ylabel = f"test {metric if run.kind.has_classes else metric.upper()}"
    maximize = metric_direction(metric) == "maximize"
    fig = make_subplots(rows=1, cols=2, subplot_titles=["vs ONNX file size", "vs latency (batch 1, p50)"])
    for col, key, xlabel in ((1, "size", "size (KB)"), (2, "latency", "latency p50 (ms)")):
        have = [p for p in pts if p[key] is not None]
        if not have:
            continue
        xs = [p[key] / 1e3 if key == "size" else p[key] for p in have]
        ys = [p["score"] for p in have]
        mask = pareto_mask(list(zip(ys, xs, strict=True)), maximize=[maximize, False])
        fig.add_scatter(
            x=xs,
            y=ys,
            mode="markers+text",
            text=[p["label"] for p in have],
            # alternate labels above/below; the exported model often sits on the baseline: its label left
            textposition=[
                "bottom left" if p["label"].startswith("final/") else ("top center", "bottom center")[k % 2]
                for k, p in enumerate(have)
            ],
            cliponaxis=False,
            marker={"size": 11, "color": [_COLORS[1] if m else "#999999" for m in mask]},
            name="models",
            showlegend=col == 1,
            hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>",
            row=1,
            col=col,
        )
        front = sorted((x, y) for (x, y), m in zip(zip(xs, ys, strict=True), mask, strict=True) if m)
        fig.add_scatter(
            x=[f[0] for f in front],
            y=[f[1] for f in front],
            mode="lines",
            line={"shape": "hv", "color": _COLORS[1], "dash": "dot"},
            name="front",
            showlegend=col == 1,
            hoverinfo="skip",
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text=xlabel, row=1, col=col)
        fig.update_yaxes(title_text=ylabel, row=1, col=col)
    return _layout(fig, "Accuracy vs size and latency of the deployable models", height=460)


def _curve_rank(history: dict[str, Any]) -> tuple[int, float]:
    value = history.get("best_value")
    if not isinstance(value, (int, float)) or math.isnan(value):
        return (1, 0.0)
    return (0, -value if history.get("direction") == "maximize" else value)


def curves_figure(run: RunData, top: int = 5) -> FigureOrNote:
    """Validation metric and losses per epoch of the ``top`` trials (ranked by their best value)."""
    if not run.histories:
        return "no trials/<n>/history.json in this run."
    ranked = sorted(run.histories.items(), key=lambda kv: (_curve_rank(kv[1]), kv[0]))[:top]
    metric = str(ranked[0][1].get("metric") or "accuracy")
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"val_{metric}", "loss (train dashed, val solid)"])
    for j, (number, history) in enumerate(ranked):
        color = _COLORS[j % len(_COLORS)]
        epochs = history.get("epochs") or []
        ep = [e.get("epoch", k) + 1 for k, e in enumerate(epochs)]
        label = f"trial {number}"
        fig.add_scatter(
            x=ep,
            y=[e.get(f"val_{metric}") for e in epochs],
            mode="lines+markers",
            line={"color": color},
            name=label,
            legendgroup=label,
            row=1,
            col=1,
        )
        for key, dash in (("train_loss", "dash"), ("val_loss", "solid")):
            fig.add_scatter(
                x=ep,
                y=[e.get(key) for e in epochs],
                mode="lines",
                line={"color": color, "dash": dash},
                name=f"{label} {key}",
                legendgroup=label,
                showlegend=False,
                row=1,
                col=2,
            )
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text=f"val_{metric}", row=1, col=1)
    fig.update_yaxes(title_text="loss", row=1, col=2)
    return _layout(fig, f"Learning curves of the top {len(ranked)} trials", height=440)


def confusion_figure(matrix: np.ndarray, labels: Sequence[str]) -> go.Figure:
    """A confusion matrix heatmap: true class per row, predicted class per column, counts in the cells."""
    total = int(matrix.sum())
    acc = float(np.trace(matrix)) / total if total else float("nan")
    names = [str(x) for x in labels]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=names,
            y=names,
            colorscale="Blues",
            texttemplate="%{z}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="predicted", type="category")
    fig.update_yaxes(title_text="true", type="category", autorange="reversed")
    side = min(900, 260 + 28 * len(names))
    return _layout(
        fig, f"Confusion matrix of the best model (test split, {total} samples, accuracy {acc:.4g})", side
    )
