"""Opening a model directory: every missing or malformed piece is one clear error naming the file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from autoopt.cli._serve import register
from autoopt.exceptions import InvalidSpecError
from autoopt.serve import create_app, load_model


@pytest.fixture
def copy(model_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "model"
    shutil.copytree(model_dir, out)
    return out


def _edit_card(folder: Path, **changes: object) -> None:
    card = json.loads((folder / "model.json").read_text())
    card.update(changes)
    (folder / "model.json").write_text(json.dumps(card))


def test_missing_directory(tmp_path):
    with pytest.raises(
        InvalidSpecError, match=r"nope: not a directory; expected a model directory written by"
    ):
        load_model(tmp_path / "nope")


def test_missing_card(copy):
    (copy / "model.json").unlink()
    with pytest.raises(InvalidSpecError, match=r"model\.json: not found; expected the model card"):
        load_model(copy)


def test_card_not_json(copy):
    (copy / "model.json").write_text("{not json")
    with pytest.raises(InvalidSpecError, match=r"model\.json: not a readable JSON model card \(Expecting"):
        load_model(copy)


def test_card_with_unknown_task(copy):
    _edit_card(copy, task="segmentation")
    with pytest.raises(
        InvalidSpecError,
        match=r"model\.json: task: .*unknown task kind 'segmentation'; "
        r"expected one of: classification, regression",
    ):
        load_model(copy)


def test_missing_onnx(copy):
    (copy / "model.onnx").unlink()
    with pytest.raises(
        InvalidSpecError, match=r"model\.onnx: not found; expected the ONNX model that model\.json names"
    ):
        load_model(copy)


def test_corrupt_onnx(copy):
    (copy / "model.onnx").write_bytes(b"garbage")
    with pytest.raises(
        InvalidSpecError, match=r"model\.onnx: ONNX Runtime cannot load it; expected a valid ONNX model"
    ):
        load_model(copy)


def test_class_names_disagree_with_model(copy):
    _edit_card(copy, class_names=["a", "b"])
    with pytest.raises(InvalidSpecError, match=r"class_names has 2 names, but the model outputs 10 classes"):
        load_model(copy)


def test_preprocessing_mean_per_channel(copy):
    card = json.loads((copy / "model.json").read_text())
    card["preprocessing"]["mean"] = [0.1, 0.2, 0.3]
    (copy / "model.json").write_text(json.dumps(card))
    with pytest.raises(
        InvalidSpecError, match=r"preprocessing\.mean: expected 1 value \(one per channel\), got 3"
    ):
        load_model(copy)


def test_extra_card_keys_are_fine_and_input_name_comes_from_the_graph(copy):
    _edit_card(copy, something_new={"x": 1}, input={"name": "wrong-name", "shape": [None, 1, 8, 8]})
    model = load_model(copy)
    assert model.input_name == "input"
    assert model.sample_shape == (1, 8, 8)
    assert model.raw_card["something_new"] == {"x": 1}


def test_invalid_limits(model_dir):
    with pytest.raises(InvalidSpecError, match=r"max_batch: expected a positive integer, got 0"):
        create_app(model_dir, max_batch=0)
    with pytest.raises(InvalidSpecError, match=r"threads: expected a positive integer, got 0"):
        create_app(model_dir, threads=0)


def test_module_entry_point_prints_one_line_error(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "autoopt.serve", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'missing'}: not a directory; expected a model directory written by "
        "'autoopt export' (model.json + model.onnx)"
    ]


def test_cli_command_prints_one_line_error(tmp_path):
    app = typer.Typer()
    register(app)

    @app.command("other")  # two commands, so typer keeps "serve" as a subcommand
    def other() -> None: ...

    result = CliRunner().invoke(app, ["serve", str(tmp_path / "missing"), "--port", "0"])
    assert result.exit_code == 2
    assert "not a directory; expected a model directory" in result.output
    help_text = CliRunner().invoke(app, ["serve", "--help"]).output
    for option in ("--host", "--port", "--threads", "--max-request-mb", "--max-batch"):
        assert option in help_text
    assert "127.0.0.1" in help_text


def test_port_in_use_is_one_line_error(server, model_dir):
    r = subprocess.run(
        [sys.executable, "-m", "autoopt.serve", str(model_dir), "--port", str(server.port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    assert "address already in use" in r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        f"error: host/port: expected an address this process can bind, got 127.0.0.1:{server.port} "
        "(see the error above)"
    )


def test_cli_defaults_match_the_library():
    from autoopt.cli import _serve
    from autoopt.serve import DEFAULT_MAX_BATCH, DEFAULT_MAX_REQUEST_BYTES

    assert _serve._DEFAULT_MAX_REQUEST_MB * 2**20 == DEFAULT_MAX_REQUEST_BYTES
    assert _serve._DEFAULT_MAX_BATCH == DEFAULT_MAX_BATCH
