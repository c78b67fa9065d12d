"""The report's sections, in page order; a part the run lacks becomes a one-line note, never an error."""

from __future__ import annotations

import html
import json
from collections.abc import Callable

from autoopt.report._confusion import confusion_matrix
from autoopt.report._figures import (
    FigureOrNote,
    compress_front_figure,
    confusion_figure,
    curves_figure,
    history_figure,
    importance_figure,
    parallel_figure,
    study_front_figure,
)
from autoopt.report._html import Section, figure_html, note_html, table_html
from autoopt.report._run import RunData
from autoopt.report._tables import candidates_table, card_table, compress_table, distill_table, headline_rows

__all__ = ["build_sections", "SECTION_IDS"]

#: every section's anchor, in page order (each is always on the page, with content or a note).
SECTION_IDS = (
    "summary",
    "candidates",
    "history",
    "importance",
    "parallel",
    "pareto",
    "curves",
    "compress",
    "distill",
    "confusion",
    "card",
)


def _no_study(run: RunData) -> str:
    return run.notes.get("study", "this run has no search study (study.db).")


def _figures(parts: list[tuple[str, FigureOrNote]]) -> tuple[str, int]:
    """HTML of figures (or their notes) and how many figures it draws."""
    out, n = [], 0
    for div_id, fig in parts:
        if isinstance(fig, str):
            out.append(note_html(fig))
        else:
            out.append(figure_html(fig, div_id))
            n += 1
    return "\n".join(out), n


def _figure_section(sid: str, title: str, run: RunData, build: Callable[[RunData], FigureOrNote]) -> Section:
    if run.study is None and sid in ("history", "importance", "parallel"):
        return Section(sid, title, note_html(_no_study(run)))
    body, n = _figures([(f"fig-{sid}", build(run))])
    return Section(sid, title, body, n)


def _summary(run: RunData) -> Section:
    body = [table_html(headline_rows(run), caption=False)]
    if run.best_metrics:
        raw = html.escape(json.dumps(run.best_metrics, indent=2))
        body.append(f"<details><summary>best/metrics.json</summary><pre>{raw}</pre></details>")
    if run.best_params:
        raw = html.escape(json.dumps(run.best_params, indent=2, default=str))
        body.append(f"<details><summary>best/params.yaml</summary><pre>{raw}</pre></details>")
    return Section("summary", "Summary", "\n".join(body))


def _pareto(run: RunData) -> Section:
    parts: list[tuple[str, FigureOrNote]] = []
    if run.study is not None and len(run.objectives) > 1:
        parts.append(("fig-pareto-study", study_front_figure(run)))
    parts.append(("fig-pareto-models", compress_front_figure(run)))
    body, n = _figures(parts)
    return Section("pareto", "Pareto front: accuracy vs size and latency", body, n)


def _table_section(sid: str, title: str, table_or_note: str) -> Section:
    return Section(sid, title, table_or_note)


def _confusion(run: RunData) -> Section:
    title = "Confusion matrix (best model, test split)"
    if not run.kind.has_classes:
        return Section("confusion", title, note_html(f"a {run.task} task has no confusion matrix."))
    if not (run.run_dir / "best" / "model.safetensors").is_file():
        return Section("confusion", title, note_html("no best model (best/model.safetensors) in this run."))
    try:
        matrix, labels = confusion_matrix(run.run_dir)
    except Exception as exc:  # a missing dataset, a changed model builder, ...: the page says why
        return Section(
            "confusion", title, note_html(f"could not rebuild the best model's predictions: {exc}")
        )
    body, n = _figures([("fig-confusion", confusion_figure(matrix, labels))])
    return Section("confusion", title, body, n)


def build_sections(run: RunData) -> list[Section]:
    """Every section of the report, in page order (ids as in :data:`SECTION_IDS`)."""
    compress = (
        table_html(compress_table(run.compress_rows))
        if run.compress_rows
        else note_html(run.notes.get("compress", "no compression in this run (compress/metrics.json)."))
    )
    distill = (
        table_html(distill_table(run.distill))
        if run.distill
        else note_html(run.notes.get("distill", "no distillation in this run (distill/metrics.json)."))
    )
    card = (
        table_html(card_table(run.card))
        if run.card
        else note_html(run.notes.get("card", "no exported model in this run (final/model.json)."))
    )
    candidates = (
        table_html(candidates_table(run))
        if run.manifest
        else note_html("no candidates: this run has no manifest.json (written by 'autoopt run').")
    )
    return [
        _summary(run),
        _table_section("candidates", "Candidate models and the guard", candidates),
        _figure_section("history", "Optimization history", run, history_figure),
        _figure_section("importance", "Parameter importances", run, importance_figure),
        _figure_section("parallel", "Parallel coordinates", run, parallel_figure),
        _pareto(run),
        _figure_section("curves", "Learning curves of the top trials", run, curves_figure),
        _table_section("compress", "Compression, step by step", compress),
        _table_section("distill", "Distillation", distill),
        _confusion(run),
        _table_section("card", "Model card", card),
    ]
