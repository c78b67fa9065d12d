"""A catalogue of bad inputs: each one is refused with exit code != 0 and ONE line naming the key, file,
flag or URL at fault, and never a traceback. Run in-process (typer's CliRunner), so the whole file takes
seconds: every case fails before any training starts (the two failing searches run objectives that fail
at once)."""

from __future__ import annotations

import gzip
import lzma
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autoopt.cli import app

runner = CliRunner()
DATA = Path("/work/shared/data/fashion-mnist")

OBJ = """
def f(params):
    return (params["x"] - 1) ** 2
def boom(params):
    raise ValueError("boom at x=%.3f" % params["x"])
"""

TINY = {
    "name": "tiny",
    "data": {"name": "digits", "limit": 200},
    "model": {"name": "cnn", "params": {"blocks": 1}},
    "training": {"epochs": 1, "batch_size": 32, "device": "cpu"},
    "search": {
        "strategy": "random",
        "scheduler": "none",
        "trials": 2,
        "space": {"training.lr": [0.01, 0.02]},
    },
}


def _with(section: str, value: object) -> dict:
    """TINY with ``section`` (a dotted path) set to ``value``; ``value=...`` removes nothing."""
    spec = yaml.safe_load(yaml.safe_dump(TINY))
    *parents, last = section.split(".")
    node = spec
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return spec


# (id, spec dict, expected text in the one error line). Run as `autoopt tune SPEC --out TMP/run`.
SPEC_CASES = [
    ("top-level key typo", {**TINY, "trainig": {"epochs": 1}}, "trainig: unknown key"),
    ("did-you-mean top-level", {**TINY, "trainig": {"epochs": 1}}, "Did you mean 'training'?"),
    ("search key typo", _with("search.trails", 3), "search.trails: unknown key"),
    ("data key typo", _with("data.nmae", "digits"), "data.nmae: unknown key"),
    ("unknown dataset", _with("data.name", "digitz"), "data.name"),
    ("unknown model", _with("model.name", "vit"), "model.name: unknown model 'vit'"),
    ("unknown optimizer", _with("training.optimizer", "lion"), "training.optimizer"),
    ("training key typo", _with("training.lrr", 0.1), "training.lrr"),
    ("negative lr", _with("training.lr", -1.0), "training.lr"),
    ("zero epochs", _with("training.epochs", 0), "training.epochs"),
    ("unknown strategy", _with("search.strategy", "tpee"), "search.strategy: unknown strategy 'tpee'"),
    ("unknown scheduler", _with("search.scheduler", "ashaa"), "search.scheduler"),
    ("zero trials", _with("search.trials", 0), "search.trials"),
    ("zero jobs", _with("search.jobs", 0), "search.jobs"),
    ("too many jobs", _with("search.jobs", 100_000), "search.jobs: 100000 parallel processes"),
    ("negative timeout", _with("search.timeout", -5), "search.timeout"),
    (
        "objective metric typo",
        _with("search.objectives", {"metric": "val_acc"}),
        "Did you mean 'val_accuracy'",
    ),
    (
        "objective without val_",
        _with("search.objectives", {"metric": "accuracy"}),
        "search.objectives[0].metric",
    ),
    ("bad direction", _with("search.objectives", {"metric": "val_loss", "direction": "down"}), "direction"),
    ("constraint name typo", _with("search.constraints", ["parms <= 3"]), "search.constraints[0]: 'parms'"),
    ("constraint syntax", _with("search.constraints", ["params < 5"]), "search.constraints[0]"),
    ("space model param typo", _with("search.space", {"model.widht": [1, 2]}), "search.space.model.widht"),
    ("model param typo", _with("model.params", {"widht": 3}), "model.params.widht"),
    (
        "space low above high",
        _with("search.space", {"training.lr": {"low": 0.1, "high": 0.01}}),
        "training.lr",
    ),
    ("space key typo hihg", _with("search.space", {"training.lr": {"low": 0.1, "hihg": 1.0}}), "'hihg'"),
    ("space name without section", _with("search.space", {"lr": [0.1]}), "search.space.lr"),
    (
        "missing transfer checkpoint",
        {**TINY, "transfer": {"checkpoint": "/nope.safetensors"}},
        "transfer.checkpoint",
    ),
    ("transfer checkpoint is a folder", {**TINY, "transfer": {"checkpoint": "/tmp"}}, "'/tmp' is a folder"),
    ("run name with a slash", {**TINY, "name": "a/b"}, "name: must be a plain folder name"),
    ("split not summing to 1", _with("data.split", {"train": 0.5, "val": 0.2, "test": 0.2}), "data.split"),
    ("distill key typo", {**TINY, "distill": {"alpah": 0.5}}, "distill.alpah"),
    ("compress ratio above 1", {**TINY, "compress": {"steps": [{"prune": {"ratio": 1.5}}]}}, "ratio"),
    ("csv without path", _with("data", {"name": "csv", "target": "label"}), "data.path"),
]


