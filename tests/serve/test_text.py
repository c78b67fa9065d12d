"""Text end to end: a local hf: checkpoint made in the test is tuned (2 trials), exported and served
by a real server that tokenizes raw strings; malformed requests get 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import yaml

from autoopt.exceptions import InvalidSpecError
from autoopt.serve._text import check_texts
from autoopt.serve._validate import InputError
from autoopt.testing.text import make_hf_checkpoint, write_text_csv

from .conftest import Server, start_server

MAX_LENGTH = 12
pytestmark = pytest.mark.slow  # one tuned run (2 trials) and a real server for the module


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from autoopt.pipeline import run_spec

    tmp = tmp_path_factory.mktemp("text-run")
    ckpt = make_hf_checkpoint(tmp / "ckpt", num_labels=2)
    write_text_csv(tmp / "t.csv")
    spec = {
        "name": "hf_text",
        "seed": 0,
        "threads": 1,
        "data": {
            "name": "text-csv",
            "path": str(tmp / "t.csv"),
            "target": "label",
            "tokenizer": {"kind": f"hf:{ckpt}", "max_length": MAX_LENGTH},
        },  # fmt: skip
        "model": {"name": f"hf:{ckpt}"},
        "training": {"epochs": 3, "batch_size": 16, "device": "cpu"},
        "search": {
            "strategy": "random",
            "scheduler": "none",
            "trials": 2,
            "space": {"training.lr": {"type": "float", "low": 1e-3, "high": 3e-3, "log": True}},
        },  # fmt: skip
    }
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    run_spec(tmp / "spec.yaml", out=tmp / "run")
    return tmp / "run"


@pytest.fixture(scope="module")
def text_server(text_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(text_run / "final", tmp_path_factory.mktemp("srv") / "server.log", "--max-batch", "4")
    yield srv
    srv.stop()


def test_tuned_two_trials_and_exported_with_its_tokenizer(text_run: Path) -> None:
    import optuna

    study = optuna.load_study(study_name="hf_text", storage=f"sqlite:///{text_run / 'study.db'}")
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 2
    final = text_run / "final"
    card = json.loads((final / "model.json").read_text())
    assert card["task"] == "text"
    assert card["input"]["dtype"] == "int64" and card["input"]["shape"] == [None, MAX_LENGTH]
    assert card["files"]["tokenizer"] == "tokenizer.json" and (final / "tokenizer.json").is_file()
    assert card["preprocessing"]["tokenizer"] == "tokenizer.json"
    assert card["preprocessing"]["max_length"] == MAX_LENGTH
    assert card["class_names"] == ["animal", "fruit", "tool"]
    sess = ort.InferenceSession(str(final / "model.onnx"), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].type == "tensor(int64)"


def test_string_requests_are_tokenized_on_the_server(text_server: Server) -> None:
    with text_server.client() as c:
        r = c.post("/predict/text", json={"texts": ["the apple and a mango", "hammer with saw"]})
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        assert len(preds) == 2
        for p in preds:
            assert p["label"] in ("animal", "fruit", "tool") and len(p["probabilities"]) == 3
            assert abs(sum(p["probabilities"]) - 1) < 1e-6
        one = c.post("/predict/text", content="a heron", headers={"Content-Type": "text/plain"})
        assert one.status_code == 200 and len(one.json()["predictions"]) == 1


def test_the_server_tokenizes_as_training_did(text_run: Path, text_server: Server) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(text_run / "final" / "tokenizer.json"))
    ids = tok.encode("the apple and a mango").ids
    assert len(ids) == MAX_LENGTH and ids[0] != 0 and ids[-1] == 0
    with text_server.client() as c:
        by_text = c.post("/predict/text", json={"texts": ["the apple and a mango"]}).json()
        by_ids = c.post("/predict", json={"inputs": [ids]}).json()
    np.testing.assert_allclose(
        by_text["predictions"][0]["probabilities"], by_ids["predictions"][0]["probabilities"], rtol=1e-6
    )


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (
            '{"texts": ["ok", 3]}',
            {"Content-Type": "application/json"},
            422,
            "texts[1]: expected a string, got int",
        ),
        (
            '{"texts": []}',
            {"Content-Type": "application/json"},
            422,
            "texts: expected a non-empty list of strings",
        ),
        (
            '{"text": ["a"]}',
            {"Content-Type": "application/json"},
            422,
            'body: expected {"texts": ["...", ...]}',
        ),
        ('{"texts": ["a","b","c","d","e"]}', {"Content-Type": "application/json"}, 422, "at most 4 texts"),
        ('{"texts": ["a"', {"Content-Type": "application/json"}, 400, "body: expected valid JSON"),
        ("a", {"Content-Type": "image/png"}, 415, "expected application/json or text/plain, got image/png"),
    ],
)
def test_malformed_requests_get_4xx(
    text_server: Server, body: str, headers: dict, status: int, message: str
) -> None:
    with text_server.client() as c:
        r = c.post("/predict/text", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


def test_check_texts_reports_every_bad_item() -> None:
    with pytest.raises(InputError) as e:
        check_texts({"texts": [1, "ok", None]}, max_batch=8)
    assert e.value.errors == [
        "texts[0]: expected a string, got int",
        "texts[2]: expected a string, got NoneType",
    ]
    with pytest.raises(InputError, match=r"body.extra: unknown field; expected only 'texts'"):
        check_texts({"texts": ["a"], "extra": 1}, max_batch=8)


def test_a_tokenizer_of_another_length_is_refused(text_run: Path, tmp_path: Path) -> None:
    import shutil

    from autoopt.serve import create_app

    d = tmp_path / "m"
    shutil.copytree(text_run / "final", d)
    tok = json.loads((d / "tokenizer.json").read_text())
    tok["padding"]["strategy"] = {"Fixed": MAX_LENGTH + 4}
    tok["truncation"]["max_length"] = MAX_LENGTH + 4
    (d / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(
        InvalidSpecError, match=rf"tokenizer pads to {MAX_LENGTH + 4} ids, but the model takes"
    ):
        create_app(d)
