from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import optuna
import plotly.graph_objects as go
import pytest
import typer
from optuna.distributions import FloatDistribution
from plotly.offline import get_plotlyjs
from rich.console import Console
from typer.testing import CliRunner

from autoopt.cli._report import register
from autoopt.exceptions import InvalidSpecError
from autoopt.report import SECTION_IDS, RunData, confusion_matrix, fmt, headline, read_run, write_report
from autoopt.report._figures import importance_figure, pareto_mask, study_front_figure

SCRIPT_SRC = re.compile(r"<script[^>]*\ssrc\s*=", re.I)
REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def _text(table) -> str:
    console = Console(record=True, width=140)
    console.print(table)
    return console.export_text()


@pytest.fixture(scope="module")
def page(run_dir: Path) -> str:
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    return path.read_text(encoding="utf-8")


def test_page_is_self_contained_with_one_plotly_js(page):
    assert page.count("* plotly.js v") == 1  # the library's banner: inlined exactly once
    assert page.count("Plotly.newPlot(") == int(re.search(r'data-figures="(\d+)"', page).group(1))
    assert not SCRIPT_SRC.search(page), "a <script src=...> needs the network or another file"
    ours = page.replace(get_plotlyjs(), "")  # plotly.js's own code holds URLs in strings (help links)
    assert not REMOTE.search(ours), "no resource may come from the network"


def test_every_section_is_on_the_page_with_its_figures(page):
    for sid in SECTION_IDS:
        assert f'<section id="{sid}">' in page, sid
    for fig in ("fig-history", "fig-importance", "fig-parallel", "fig-pareto-models", "fig-curves"):
        assert f'id="{fig}"' in page, fig
    assert 'id="fig-confusion"' in page
    assert "no distillation in this run" in page  # the one part this run lacks: a note, not an error


def test_page_shows_the_numbers_of_best_metrics_json(page, best_metrics, run_dir):
    for key in ("test_accuracy", "test_loss", "val_accuracy", "params", "macs"):
        assert f'<td class="num">{fmt(best_metrics[key])}</td>' in page, key
    assert html.escape(json.dumps(best_metrics, indent=2)) in page  # the raw file, unrounded
    rows = json.loads((run_dir / "compress" / "metrics.json").read_text())["rows"]
    assert [r["step"] for r in rows] == ["baseline (fp32)", "1. prune", "2. finetune"]
    for r in rows:
        assert f"<td>{html.escape(r['step'])}</td>" in page
    card = json.loads((run_dir / "final" / "model.json").read_text())
    assert f"<td>{card['created']}</td>" in page


def test_headline_table_has_the_same_numbers(run_dir, best_metrics):
    text = _text(headline(run_dir))
    assert fmt(best_metrics["test_accuracy"]) in text
    assert f"best model (trial {best_metrics['trial']}, test split)" in text
    assert "compression (final step: 2. finetune)" in text
    assert "model card (final/)" in text and "onnx parity" in text
    assert "3 (" in text  # 3 trials with their states


def test_confusion_matrix_agrees_with_the_recorded_test_accuracy(run_dir, best_metrics):
    matrix, labels = confusion_matrix(run_dir)
    assert matrix.shape == (10, 10) and len(labels) == 10
    assert np.trace(matrix) / matrix.sum() == pytest.approx(best_metrics["test_accuracy"], abs=1e-6)


def test_missing_parts_are_one_line_notes(run_dir, tmp_path):
    only_best = tmp_path / "partial"
    only_best.mkdir()
    shutil.copy(run_dir / "spec.yaml", only_best / "spec.yaml")
    shutil.copytree(run_dir / "best", only_best / "best")
    page = write_report(only_best, out=tmp_path / "r.html").read_text()
    assert not (only_best / "study.db").exists()  # reading never creates a study
    for note in (
        "no search study",
        "no trials/&lt;n&gt;/history.json",
        "no compression",
        "no exported model",
    ):
        assert note in page, note
    assert 'id="fig-confusion"' in page  # the best model alone still gives the confusion matrix
    (only_best / "best" / "model.safetensors").write_bytes(b"not a checkpoint")
    page = write_report(only_best, out=tmp_path / "r.html").read_text()
    assert "could not rebuild the best model&#x27;s predictions" in page


@pytest.mark.parametrize("make, message", [(False, "is not a directory"), (True, "holds none of")])
def test_not_a_run_directory_is_an_error_that_says_what_is_expected(tmp_path, make, message):
    target = tmp_path / "nothing"
    if make:
        target.mkdir()
    with pytest.raises(InvalidSpecError, match=f"run_dir: .*{message}"):
        write_report(target)


def _study(directions: list[str], values: list[list[float]]) -> optuna.Study:
    study = optuna.create_study(directions=directions)
    for i, v in enumerate(values):
        study.add_trial(
            optuna.trial.create_trial(
                params={"lr": 0.01 * (i + 1)},
                distributions={"lr": FloatDistribution(1e-3, 1.0, log=True)},
                values=v,
            )
        )
    return study


def test_importances_need_two_complete_trials(tmp_path):
    run = RunData(tmp_path, "x", study=_study(["maximize"], [[0.5]]), objectives=["acc"])
    assert importance_figure(run) == (
        "parameter importances need at least 2 complete trials; this run has 1."
    )


def test_study_front_of_a_multi_objective_search(tmp_path):
    values = [[0.9, 100.0], [0.8, 50.0], [0.7, 200.0], [0.95, 300.0]]
    run = RunData(tmp_path, "x", study=_study(["maximize", "minimize"], values), objectives=["acc", "params"])
    fig = study_front_figure(run)
    assert isinstance(fig, go.Figure)
    front = next(t for t in fig.data if t.name == "Pareto front")
    assert sorted(front.x) == [0.8, 0.9, 0.95]  # trial 2 is dominated by trial 0
    assert pareto_mask(values, maximize=[True, False]) == [True, True, False, True]
    page = write_report(run, out=tmp_path / "mo.html").read_text()  # a study alone is a report
    assert 'id="fig-pareto-study"' in page and "no compression" in page


def test_cli_writes_the_page_and_prints_the_headline(run_dir, tmp_path):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps 'report' a subcommand
    runner = CliRunner()
    out = tmp_path / "page.html"
    res = runner.invoke(app, ["report", str(run_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.is_file() and f"report: {out}" in res.output.replace("\n", "")
    assert "best trial" in res.output
    res = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "is not a directory" in res.output
    assert read_run(run_dir).name == "tiny_report"