def _one_error_line(res, expected: str) -> str:
    """The command failed with exactly one ``error:`` line, holding ``expected``, and no traceback."""
    out = res.output
    assert res.exit_code not in (0, None), out
    assert "Traceback" not in out, out
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    assert res.stderr.strip().splitlines()[-1] == errors[0], out  # nothing after the one line
    assert expected in errors[0], out
    return errors[0]


@pytest.mark.parametrize("case_id, spec, expected", SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_bad_spec(tmp_path, case_id, spec, expected):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    res = runner.invoke(app, ["tune", str(path), "--out", str(tmp_path / "run"), "--quiet"])
    _one_error_line(res, expected)
    assert not (tmp_path / "run" / "study.db").exists()  # refused before any search


@pytest.fixture
def files(tmp_path):
    (tmp_path / "obj.py").write_text(OBJ)
    (tmp_path / "space.yaml").write_text("x: {low: -3.0, high: 3.0}\n")
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "a_folder.yaml").mkdir()
    (tmp_path / "syntax.py").write_text("def f(params:\n    return 1\n")
    (tmp_path / "raises.py").write_text("raise RuntimeError('broken at import')\n")
    (tmp_path / "hihg.yaml").write_text("x: {low: 0.0, hihg: 1.0}\n")
    (tmp_path / "notyaml.yaml").write_text("a: [1, 2\n")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    table = "a,b,label\n" + "\n".join(f"{i},{i % 3},{i % 2}" for i in range(40))
    (tmp_path / "t.csv").write_text(table)
    (tmp_path / "t.npz").write_text(table)  # a CSV with the wrong name
    return tmp_path


def _tune(files: Path, *args: str) -> list[str]:
    return ["tune", f"{files}/obj.py:f", "--space", f"{files}/space.yaml", "--quiet", "--trials", "2", *args]


