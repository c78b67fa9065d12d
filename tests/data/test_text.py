"""Text sources: a generated CSV/JSONL, the tokenizer learned on train only, int64 ids padded with 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from autoopt.data import TokenizerConfig, learn_tokenizer, load_data
from autoopt.exceptions import DataError, InvalidSpecError
from autoopt.testing.text import make_text_rows as make_rows


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    import csv

    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["body", "label"])
        w.writerows(rows)
    return path


@pytest.fixture
def text_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "texts.csv", make_rows())


def spec(path: Path, **over: object) -> dict:
    base = {"name": "text-csv", "path": str(path), "text": "body", "target": "label"}
    base["tokenizer"] = {"vocab_size": 80, "max_length": 12}
    return base | over


def test_text_csv_gives_int64_ids_padded_with_zero(text_csv: Path) -> None:
    b = load_data(spec(text_csv))
    x, y = b.train[0]
    assert x.dtype == torch.int64 and y.dtype == torch.int64
    assert b.meta.input_shape == (12,)
    assert b.meta.class_names == ["animal", "fruit", "tool"]
    assert b.meta.task == "text" and b.meta.kind.has_classes and b.meta.kind.input_dtype == torch.int64
    assert (b.train.x[:, 0] == 2).all()  # [CLS]
    assert (b.train.x == 0).any()  # padding: 6 words + [CLS] [SEP] < 12
    tok = b.meta.extra["tokenizer"]
    assert tok["kind"] == "wordpiece" and tok["max_length"] == 12 and tok["vocab_size"] <= 80
    assert isinstance(b.meta.extra["tokenizer_json"], str)
    assert len(b.train) + len(b.val) + len(b.test) == 120


def test_tokenizer_is_deterministic_and_learned_from_the_text(text_csv: Path, tmp_path: Path) -> None:
    a, b = load_data(spec(text_csv)), load_data(spec(text_csv))
    assert a.meta.extra["tokenizer_json"] == b.meta.extra["tokenizer_json"]
    assert torch.equal(a.train.x, b.train.x)
    # A frequent word enters the vocabulary whole; a word never seen is encoded by pieces or [UNK].
    rows = make_rows()
    rows = [(t + " zyzzyva", c) for t, c in rows]  # in every row: so in train too
    other = load_data(spec(write_csv(tmp_path / "b.csv", rows)))
    assert "zyzzyva" in json.loads(other.meta.extra["tokenizer_json"])["model"]["vocab"]
    tok = learn_tokenizer(["the apple"] * 5, TokenizerConfig(vocab_size=64, max_length=8))
    assert "zyzzyva" not in tok.get_vocab()
    ids = tok.encode("zyzzyva").ids
    assert ids[0] == 2 and 1 in ids  # unknown characters -> [UNK]


def test_truncation_and_jsonl(tmp_path: Path) -> None:
    rows = [{"t": " ".join(["apple"] * 50), "c": "a"}, {"t": "saw", "c": "b"}] * 10
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    b = load_data({"name": "text-jsonl", "path": str(path), "text": "t", "target": "c",
                   "tokenizer": {"vocab_size": 64, "max_length": 6}})  # fmt: skip
    long_rows = b.train.x[b.train.y == 0]
    assert b.train.x.shape[1] == 6 and (long_rows[:, -1] == 3).all()  # cut, [SEP] kept last


def test_bad_input_names_the_key(text_csv: Path) -> None:
    with pytest.raises(
        DataError, match=r"data.text: column 'nope' not found; texts.csv has columns: body, label"
    ):
        load_data(spec(text_csv, text="nope"))
    with pytest.raises(InvalidSpecError, match=r"data.tokenizer: applies to text sources only"):
        load_data({"name": "digits", "tokenizer": {"vocab_size": 100}})
    with pytest.raises(
        InvalidSpecError, match=r"data.tokenizer.kind: .*expected 'wordpiece', 'bpe' or 'hf:<local dir>'"
    ):
        load_data(spec(text_csv, tokenizer={"kind": "sentencepiece"}))
    with pytest.raises(DataError, match=r"neither tokenizer.json nor vocab.txt"):
        load_data(spec(text_csv, tokenizer={"kind": f"hf:{text_csv.parent}"}))


def test_hf_vocab_txt_directory(text_csv: Path, tmp_path: Path) -> None:
    d = tmp_path / "tok"
    d.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "apple", "saw", "the", "##s"]
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n")
    b = load_data(spec(text_csv, tokenizer={"kind": f"hf:{d}", "max_length": 10}))
    assert b.meta.extra["tokenizer"]["vocab_size"] == len(vocab)
    assert int(b.train.x.max()) < len(vocab)
    (d / "vocab.txt").write_text("\n".join(["[UNK]", "[PAD]", "[CLS]", "[SEP]"]) + "\n")
    with pytest.raises(DataError, match=r"padding token '\[PAD\]' with id 0, got '\[PAD\]' = 1"):
        load_data(spec(text_csv, tokenizer={"kind": f"hf:{d}"}))


def test_bpe_is_cached_so_stages_agree(
    text_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOOPT_CACHE", str(tmp_path / "cache"))
    a = load_data(spec(text_csv, tokenizer={"kind": "bpe", "vocab_size": 80, "max_length": 12}))
    assert len(list((tmp_path / "cache" / "tokenizers").glob("bpe-*.json"))) == 1
    b = load_data(spec(text_csv, tokenizer={"kind": "bpe", "vocab_size": 80, "max_length": 12}))
    assert torch.equal(a.train.x, b.train.x)