# (id, argv built from the files folder F, expected text). F is the fixture's folder.
CLI_CASES = [
    ("--trials 0", lambda F: _tune(F, "--trials", "0", "--out", f"{F}/r"), "search.trials"),
    (
        "--jobs 0",
        lambda F: _tune(F, "--jobs", "0", "--out", f"{F}/r"),
        "search.jobs: expected an integer >= 1",
    ),
    ("--jobs above cores", lambda F: _tune(F, "--jobs", "100000", "--out", f"{F}/r"), "CPU cores"),
    ("--space missing", lambda F: ["tune", f"{F}/obj.py:f", "--space", f"{F}/nope.yaml"], "--space: "),
    (
        "--space key typo",
        lambda F: ["tune", f"{F}/obj.py:f", "--space", f"{F}/hihg.yaml", "--out", f"{F}/r"],
        "'hihg'",
    ),
    ("--out is a file", lambda F: _tune(F, "--out", f"{F}/a_file"), "--out: "),
    ("--out under a file", lambda F: _tune(F, "--out", f"{F}/a_file/run"), "is a file, not a folder"),
    ("target file missing", lambda F: ["tune", f"{F}/nope.py:f", "--trials", "1"], "target: "),
    ("target without function", lambda F: ["tune", f"{F}/obj.py", "--trials", "1"], "target: expected"),
    ("target function missing", lambda F: ["tune", f"{F}/obj.py:g", "--trials", "1"], "has no function 'g'"),
    ("target syntax error", lambda F: ["tune", f"{F}/syntax.py:f", "--trials", "1"], "syntax error"),
    ("target raises at import", lambda F: ["tune", f"{F}/raises.py:f", "--trials", "1"], "broken at import"),
    (
        "unknown strategy flag",
        lambda F: _tune(F, "--strategy", "tpee", "--out", f"{F}/r"),
        "unknown strategy",
    ),
    (
        "unknown scheduler flag",
        lambda F: _tune(F, "--scheduler", "ashaa", "--out", f"{F}/r"),
        "unknown scheduler",
    ),
    ("bad direction flag", lambda F: _tune(F, "--direction", "down", "--out", f"{F}/r"), "direction"),
    ("bad constraint flag", lambda F: _tune(F, "--constraint", "x < 1", "--out", f"{F}/r"), "constraints[0]"),
    ("spec file missing", lambda F: ["tune", f"{F}/nope.yaml"], "spec file: "),
    ("spec file is a folder", lambda F: ["tune", f"{F}/a_folder.yaml"], "is a folder, expected a file"),
    ("spec not YAML", lambda F: ["tune", f"{F}/notyaml.yaml"], "not valid YAML"),
    ("spec is a list", lambda F: ["tune", f"{F}/list.yaml"], "expected a mapping"),
    (
        "run --workers vs --jobs",
        lambda F: ["run", f"{F}/list.yaml", "--workers", "2", "--jobs", "3"],
        "--workers",
    ),
    (
        "mysql URL without driver",
        lambda F: _tune(F, "--storage", "mysql://u:p@localhost:1/db", "--out", f"{F}/r"),
        "mysql+pymysql",
    ),
    (
        "unknown URL scheme",
        lambda F: _tune(F, "--storage", "foo://u@h/db", "--out", f"{F}/r"),
        "unknown kind",
    ),
    (
        "sqlite folder missing",
        lambda F: _tune(F, "--storage", f"{F}/nope/s.db", "--out", f"{F}/r"),
        "does not exist",
    ),
    ("show a file", lambda F: ["show", f"{F}/a_file"], "run directory: "),
    ("show a missing folder", lambda F: ["show", f"{F}/nope"], "does not exist"),
    ("list unknown kind", lambda F: ["list", "widgets"], "unknown kind 'widgets'"),
    ("serve --port 70000", lambda F: ["serve", f"{F}/nope", "--port", "70000"], "port: expected a TCP port"),
    ("serve --port -1", lambda F: ["serve", f"{F}/nope", "--port", "-1"], "got -1"),
    (
        "serve --max-batch 0",
        lambda F: ["serve", f"{F}/nope", "--max-batch", "0"],
        "max_batch: expected a positive",
    ),
    ("serve missing model dir", lambda F: ["serve", f"{F}/nope"], "nope"),
    ("search without nas:", lambda F: ["search", f"{F}/spec_ok.yaml"], "nas: "),
]


@pytest.mark.parametrize("case_id, argv, expected", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_cli_input(files, case_id, argv, expected):
    (files / "spec_ok.yaml").write_text(yaml.safe_dump(TINY))
    res = runner.invoke(app, argv(files))
    _one_error_line(res, expected)


def test_a_search_whose_trials_all_fail_exits_1_with_the_first_reason(files):
    argv = ["tune", f"{files}/obj.py:boom", "--space", f"{files}/space.yaml", "--trials", "3", "--quiet"]
    res = runner.invoke(app, [*argv, "--out", f"{files}/r"])
    line = _one_error_line(res, "no trial completed (3 failed")
    assert res.exit_code == 1 and "trial 0: ValueError: boom at x=" in line
    assert f"autoopt show {files}/r --trial 0" in line
    shown = runner.invoke(app, ["show", f"{files}/r", "--trial", "0"])
    assert shown.exit_code == 0 and "Traceback" in shown.output  # the traceback is one command away
    bad = runner.invoke(app, ["show", f"{files}/r", "--trial", "9"])
    _one_error_line(bad, "--trial: study 'boom' has trials 0..2, got 9")


def test_the_first_n_failures_stop_is_one_line(files):
    argv = ["tune", f"{files}/obj.py:boom", "--space", f"{files}/space.yaml", "--trials", "20", "--quiet"]
    res = runner.invoke(app, [*argv, "--out", f"{files}/r"])
    _one_error_line(res, "the first 5 trials all failed; stopping the search. The first failure, trial 0:")


# Data files: refused when the data is loaded, still before any training.
def _data_spec(tmp_path: Path, data: dict) -> Path:
    spec = {**TINY, "model": {"name": "mlp"}, "data": data}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize(
    "case_id, data, expected",
    [
        ("csv file missing", {"name": "csv", "path": "{F}/nope.csv", "target": "label"}, "data.path"),
        (
            "csv target typo",
            {"name": "csv", "path": "{F}/t.csv", "target": "labl"},
            "data.target: column 'labl'",
        ),
        (
            "csv given as npz",
            {"name": "npz", "path": "{F}/t.npz"},
            "is not an .npz archive (it looks like a text",
        ),
        ("IDX folder missing", {"name": "fashion-mnist", "path": "{F}/nope"}, "data.path"),
        ("IDX compressed with xz", {"name": "fashion-mnist", "path": "{F}/fx"}, "compressed with xz"),
    ],
)
def test_bad_data_file(files, case_id, data, expected):
    if case_id == "IDX compressed with xz":
        if not DATA.is_dir():
            pytest.skip("Fashion-MNIST test files not available")
        (files / "fx").mkdir()
        shutil.copy(DATA / "t10k-labels-idx1-ubyte.gz", files / "fx")
        labels = gzip.decompress((DATA / "t10k-labels-idx1-ubyte.gz").read_bytes())
        (files / "fx" / "t10k-labels-idx1-ubyte.gz").unlink()
        (files / "fx" / "t10k-labels-idx1-ubyte").write_bytes(labels)
        (files / "fx" / "t10k-images-idx3-ubyte.xz").write_bytes(lzma.compress(b"\0" * 16, preset=0))
    data = {k: v.replace("{F}", str(files)) if isinstance(v, str) else v for k, v in data.items()}
    res = runner.invoke(app, ["tune", str(_data_spec(files, data)), "--out", f"{files}/r", "--quiet"])
    _one_error_line(res, expected)


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled!",))


@pytest.mark.parametrize("command", ["tune", "run"])
def test_a_refused_pickle_in_transfer_fails_the_search_not_silently(tmp_path, command):
    """Every trial fails loading the checkpoint (weights_only refuses it): `tune` and the search stage of
    `run` exit 1 naming the reason, and nothing after the search runs."""
    import torch

    torch.save({"w": _Evil()}, tmp_path / "evil.pt")
    spec = {**TINY, "transfer": {"checkpoint": str(tmp_path / "evil.pt")}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    res = runner.invoke(app, [command, str(path), "--out", str(tmp_path / "r"), "--quiet"])
    line = _one_error_line(res, "no trial completed (2 failed")
    assert res.exit_code == 1 and "CheckpointError" in line and "refused to load" in line
    assert "unpickled!" not in res.output and not (tmp_path / "r" / "final").exists()
